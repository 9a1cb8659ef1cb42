"""``Agent``, ``@behaviour`` and ``@message``: the units that run and the values they exchange."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from typing_extensions import Self, dataclass_transform

from capsys.errors import CapabilityUsageError
from capsys.tag import Tag, unbound_tag_error

if TYPE_CHECKING:
    from runtime import Runtime

__all__ = ["Agent", "behaviour", "message", "is_behaviour", "BEHAVIOUR_ATTR", "MESSAGE_ATTR"]

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)

BEHAVIOUR_ATTR = "__capsys_behaviour__"
MESSAGE_ATTR = "__capsys_message__"


class Agent:
    """Base class of agents. Agent state is private: it is touched only by behaviours,
    one message at a time, so it needs no locks.

    Agents are created by ``Runtime.spawn``, which binds ``_capsys_tag`` and
    ``_capsys_runtime`` before ``__init__`` runs, so ``self.me`` works there too.
    Subclasses may define ``on_start()`` / ``on_stop()`` (sync or async).
    """

    _capsys_tag: Tag[Any]
    _capsys_runtime: Runtime

    @property
    def me(self) -> Tag[Self]:
        """This agent's own address: the sendable stand-in for ``self``."""
        try:
            return self._capsys_tag
        except AttributeError:
            raise unbound_tag_error(type(self).__name__) from None

    @property
    def runtime(self) -> Runtime:
        """The runtime this agent runs in: spawn, stop and the orchestration primitives."""
        try:
            return self._capsys_runtime
        except AttributeError:
            raise unbound_tag_error(type(self).__name__) from None


def behaviour(fn: F) -> F:
    """Mark a method as a behaviour: an entry point other agents reach through a ``Tag``.

    The function is returned unchanged (type checkers see its exact signature); only a
    marker attribute is added, which the runtime checks on ``send``/``ask``.
    """
    target = fn.__func__ if isinstance(fn, (staticmethod, classmethod)) else fn
    if not callable(target) or not hasattr(target, "__code__"):
        raise CapabilityUsageError(
            f"@behaviour decorates a method defined with def or async def, got {fn!r}"
        )
    if isinstance(fn, (staticmethod, classmethod)):
        raise CapabilityUsageError(
            f"@behaviour on {target.__qualname__}: a behaviour is an instance method "
            "(it runs on the agent's state); drop staticmethod/classmethod"
        )
    setattr(fn, BEHAVIOUR_ATTR, "async" if inspect.iscoroutinefunction(fn) else "sync")
    return fn


def is_behaviour(fn: object) -> bool:
    """True for a function decorated with ``@behaviour``."""
    return getattr(fn, BEHAVIOUR_ATTR, None) is not None


@dataclass_transform(frozen_default=True)
def message(cls: C) -> C:
    """Make ``cls`` a frozen, slotted dataclass whose every field must be sendable.

    The field types are checked when the class is created; a name that is not defined
    yet (a forward reference to a later class) is checked at the first instantiation.
    Raises ``NotSendableError`` naming the field and its type.
    """
    if not isinstance(cls, type):
        raise CapabilityUsageError(
            f"@message decorates a class, got {type(cls).__name__}: write @message above "
            "'class Name:' with annotated fields"
        )
    from capsys.sendable import validate_message_class

    params = getattr(cls, "__dataclass_params__", None)
    if params is not None and "__dataclass_fields__" in cls.__dict__:
        raise CapabilityUsageError(
            f"{cls.__qualname__} is already a dataclass: use @message instead of "
            "@dataclass, not both"
        )
    made = cast(C, dataclasses.dataclass(frozen=True, slots=True)(cls))
    setattr(made, MESSAGE_ATTR, True)
    # The defining scope's names resolve annotations of classes defined in a function
    # under `from __future__ import annotations`.
    validate_message_class(made, sys._getframe(1).f_locals)
    return made
