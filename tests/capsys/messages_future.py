"""@message classes in a module with postponed annotations (string annotations)."""

from __future__ import annotations

import datetime
from typing import Literal, Optional

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
class Later:
    value: int


class Desk:
    """A name used in a Tag annotation before it is defined."""
