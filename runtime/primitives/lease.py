"""``LeaseManager``: time-limited exclusive leases on named resources, as an agent.

Being an agent is what makes it correct: it handles one request at a time, so acquire,
renew, release and expiry never race, and every client reaches it the same way
(``await manager.ask(LeaseManager.acquire, "db", "worker-1", ttl=5.0)``).

Each grant carries a *fencing token* that only grows: a resource that receives writes
from lease holders can reject a token lower than the last one it saw, which protects it
from a holder that paused past its expiry and came back. Expiry is checked on every
request against the manager's monotonic clock, so a lease lapses exactly at its deadline
without any timer task.

A request the manager cannot take as asked (a ttl that is not a positive, finite number;
a resource or holder that is not a string; something that is not a ``Lease`` to renew)
gets a ``LeaseRefused`` reply (``False`` from ``release``), not an exception: an exception
would go to the manager's supervisor, and a restart re-runs ``__init__``, which would
forget every live lease and start the fencing tokens again from 1. So every argument is
checked before it is used.
"""

from __future__ import annotations

import math
import time
from typing import Literal

from capsys.agent import Agent, behaviour, message
from runtime.arguments import is_seconds

__all__ = ["Lease", "LeaseManager", "LeaseRefused"]


@message
class Lease:
    """A granted lease: who holds ``resource`` until ``expires_at`` (manager clock)."""

    resource: str
    holder: str
    token: int
    expires_at: float


@message
class LeaseRefused:
    """The caller's request was invalid (``reason`` says why); nothing was granted.

    Falsy, like the ``None`` of a lease held by someone else, so ``if lease:`` guards both
    (and type checkers narrow ``Lease | LeaseRefused | None`` to ``Lease`` with it).
    """

    reason: str

    def __bool__(self) -> Literal[False]:
        return False


class LeaseManager(Agent):
    """Grants, renews, releases and expires leases; one holder per resource at a time."""

    def __init__(self, default_ttl: float = 10.0) -> None:
        if _bad_ttl(default_ttl):
            raise ValueError(
                f"LeaseManager default_ttl must be a positive, finite number of seconds, "
                f"got {default_ttl!r}"
            )
        self.default_ttl = default_ttl
        self.leases: dict[str, Lease] = {}
        self.next_token = 1

    def _live(self, resource: str) -> Lease | None:
        lease = self.leases.get(resource)
        if lease is not None and lease.expires_at <= time.monotonic():
            del self.leases[resource]  # lapsed: the resource is free again
            return None
        return lease

    def _grant(self, resource: str, holder: str, ttl: float | None) -> Lease | LeaseRefused:
        span = self.default_ttl if ttl is None else ttl
        lease = Lease(resource, holder, self.next_token, time.monotonic() + span)
        self.next_token += 1
        self.leases[resource] = lease
        return lease

    @behaviour
    def acquire(
        self, resource: str, holder: str, ttl: float | None = None
    ) -> Lease | LeaseRefused | None:
        """The lease, or ``None`` while another holder has it, or ``LeaseRefused`` for a
        bad request. Re-acquiring one's own live lease extends it (with a new token)."""
        refused = _refusal(resource, holder, ttl)
        if refused is not None:
            return refused
        current = self._live(resource)
        if current is not None and current.holder != holder:
            return None
        return self._grant(resource, holder, ttl)

    @behaviour
    def renew(self, lease: Lease, ttl: float | None = None) -> Lease | LeaseRefused | None:
        """A fresh lease if ``lease`` is still the live one, else ``None`` (it expired or
        was released; acquire again), or ``LeaseRefused`` for a bad request."""
        if not isinstance(lease, Lease):
            return LeaseRefused(f"renew takes a Lease, got {type(lease).__name__}")
        refused = _refusal(lease.resource, lease.holder, ttl)
        if refused is not None:
            return refused
        if self._live(lease.resource) != lease:
            return None
        return self._grant(lease.resource, lease.holder, ttl)

    @behaviour
    def release(self, lease: Lease) -> bool:
        """Give the resource up; ``False`` if ``lease`` was no longer the live one (or is
        not a lease at all)."""
        if not isinstance(lease, Lease) or self._live(lease.resource) != lease:
            return False
        del self.leases[lease.resource]
        return True

    @behaviour
    def holder(self, resource: str) -> str | None:
        """Who holds ``resource`` now, if anyone."""
        if not isinstance(resource, str):
            return None  # no lease is ever granted on anything else
        lease = self._live(resource)
        return None if lease is None else lease.holder


def _bad_ttl(ttl: object) -> bool:
    """Not a positive, finite number of seconds: NaN or infinity would make a lease that
    never lapses, and a bool or a string is a caller's mistake."""
    return not is_seconds(ttl) or not 0 < ttl < math.inf


def _refusal(resource: object, holder: object, ttl: object) -> LeaseRefused | None:
    """Why a request cannot be taken as asked, checked before the manager's state is
    touched (see the module docstring)."""
    if not isinstance(resource, str):
        return LeaseRefused(f"a lease's resource must be a str, got {type(resource).__name__}")
    if not isinstance(holder, str):
        return LeaseRefused(f"a lease's holder must be a str, got {type(holder).__name__}")
    if ttl is not None and _bad_ttl(ttl):
        return LeaseRefused(f"lease ttl must be a positive, finite number of seconds, got {ttl!r}")
    return None
