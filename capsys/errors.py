"""The capability errors raised at run time (SPEC §3).

Every message names what was wrong and what to do instead, because these errors are
the run-time face of the same rules the checkers report statically.
"""

from __future__ import annotations

__all__ = ["CapabilityError", "MovedError", "NotSendableError", "CapabilityUsageError"]


class CapabilityError(Exception):
    """Base class of every capability violation detected at run time."""


class NotSendableError(CapabilityError, TypeError):
    """A value (or a declared type) cannot cross an agent boundary or is not immutable.

    It is also a ``TypeError`` because that is what it is: a value of the wrong kind.
    """


class MovedError(CapabilityError):
    """An ``Iso`` handle was used after it was moved (CAP005 at run time)."""


class CapabilityUsageError(CapabilityError, TypeError):
    """A capsys function was called with the wrong kind of argument."""
