"""val(): deep immutability checked at run time, with the path to the offender."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import fractions
import pathlib
import uuid
from decimal import Decimal
from typing import Any, NamedTuple

import pytest

from capsys import NotSendableError, iso, message, val


class Color(enum.Enum):
    RED = 1


class Point(NamedTuple):
    x: int
    y: int


class Bag(NamedTuple):
    items: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Frozen:
    name: str
    tags: frozenset[str]


@dataclasses.dataclass
class Mutable:
    name: str


@message
class Holder:
    items: tuple[int, ...]


IMMUTABLE: list[Any] = [
    None,
    True,
    1,
    1.5,
    2j,
    "s",
    b"b",
    range(3),
    Decimal("1.1"),
    fractions.Fraction(1, 2),
    datetime.date(2026, 1, 1),
    datetime.datetime(2026, 1, 1),
    datetime.time(1),
    datetime.timedelta(2),
    datetime.timezone.utc,
    uuid.UUID(int=3),
    pathlib.PurePosixPath("/a"),
    Color.RED,
    Point(1, 2),
    Frozen("a", frozenset({"x"})),
    Holder((1, 2)),
    (1, ("a", (b"b", frozenset({1, 2})))),
    frozenset({(1, 2)}),
    (),
]


@pytest.mark.parametrize("value", IMMUTABLE, ids=lambda v: type(v).__name__)
def test_val_returns_the_same_object_for_immutable_values(value: Any) -> None:
    assert val(value) is value


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ([1], "value: list"),
        ({"a": 1}, "value: dict"),
        ({1}, "value: set"),
        (bytearray(b"x"), "value: bytearray"),
        ((1, [2]), r"value\[1\]: list"),
        ((1, Holder([2])), r"value\[1\]\.items: list"),  # type: ignore[arg-type]
        (Point(1, [2]), r"value\.y: list"),  # type: ignore[arg-type]
        (Frozen("a", {"x"}), r"value\.tags: set"),  # type: ignore[arg-type]
        (Mutable("a"), "value: Mutable"),
        ((((1, (2, {3: 4}))),), r"value\[0\]\[1\]\[1\]: dict"),
        ((lambda: 1,), r"value\[0\]: function"),
        (object(), "value: object"),
    ],
)
def test_val_names_the_path_to_the_first_mutable_object(value: Any, path: str) -> None:
    where, _, kind = path.rpartition(": ")
    article = "an" if kind[0] in "aeiou" else "a"
    pattern = rf"{where} is {article} {kind}, which is not deeply immutable: .* \(CAP004\)$"
    with pytest.raises(NotSendableError, match=pattern):
        val(value)


def test_val_of_an_iso_is_refused_because_a_handle_is_not_immutable() -> None:
    with pytest.raises(
        NotSendableError,
        match=r"value\[0\] is an Iso, which is not deeply immutable.*take\(\).*CAP004",
    ):
        val((iso([1]),))


def test_val_of_a_channel_is_refused_as_the_checkers_refuse_it() -> None:
    # A Channel crosses a boundary by reference, like a Tag, but it is mutable: no Val.
    from runtime import channel

    with pytest.raises(NotSendableError, match=r"value\[1\] is a Channel, which is not deeply"):
        val((1, channel(3)))


def test_val_error_is_also_a_type_error() -> None:
    with pytest.raises(TypeError):
        val([1])


@dataclasses.dataclass(frozen=True)
class Link:
    label: str
    nxt: Link | None


def test_val_terminates_on_a_cycle_of_frozen_records() -> None:
    a = Link("a", None)
    b = Link("b", a)
    object.__setattr__(a, "nxt", b)  # a -> b -> a: only possible by force
    assert val(a) is a
    object.__setattr__(b, "label", ["oops"])
    with pytest.raises(NotSendableError, match=r"value\.nxt\.label is a list"):
        val(a)


def test_val_walks_very_deep_structures_without_recursion() -> None:
    deep: Any = ()
    for _ in range(200_000):
        deep = (deep,)
    assert val(deep) is deep
    deep = ([1],)
    for _ in range(200_000):
        deep = (deep,)
    with pytest.raises(NotSendableError, match=r"\[0\] is a list"):
        val(deep)
