"""What the runtime accepts as a count or a duration, for every option and primitive that
takes one (``bool`` is an ``int`` to Python, never to a caller: ``workers=True`` is a
mistake, as is a ``str``). Ranges are the caller's; written as ``not x > 0`` they also
refuse a NaN."""

from __future__ import annotations

from typing import TypeGuard

__all__ = ["is_count", "is_seconds"]


def is_count(value: object) -> TypeGuard[int]:
    """An ``int`` that is not a ``bool`` (the range is the caller's to check)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_seconds(value: object) -> TypeGuard[int | float]:
    """An ``int`` or ``float`` that is not a ``bool`` (the range is the caller's)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
