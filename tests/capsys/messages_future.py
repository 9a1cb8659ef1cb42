"""@message classes in a module with postponed annotations (string annotations)."""

from __future__ import annotations

import datetime
from typing import Literal, Optional

from typing_extensions import LiteralString

from capsys import Iso, Tag, Val, message


@message
class Quote:
    symbol: str
    when: datetime.datetime
    side: Literal["buy", "sell"]
    note: Optional[str]  # noqa: UP045 - the old spelling must work too
    history: tuple[Val[float], ...]
    reply_to: Tag[Desk] | None


@message
class Batch:
    first: Quote  # defined above: resolved at class creation
    rest: tuple[Later, ...]  # defined below: resolved at the first instantiation
    payload: Iso[list[int]]


@message
class Envelope:
    batch: Batch  # Batch names Later, not defined yet either: deferred as well


@message
class Later:
    value: int


class Desk:
    """A name used in a Tag annotation before it is defined."""


def local_messages() -> tuple[type, type]:
    """Two @message classes defined in a function, one naming the other: its name is
    local, so only the defining scope resolves it."""

    @message
    class Point:
        x: int

    @message
    class Segment:
        a: Point
        label: LiteralString

    return Point, Segment
