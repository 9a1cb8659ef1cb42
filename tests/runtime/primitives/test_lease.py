"""LeaseManager: exclusive grants, renewal, release, expiry and fencing tokens; a bad
request is refused without losing any lease."""

from __future__ import annotations

import math

import anyio
import pytest

from runtime import Runtime
from runtime.primitives import Lease, LeaseManager
from runtime.primitives.lease import LeaseRefused

pytestmark = pytest.mark.anyio


async def test_exclusive_acquire_release_and_tokens_grow() -> None:
    async with Runtime() as rt:
        leases = rt.spawn(LeaseManager, 30.0)
        first = await leases.ask(LeaseManager.acquire, "db", "alice")
        assert isinstance(first, Lease) and first.holder == "alice"
        assert await leases.ask(LeaseManager.acquire, "db", "bob") is None
        assert await leases.ask(LeaseManager.holder, "db") == "alice"
        assert await leases.ask(LeaseManager.release, first) is True
        assert await leases.ask(LeaseManager.release, first) is False
        second = await leases.ask(LeaseManager.acquire, "db", "bob")
        assert isinstance(second, Lease) and second.token > first.token


async def test_renew_extends_and_stale_lease_cannot_renew() -> None:
    async with Runtime() as rt:
        leases = rt.spawn(LeaseManager)
        lease = await leases.ask(LeaseManager.acquire, "q", "w1", 30.0)
        assert isinstance(lease, Lease)
        renewed = await leases.ask(LeaseManager.renew, lease, 60.0)
        assert isinstance(renewed, Lease) and renewed.expires_at > lease.expires_at
        assert renewed.token > lease.token
        assert await leases.ask(LeaseManager.renew, lease) is None  # superseded


async def test_expiry_frees_the_resource() -> None:
    async with Runtime() as rt:
        leases = rt.spawn(LeaseManager)
        lease = await leases.ask(LeaseManager.acquire, "job", "w1", 0.05)
        assert isinstance(lease, Lease)
        await anyio.sleep(0.1)
        assert await leases.ask(LeaseManager.holder, "job") is None
        assert await leases.ask(LeaseManager.renew, lease) is None
        taken = await leases.ask(LeaseManager.acquire, "job", "w2")
        assert isinstance(taken, Lease) and taken.holder == "w2"


@pytest.mark.parametrize("ttl", [0.0, -1.0, math.nan, math.inf, "5", True])
async def test_a_bad_ttl_is_refused_and_every_lease_and_token_survives(ttl: object) -> None:
    async with Runtime() as rt:
        leases = rt.spawn(LeaseManager)
        held = await leases.ask(LeaseManager.acquire, "cache", "w1", 5.0)
        assert isinstance(held, Lease)
        refused = await leases.ask(LeaseManager.acquire, "other", "w9", ttl)  # type: ignore[call-overload]
        assert isinstance(refused, LeaseRefused) and not refused
        assert "ttl must be a positive, finite number" in refused.reason
        assert await leases.ask(LeaseManager.holder, "cache") == "w1"
        assert await leases.ask(LeaseManager.holder, "other") is None
        again = await leases.ask(LeaseManager.renew, held, ttl)  # type: ignore[call-overload]
        assert isinstance(again, LeaseRefused)
        assert await leases.ask(LeaseManager.release, held) is True  # still the live one
        later = await leases.ask(LeaseManager.acquire, "other", "w9", 5.0)
        assert isinstance(later, Lease) and later.token > held.token
        assert rt.stats().restarts == 0


async def test_a_malformed_request_is_refused_and_no_lease_is_lost() -> None:
    # What an untyped client can send: none of it may reach the supervisor (a restart
    # would forget alice's lease and start the tokens again from 1).
    async with Runtime() as rt:
        leases = rt.spawn(LeaseManager, 60.0)
        alice = await leases.ask(LeaseManager.acquire, "db", "alice")
        assert isinstance(alice, Lease)
        bad_acquires: list[tuple[object, object, str]] = [
            (("a", []), "x", "resource must be a str, got tuple"),
            (1, "x", "resource must be a str, got int"),
            ("db", None, "holder must be a str, got NoneType"),
        ]
        for resource, holder, reason in bad_acquires:
            refused = await leases.ask(LeaseManager.acquire, resource, holder)  # type: ignore[call-overload]
            assert isinstance(refused, LeaseRefused) and reason in refused.reason
        renewed = await leases.ask(LeaseManager.renew, "junk")  # type: ignore[call-overload]
        assert isinstance(renewed, LeaseRefused) and "takes a Lease, got str" in renewed.reason
        assert await leases.ask(LeaseManager.release, "junk") is False  # type: ignore[call-overload]
        assert await leases.ask(LeaseManager.holder, ("a", [])) is None  # type: ignore[call-overload]
        assert await leases.ask(LeaseManager.acquire, "db", "bob") is None  # alice's still
        renewed = await leases.ask(LeaseManager.renew, alice)
        assert isinstance(renewed, Lease) and renewed.token > alice.token
        assert rt.stats().restarts == 0
