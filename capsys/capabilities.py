"""The capabilities ``Iso``, ``Val`` and ``Ref`` and the functions that make and move them.

``Iso`` is a real generic class because a type checker cannot tell an ``Annotated``
alias from its bare type at a call site, and an ``Iso`` must be told apart: it is the one
capability that is sent by *move*. ``Val`` and ``Ref`` are transparent generic aliases
(a ``Val[int]`` *is* an ``int``); their markers survive at run time for ``@message``
validation and are seen by the mypy plugin through its type-analyze hook.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Generic, NoReturn, TypeVar, overload

from capsys.errors import CapabilityUsageError, MovedError

__all__ = ["Iso", "MovedIso", "Ref", "Val", "consume", "iso", "val", "VAL_MARKER", "REF_MARKER"]

T = TypeVar("T")


class _Marker:
    """The metadata object carried by ``Val[T]`` / ``Ref[T]`` inside ``Annotated``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"capsys.{self.name}"


VAL_MARKER = _Marker("Val")
REF_MARKER = _Marker("Ref")

Val = Annotated[T, VAL_MARKER]
"""Deeply immutable and freely shared: a ``Val[T]`` is a ``T`` at run time."""

Ref = Annotated[T, REF_MARKER]
"""An ordinary local mutable reference: never sendable."""

# Frames of these packages are skipped when recording where a handle was moved, so the
# reported location is the user's line, not the runtime's internals.
_INTERNAL_PREFIXES = ("capsys.", "runtime.", "anyio.", "asyncio.", "trio.")


def _caller_location() -> str:
    frame = sys._getframe(2)
    for _ in range(16):
        if frame is None:
            break
        name = frame.f_globals.get("__name__", "")
        if not (name.startswith(_INTERNAL_PREFIXES) or name in ("capsys", "runtime")):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "<unknown>"


class Iso(Generic[T]):
    """An isolated handle: the only reference to a mutable object graph.

    Sending, spawning with, ``consume``-ing or re-``iso``-ing a handle moves it: the old
    handle becomes a ``MovedIso`` whose every use raises ``MovedError`` saying where the
    move happened. Moving costs one class switch; a live handle pays nothing extra.
    """

    __slots__ = ("_moved_at", "_value")

    _value: T
    _moved_at: str

    def __init__(self, value: T) -> None:
        # Construction is public only through iso(); keep the constructor cheap for the
        # runtime, which re-wraps a moved value for the receiver.
        self._value = value

    def take(self) -> T:
        """Unwrap the value; the handle is dead afterwards (a second ``take`` raises)."""
        return self._claim("unwrapped by take()", None, "tried 'take'")

    def _move(self, how: str, where: str | None = None, tried: str = "tried to move it") -> Iso[T]:
        """Kill this handle and return a fresh one owning the same value."""
        return Iso(self._claim(how, where, tried))

    def _claim(self, how: str, where: str | None, tried: str) -> T:
        """Take the value and kill the handle, once: of two threads using one handle at
        the same time exactly one gets the value (deleting a slot is one atomic step;
        the other thread's delete fails), the other a ``MovedError``."""
        moved_at = f"{how} at {where or _caller_location()}"
        try:
            value = self._value
            del self._value
        except AttributeError:  # another thread claimed it first
            raise moved_error(self, tried) from None  # type: ignore[arg-type]
        self._moved_at = moved_at
        object.__setattr__(self, "__class__", MovedIso)
        return value

    def __repr__(self) -> str:
        return f"Iso({type(self._value).__name__})"

    def __reduce__(self) -> NoReturn:
        raise CapabilityUsageError(
            "an Iso handle cannot be pickled or copied directly: send it to an agent "
            "(it is moved) or take() the value first"
        )

    def __copy__(self) -> NoReturn:
        self.__reduce__()

    def __deepcopy__(self, memo: object) -> NoReturn:
        self.__reduce__()


class MovedIso(Iso[Any]):
    """What an ``Iso`` handle becomes once moved: every use raises ``MovedError``."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name in ("__class__", "_moved_at", "__repr__"):
            return object.__getattribute__(self, name)
        raise moved_error(self, f"tried {name!r}")

    def __repr__(self) -> str:
        return f"<moved Iso: {object.__getattribute__(self, '_moved_at')}>"


def moved_error(handle: MovedIso, tried: str) -> MovedError:
    """The error for any use of a moved handle; ``tried`` says which use."""
    try:
        moved_at = object.__getattribute__(handle, "_moved_at")
    except AttributeError:  # claimed by another thread this very moment
        moved_at = "by another thread"
    return MovedError(
        f"this Iso handle was moved ({moved_at}) and cannot be used any more "
        f"({tried}); use the value where it was moved to, or keep it by "
        "not sending it (CAP005)"
    )


# Two overloads, not ``value: T | Iso[T]``: mypy cannot solve T from that union for an
# Iso argument (it infers Never), so iso(handle) would not type-check.
@overload
def iso(value: Iso[T]) -> Iso[T]: ...
@overload
def iso(value: T) -> Iso[T]: ...
def iso(value: Any) -> Iso[Any]:
    """Wrap a freshly made mutable object graph as an isolated handle.

    Passing an existing ``Iso`` moves it into the new handle (the old one dies). The
    linter checks that ``value`` is fresh (CAP006): this function cannot see aliases.
    """
    if isinstance(value, MovedIso):
        raise moved_error(value, "tried iso() of it")
    if isinstance(value, Iso):
        return value._move("moved by iso()", tried="tried iso() of it")
    # Imported late: the agent module depends on this one.
    from capsys.agent import Agent
    from capsys.tag import Tag

    if isinstance(value, Agent):
        raise CapabilityUsageError(
            f"iso() of an agent object ({type(value).__name__}) is not allowed: agent "
            "state never leaves its agent; send self.me (a Tag) instead (CAP008)"
        )
    if isinstance(value, Tag):
        raise CapabilityUsageError(
            "iso() of a Tag is not needed: a Tag is already sendable; send it as it is"
        )
    return Iso(value)


def consume(handle: Iso[T]) -> Iso[T]:
    """Move an ``Iso`` into a new handle; the argument is dead afterwards."""
    if type(handle) is Iso:
        return handle._move("moved by consume()", tried="tried consume() of it")
    if isinstance(handle, MovedIso):
        raise moved_error(handle, "tried consume() of it")
    raise CapabilityUsageError(
        f"consume() takes an Iso handle, got {type(handle).__name__}: wrap a fresh "
        "object with iso(x) first, or pass the value itself if it is immutable"
    )


def val(value: T) -> T:
    """Check that ``value`` is deeply immutable and return it unchanged.

    Raises ``NotSendableError`` naming the path to the first mutable object found.
    """
    from capsys.sendable import check_immutable

    check_immutable(value, "value")
    return value
