"""LeaseManager: exclusive grants, renewal, release, expiry and fencing tokens."""

from __future__ import annotations

import anyio
import pytest

from runtime import Runtime
from runtime.primitives import LeaseManager

pytestmark = pytest.mark.anyio


async def test_exclusive_acquire_release_and_tokens_grow() -> None:
    async with Runtime() as rt:
        leases = rt.spawn(LeaseManager, 30.0)
        first = await leases.ask(LeaseManager.acquire, "db", "alice")
        assert first is not None and first.holder == "alice"
        assert await leases.ask(LeaseManager.acquire, "db", "bob") is None
        assert await leases.ask(LeaseManager.holder, "db") == "alice"
        assert await leases.ask(LeaseManager.release, first) is True
        assert await leases.ask(LeaseManager.release, first) is False
        second = await leases.ask(LeaseManager.acquire, "db", "bob")
        assert second is not None and second.token > first.token


async def test_renew_extends_and_stale_lease_cannot_renew() -> None:
    async with Runtime() as rt:
        leases = rt.spawn(LeaseManager)
        lease = await leases.ask(LeaseManager.acquire, "q", "w1", 30.0)
        assert lease is not None
        renewed = await leases.ask(LeaseManager.renew, lease, 60.0)
        assert renewed is not None and renewed.expires_at > lease.expires_at
        assert renewed.token > lease.token
        assert await leases.ask(LeaseManager.renew, lease) is None  # superseded


async def test_expiry_frees_the_resource() -> None:
    async with Runtime() as rt:
        leases = rt.spawn(LeaseManager)
        lease = await leases.ask(LeaseManager.acquire, "job", "w1", 0.05)
        assert lease is not None
        await anyio.sleep(0.1)
        assert await leases.ask(LeaseManager.holder, "job") is None
        assert await leases.ask(LeaseManager.renew, lease) is None
        taken = await leases.ask(LeaseManager.acquire, "job", "w2")
        assert taken is not None and taken.holder == "w2"


async def test_bad_ttl_is_an_error_for_the_asker() -> None:
    async with Runtime() as rt:
        leases = rt.spawn(LeaseManager)
        with pytest.raises(ValueError, match="ttl must be positive"):
            await leases.ask(LeaseManager.acquire, "x", "w", -1.0)
