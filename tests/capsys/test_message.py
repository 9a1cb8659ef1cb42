"""@message: frozen, slotted dataclasses whose fields must all be sendable."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import re
from typing import Any, Final, Generic, NamedTuple, TypeVar

import pytest

from capsys import Iso, NotSendableError, Ref, Tag, Val, iso, message, val
from capsys.errors import CapabilityUsageError
from capsys.sendable import check_sendable
from tests.capsys import messages_future as fut


class Side(enum.Enum):
    BUY = "buy"


class Pair(NamedTuple):
    a: int
    b: str


@message
class Order:
    symbol: str
    qty: int
    side: Side = Side.BUY


def test_message_is_a_frozen_slotted_dataclass() -> None:
    o = Order("AAPL", 10)
    assert dataclasses.is_dataclass(o)
    assert not hasattr(o, "__dict__")
    assert Order.__slots__ == ("symbol", "qty", "side")
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.qty = 3  # type: ignore[misc]
    assert o == Order("AAPL", 10) and hash(o) == hash(Order("AAPL", 10))


@pytest.mark.parametrize(
    ("annotation", "shown"),
    [
        (list[int], "list[int]"),
        (dict[str, int], "dict[str, int]"),
        (set[str], "set[str]"),
        (bytearray, "bytearray"),
        (tuple[int, list[str]], "tuple[int, list[str]]"),
        (Any, "Any"),
        (object, "object"),
        (Ref[int], "Ref[int]"),
        (Val[list[int]], "Val[list[int]]"),
        (int | list[int], "int | list[int]"),
        (tuple, "tuple"),
    ],
)
def test_a_field_that_is_not_sendable_is_named_with_its_type(annotation: Any, shown: str) -> None:
    with pytest.raises(
        NotSendableError, match=re.escape(f"@message Bad: field 'items' has type {shown},")
    ):
        message(type("Bad", (), {"__annotations__": {"items": annotation}}))


def test_error_explains_what_to_use_instead() -> None:
    with pytest.raises(
        NotSendableError, match=r"use tuple\[\.\.\.\].*Iso\[list\[\.\.\.\]\].*CAP003"
    ):

        @message
        class Bad:
            items: list[int]


def test_callable_and_agent_fields_are_refused() -> None:
    from collections.abc import Callable

    from capsys import Agent

    class Worker(Agent):
        pass

    with pytest.raises(NotSendableError, match="Tag and name a behaviour"):

        @message
        class WithCallback:
            done: Callable[[], None]

    with pytest.raises(NotSendableError, match="send its Tag"):

        @message
        class WithAgent:
            worker: Worker


def test_sendable_field_types_are_accepted() -> None:
    T = TypeVar("T", bound=int)

    @message
    class Rich(Generic[T]):
        a: Iso[list[int]]
        b: Tag[Any]
        c: Val[tuple[int, ...]]
        d: Pair
        e: frozenset[datetime.date]
        f: tuple[()]
        g: Side | None
        h: T
        i: Order

    r = Rich(
        iso([1]), Tag.__new__(Tag), (1,), Pair(1, "b"), frozenset(), (), None, 3, Order("X", 1)
    )
    assert r.h == 3


def test_a_bare_final_field_has_the_type_of_its_value() -> None:
    # As the type checkers infer it (the plugin accepts these): it was refused as an
    # unknown type.
    @message
    class Limits:
        most: Final = 3
        name: Final = "cap"
        pair: Final = (1, ("a", 2.0))

    assert Limits() == Limits(3, "cap", (1, ("a", 2.0)))
    with pytest.raises(NotSendableError, match=r"field 'loose' has type type"):

        @message
        class Loose:
            loose: Final = int


def test_string_annotations_and_forward_references() -> None:
    q = fut.Quote("A", datetime.datetime(2026, 1, 1), "buy", None, (1.0,), None)
    b = fut.Batch(q, (fut.Later(1),), iso([1]))
    assert b.rest[0].value == 1
    # The deferred check ran once and restored the generated __init__.
    assert fut.Batch.__init__.__qualname__ == "Batch.__init__"
    assert fut.Envelope(b).batch is b  # its check, deferred through Batch, passed
    assert "Validates" not in (fut.Batch.__init__.__doc__ or "")


def test_local_messages_naming_each_other_stay_checkable() -> None:
    point, segment = fut.local_messages()
    seg = segment(point(1), "north")
    # later checks (val, a send's deep check) see the names the defining scope saw
    assert val(seg) is seg
    check_sendable(seg, "argument 1 of S.b")  # raised NameError: 'Point' is not defined


def test_self_reference_is_resolved() -> None:
    @message
    class Node:
        value: int
        nxt: Node | None

    assert Node(1, Node(2, None)).nxt is not None


def test_forward_reference_to_a_bad_later_class_fails_at_first_use() -> None:
    @message
    class Early:
        item: LaterMutable  # noqa: F821 - defined below on purpose

    globals()["LaterMutable"] = type("LaterMutable", (), {})
    try:
        with pytest.raises(NotSendableError, match="field 'item' has type LaterMutable"):
            Early(None)  # type: ignore[arg-type]
    finally:
        del globals()["LaterMutable"]


def test_unresolvable_annotation_is_a_clear_error_not_a_crash() -> None:
    @message
    class Dangling:
        item: Nowhere  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(CapabilityUsageError, match=r"'item' has type Nowhere \(not defined"):
        Dangling(1)


def test_a_name_only_the_type_checker_sees_is_fine_inside_a_tag() -> None:
    # A messages module imports its agents under TYPE_CHECKING (an import cycle): a Tag's
    # agent class does not matter at run time, so the field is accepted; a record's type
    # does, and the error says what to do.
    from tests.capsys import messages_type_checking as tc

    orders = tc.Orders((tc.Order("AAPL"), tc.Order("MSFT")))
    check_sendable(orders, "argument 1 of S.b")  # the deep check walks Order's fields
    assert orders.items[1].symbol == "MSFT"
    with pytest.raises(CapabilityUsageError, match=r"'quote' has type Quote .*TYPE_CHECKING"):
        tc.Hidden(None)  # type: ignore[arg-type]


def test_inheritance_from_a_message_checks_new_and_inherited_fields() -> None:
    @message
    class Base:
        a: int

    @message
    class Child(Base):
        b: str

    c = Child(1, "x")
    assert (c.a, c.b) == (1, "x")
    with pytest.raises(NotSendableError, match="field 'b'"):

        @message
        class BadChild(Base):
            b: list[int]


def test_a_non_frozen_base_makes_the_message_not_frozen() -> None:
    class Plain:
        pass

    with pytest.raises(NotSendableError, match="base class Plain is not a frozen"):

        @message
        class Child(Plain):
            a: int


def test_message_of_a_non_class_says_what_to_do() -> None:
    with pytest.raises(CapabilityUsageError, match="@message decorates a class"):
        message(lambda: None)  # type: ignore[type-var]


def test_message_over_dataclass_is_refused() -> None:
    with pytest.raises(CapabilityUsageError, match="not both"):

        @message
        @dataclasses.dataclass(frozen=True)
        class Twice:
            a: int
