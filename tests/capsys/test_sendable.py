"""THE table: its run-time and static forms agree type by type."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import sys
import typing
from typing import Any, NamedTuple, NewType, TypeVar

import pytest

import capsys
from capsys import Iso, MovedError, NotSendableError, Ref, Tag, Val, iso, message
from capsys.names import CAPSYS_NAMES
from capsys.sendable import (
    KNOWN_TYPES,
    RUNTIME_KINDS,
    SHARED_TYPES,
    STATIC_KINDS,
    KnownType,
    PayloadKind,
    Shape,
    ShapeKind,
    TypeKind,
    check_sendable,
    check_value,
    payload_kind,
    prepare_payload,
    shape_of_annotation,
    static_problem,
)


def _resolve(fullname: str) -> Any:
    module, _, name = fullname.rpartition(".")
    if fullname == "builtins.None":
        return type(None)
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("row", KNOWN_TYPES, ids=lambda r: r.fullname)
def test_static_name_resolves_to_the_runtime_class(row: KnownType) -> None:
    assert _resolve(row.fullname) is row.runtime
    assert STATIC_KINDS[row.fullname] is row.kind


@pytest.mark.parametrize("row", KNOWN_TYPES, ids=lambda r: r.fullname)
def test_both_forms_agree_on_every_known_type(row: KnownType) -> None:
    static_ok = static_problem(Shape(ShapeKind.CLASS, row.fullname, (Shape(ShapeKind.NONE),)))
    runtime_kind = payload_kind(type(row.example))
    assert static_ok is None
    expected = PayloadKind.SHARE if row.kind is TypeKind.ATOM else PayloadKind.WALK
    assert runtime_kind is expected
    assert RUNTIME_KINDS[row.runtime] is expected
    # The annotation front end reaches the same verdict from the class itself.
    assert (
        static_problem(
            shape_of_annotation(row.runtime if row.kind is TypeKind.ATOM else row.runtime[int])
        )
        is None
    )  # type: ignore[index]
    check_sendable(row.example)


class Color(enum.Enum):
    RED = 1


class Pair(NamedTuple):
    a: int
    b: str


class BadPair(NamedTuple):
    a: list[int]


@dataclasses.dataclass(frozen=True)
class FrozenOk:
    a: tuple[int, ...]


@dataclasses.dataclass
class NotFrozen:
    a: int


class Plain:
    pass


@message
class Msg:
    a: int


UserId = NewType("UserId", int)
T_ok = typing.TypeVar("T_ok", bound=str)
T_any = typing.TypeVar("T_any")
T_cons = typing.TypeVar("T_cons", int, list[int])


# (annotation, a value of it or None when none is meaningful, sendable?)
CASES: list[tuple[Any, Any, bool]] = [
    (Color, Color.RED, True),
    (Pair, Pair(1, "a"), True),
    (BadPair, BadPair([1]), False),
    (FrozenOk, FrozenOk((1,)), True),
    (NotFrozen, NotFrozen(1), False),
    (Plain, Plain(), False),
    (Msg, Msg(1), True),
    (list[int], [1], False),
    (dict[str, int], {"a": 1}, False),
    (set[int], {1}, False),
    (bytearray, bytearray(), False),
    (memoryview, memoryview(b""), False),
    (object, object(), False),
    (typing.Callable[[], None], lambda: None, False),
    (Iso[list[int]], None, True),
    (Tag[Any], None, True),
]


@pytest.mark.parametrize(("annotation", "value", "ok"), CASES, ids=lambda c: repr(c)[:30])
def test_static_verdict_matches_runtime_verdict(annotation: Any, value: Any, ok: bool) -> None:
    problem = static_problem(shape_of_annotation(annotation))
    assert (problem is None) is ok
    if value is not None:
        assert (payload_kind(type(value)) is not PayloadKind.NOT_SENDABLE) is ok


@pytest.mark.parametrize(
    ("annotation", "ok", "is_any"),
    [
        (tuple[int, ...], True, False),
        (tuple[int, list[int]], False, False),
        (frozenset[str], True, False),
        (int | None, True, False),
        (typing.Optional[list[int]], False, False),  # noqa: UP045
        (typing.Literal["a", 1], True, False),
        (UserId, True, False),
        (T_ok, True, False),
        (T_any, False, False),
        (T_cons, False, False),
        (Val[tuple[int, ...]], True, False),
        (Val[list[int]], False, False),
        (Ref[int], False, False),
        (Any, False, True),
        (tuple, False, True),
        (tuple[Any, ...], False, True),
        (typing.Sequence[int], False, False),
        (typing.Mapping[str, int], False, False),
        (typing.Iterable[int], False, False),
        (type[int], False, False),
        (tuple[Iso[list[int]], Tag[Any]], True, False),
    ],
    ids=repr,
)
def test_static_rules(annotation: Any, ok: bool, is_any: bool) -> None:
    problem = static_problem(shape_of_annotation(annotation))
    assert (problem is None) is ok
    if problem is not None:
        assert problem.is_any is is_any


def test_immutable_is_stricter_than_sendable() -> None:
    shape = shape_of_annotation(tuple[Iso[list[int]], int])
    assert static_problem(shape) is None
    problem = static_problem(shape, immutable=True)
    assert problem is not None and problem.where == "[0]"


def test_problem_points_inside_nested_types() -> None:
    problem = static_problem(shape_of_annotation(tuple[int, BadPair]))
    assert problem is not None
    assert problem.where == "[1].a"
    assert problem.type_text == "list[int]"


def test_recursive_record_types_terminate() -> None:
    @dataclasses.dataclass(frozen=True)
    class Tree:
        children: tuple[Tree, ...]
        label: str

    assert static_problem(shape_of_annotation(Tree)) is None


def test_shallow_check_is_a_cached_type_lookup() -> None:
    class Fresh(NamedTuple):
        x: int

    assert Fresh not in RUNTIME_KINDS
    assert payload_kind(Fresh) is PayloadKind.WALK
    assert RUNTIME_KINDS[Fresh] is PayloadKind.WALK


def test_shared_types_are_exactly_the_share_kinds_as_new_classes_arrive() -> None:
    class Colour(enum.Enum):
        RED = 1

    class Point(NamedTuple):
        x: int

    def shared() -> set[type]:
        return {cls for cls, kind in RUNTIME_KINDS.items() if kind is PayloadKind.SHARE}

    assert shared() == SHARED_TYPES
    assert int in SHARED_TYPES and list not in SHARED_TYPES
    assert Colour not in SHARED_TYPES
    assert payload_kind(Colour) is PayloadKind.SHARE
    assert payload_kind(Point) is PayloadKind.WALK
    assert Colour in SHARED_TYPES and Point not in SHARED_TYPES
    assert shared() == SHARED_TYPES


def test_shallow_check_trusts_types_deep_check_walks_values() -> None:
    sneaky = (1, [2])
    assert prepare_payload("S.b", (sneaky,), {}) == ((sneaky,), {})
    with pytest.raises(
        NotSendableError,
        match=r"^\[1\] in argument 1 of S\.b is a list, which cannot cross an agent boundary: .*\(CAP001\)$",
    ):
        prepare_payload("S.b", (sneaky,), {}, deep=True)
    with pytest.raises(NotSendableError, match=r"\[1\] in argument 'items' of S\.b is a list"):
        prepare_payload("S.b", (), {"items": sneaky}, deep=True)


def test_not_sendable_argument_is_named() -> None:
    with pytest.raises(NotSendableError, match=r"argument 2 of Book\.add is a list.*CAP001"):
        prepare_payload("Book.add", (1, [1]), {})
    with pytest.raises(NotSendableError, match=r"argument 'order' of Book\.add is a dict"):
        prepare_payload("Book.add", (), {"order": {}})


def test_check_value_moves_a_reply_iso_and_refuses_mutables() -> None:
    h = iso([1])
    out = check_value(h, "reply of A.b")
    assert isinstance(out, Iso) and out is not h
    with pytest.raises(NotSendableError, match=r"reply of A\.b is a set"):
        check_value({1}, "reply of A.b")


@message
class Batch:
    items: Iso[list[int]]
    n: int


@message
class Flat:
    n: int
    names: tuple[str, ...]


class Pair(NamedTuple):
    h: Iso[list[int]]
    k: int


def test_an_iso_inside_a_tuple_or_record_is_moved_too() -> None:
    for make, get in (
        (lambda h: (h, 1), lambda v: v[0]),
        (lambda h: Batch(h, 1), lambda v: v.items),
        (lambda h: Pair(h, 1), lambda v: v.h),
        (lambda h: ((1, (h,)),), lambda v: v[0][1][0]),
        (lambda h: frozenset({h}), lambda v: next(iter(v))),
    ):
        h = iso([1, 2])
        sent = make(h)
        (out,), _ = prepare_payload("S.b", (sent,), {})
        assert type(out) is type(sent) and out is not sent
        assert get(out).take() == [1, 2]  # the receiver's fresh handle
        with pytest.raises(MovedError, match=r"moved by S\.b"):
            get(sent).take()  # the sender's handle, still inside its own value, is dead
    h = iso([3])
    _, kw = prepare_payload("S.b", (), {"batch": Batch(h, 2)})
    assert kw["batch"].items.take() == [3] and kw["batch"].n == 2
    assert check_value((iso([4]), 5), "reply of S.b")[0].take() == [4]  # type: ignore[index]


def test_a_moved_handle_inside_a_value_refuses_the_whole_send() -> None:
    live, dead = iso([1]), iso([2])
    prepare_payload("S.b", (dead,), {})
    with pytest.raises(MovedError, match="tried to send it inside another value"):
        prepare_payload("S.b", ((live, dead),), {})
    assert live.take() == [1]  # nothing was moved: the send is all or nothing
    with pytest.raises(MovedError, match=r"moved by S\.b .*tried to send it as argument 1"):
        prepare_payload("S.b", (dead,), {})


def test_one_handle_twice_in_one_send_is_refused_before_anything_moves() -> None:
    h = iso([1])
    for args, kwargs in (((h, h), {}), (((h, 1), h), {}), ((h,), {"b": h})):
        with pytest.raises(MovedError, match=r"same Iso handle is passed twice to S\.b"):
            prepare_payload("S.b", args, kwargs)
    with pytest.raises(MovedError, match="passed twice"):
        check_value((h, (h,)), "reply of S.b")
    assert h.take() == [1]  # still the caller's


GT = TypeVar("GT")


@dataclasses.dataclass(frozen=True)
class GenericBox(typing.Generic[GT]):
    item: GT
    label: str = ""


@dataclasses.dataclass(frozen=True)
class GenericBad(typing.Generic[GT]):
    item: GT
    log: list[int]


def test_a_generic_record_is_checked_by_the_values_its_type_variables_stand_for() -> None:
    # As a tuple's items: the class leaves them open, the values say. Box(1) is sent as a
    # Box[int] is to the checkers; the deep check refuses a mutable value inside.
    values: list[object] = [GenericBox(1)]
    if sys.version_info >= (3, 11):  # a generic NamedTuple needs 3.11

        class GenericPair(NamedTuple, typing.Generic[GT]):
            left: GT
            right: tuple[GT, ...]

        values.append(GenericPair("a", ("b",)))
    for value in values:
        assert prepare_payload("S.b", (value,), {}) == ((value,), {})
    check_sendable(GenericBox((1, "a")))
    with pytest.raises(NotSendableError, match=r"\.item is a list"):
        check_sendable(GenericBox([1]))
    with pytest.raises(NotSendableError, match="GenericBad"):
        prepare_payload("S.b", (GenericBad(1, []),), {})  # a declared mutable field
    h = iso([1])
    (out,), _ = prepare_payload("S.b", (GenericBox(h),), {})  # an Iso inside moves
    assert out.item.take() == [1]
    with pytest.raises(MovedError):
        h.take()


def test_a_generic_record_given_its_arguments_has_fields_of_those_types() -> None:
    # Box[int] holds an int; Box[Box[list[int]]] meets GenericBox twice, the inner one
    # with a list in it (the recursion guard keys on the type with its arguments).
    assert static_problem(shape_of_annotation(GenericBox[int])) is None
    assert static_problem(shape_of_annotation(GenericBox[GenericBox[int]])) is None
    nested = static_problem(shape_of_annotation(GenericBox[GenericBox[list[int]]]))
    assert nested is not None
    assert (nested.where, nested.type_text) == (".item.item", "list[int]")
    bare = static_problem(shape_of_annotation(GenericBox))  # no arguments: T is open
    assert bare is not None and bare.type_text == "GT"

    @message
    class Holder:  # a message field of a generic record given sendable arguments
        box: GenericBox[int]
        boxes: tuple[GenericBox[str], ...]

    assert Holder(GenericBox(1), ()).box.item == 1
    with pytest.raises(NotSendableError, match=r"field 'box'.*list\[int\] at \.item"):

        @message
        class Leaky:
            box: GenericBox[list[int]]


def test_a_subclass_of_a_value_type_is_not_sendable() -> None:
    class Pair(tuple[int, int]):
        pass

    with pytest.raises(NotSendableError, match="Pair"):
        prepare_payload("S.b", (Pair((1, 2)),), {})


def test_values_that_cannot_hold_an_iso_are_passed_as_they_are() -> None:
    flat = Flat(1, ("a", "b"))
    pair = (1, "two", None)
    (a, b), _ = prepare_payload("S.b", (flat, pair), {})
    assert a is flat and b is pair


@pytest.mark.parametrize("short", sorted(CAPSYS_NAMES))
def test_checker_names_are_where_the_dsl_defines_them(short: str) -> None:
    module, _, name = CAPSYS_NAMES[short].rpartition(".")
    assert getattr(importlib.import_module(module), name) is getattr(capsys, short)


def test_a_channel_is_shared_by_reference_but_is_never_a_val() -> None:
    from runtime import Channel, channel

    shape = Shape(ShapeKind.CLASS, "runtime.primitives.channel.Channel", (Shape(ShapeKind.ANY),))
    assert static_problem(shape) is None
    assert static_problem(shape, immutable=True) is not None
    ch: Channel[int] = channel(1)
    assert payload_kind(Channel) is PayloadKind.SHARE
    assert prepare_payload("S.b", (ch,), {}) == ((ch,), {})


def test_variadic_tuples_and_bounds_read_as_written() -> None:
    many = shape_of_annotation(tuple[list[int], ...])
    assert many.display() == "tuple[list[int], ...]"
    problem = static_problem(many)
    assert problem is not None and problem.where == "[...]"
    assert shape_of_annotation(tuple[int, list[int]]).display() == "tuple[int, list[int]]"
    bounded = static_problem(shape_of_annotation(TypeVar("L", bound=list[int])))
    assert bounded is not None
    assert bounded.reason.startswith("it may be list[int], which is not sendable: ")


def _counted_record(name: str, fields: list[tuple[str, Shape]], calls: list[str]) -> Shape:
    def expand() -> list[tuple[str, Shape]]:
        calls.append(name)
        return fields

    return Shape(ShapeKind.CLASS, name, fields=expand)


def test_a_chain_of_records_is_judged_once_per_record() -> None:
    # M_k holds two M_{k-1}: judged path by path that is 2**40 expansions (the mypy
    # plugin hung on such a chain); each record is judged once per walk.
    calls: list[str] = []
    prev = Shape(ShapeKind.CLASS, "builtins.int")
    for k in range(40):
        prev = _counted_record(f"m.M{k}", [("a", prev), ("b", prev)], calls)
    assert static_problem(prev) is None
    assert len(calls) == 40
    calls.clear()
    bad = _counted_record("m.Bad", [("rows", Shape(ShapeKind.CLASS, "builtins.list"))], calls)
    top = _counted_record("m.Top", [("x", prev), ("y", bad)], calls)
    problem = static_problem(top)
    assert problem is not None and problem.where == ".y.rows"


def test_a_record_nesting_its_own_parameter_deeper_stops() -> None:
    # G[U] holding an Optional[G[tuple[U, U]]]: the type doubles at each level (the mypy
    # plugin hung on it); one class recurring a few times on a path is accepted.
    calls: list[str] = []

    def g(arg: Shape) -> Shape:
        def expand() -> list[tuple[str, Shape]]:
            calls.append(arg.display())
            pair = Shape(ShapeKind.CLASS, "builtins.tuple", (arg, arg))
            return [("x", arg), ("nxt", g(pair))]

        return Shape(ShapeKind.CLASS, "m.G", (arg,), fields=expand)

    assert static_problem(g(Shape(ShapeKind.CLASS, "builtins.int"))) is None
    assert len(calls) <= 3


@dataclasses.dataclass(frozen=True)
class _FrozenPoint:
    x: int


class _PlainSubclass(_FrozenPoint):
    pass


@dataclasses.dataclass(frozen=True)
class _FrozenSubclass(_FrozenPoint):
    y: int


class _Pair(NamedTuple):
    a: int


class _PairSubclass(_Pair):
    __slots__ = ()


def test_a_plain_subclass_of_a_frozen_record_is_not_immutable() -> None:
    # It takes new attributes (the frozen __setattr__ guards its own class only), so a
    # sender could keep mutating what it sent; mypy and the linter refuse it too.
    sneaky = _PlainSubclass(1)
    sneaky.hidden = [1]  # type: ignore[attr-defined]
    for value in (sneaky, _PairSubclass(1)):
        with pytest.raises(NotSendableError, match="CAP004"):
            capsys.val(value)
        for deep in (False, True):  # the shallow check of a send, and debug mode's
            with pytest.raises(NotSendableError, match="CAP001"):
                check_value(value, "argument 1", deep=deep)
    with pytest.raises(NotSendableError, match=r"field 'p' has type _PlainSubclass.*CAP003"):

        @message
        class Carrier:
            p: _PlainSubclass

    assert capsys.val(_FrozenSubclass(1, 2)) == _FrozenSubclass(1, 2)
    assert capsys.val(_Pair(1)) == _Pair(1)
