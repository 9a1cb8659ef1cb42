"""``shard(key, tags)``: route a key to one agent by rendezvous (highest-random-weight)
hashing.

Every (key, agent) pair gets a pseudo-random score and the key goes to the agent with
the highest one. Adding an agent moves only the keys it now wins (about 1/n of them);
removing one moves only its own keys. No ring to rebuild, and the result depends only
on the set of agents, not on their order. Scores come from BLAKE2b, not ``hash()``,
so they are the same in every process and every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, TypeVar

from capsys.errors import CapabilityUsageError
from capsys.tag import Tag

__all__ = ["shard"]

T = TypeVar("T", bound=Tag[Any])

_MASK = (1 << 64) - 1
# Per-agent seeds, keyed by the agent's address name (unique within a runtime). A
# plain dict: inserts are atomic under the GIL and a racing duplicate computes the
# same value, so no lock is needed.
_seeds: dict[str, int] = {}


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _key_bytes(key: object) -> bytes:
    if isinstance(key, bytes):
        return b"b" + key
    if isinstance(key, str):
        return b"s" + key.encode()
    if isinstance(key, int):
        return b"i" + str(key).encode()
    return b"r" + repr(key).encode()


def _seed(tag: Tag[Any]) -> int:
    name: str = tag._address.name
    seed = _seeds.get(name)
    if seed is None:
        seed = _seeds[name] = _digest(name.encode())
    return seed


def _mix(x: int) -> int:
    # splitmix64 finaliser: spreads the xor of two uniform 64-bit values uniformly.
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def shard(key: object, tags: Sequence[T]) -> T:
    """The agent among ``tags`` that owns ``key`` (str, bytes, int or any value with a
    stable ``repr``)."""
    if not tags:
        raise CapabilityUsageError("shard() needs at least one Tag to route the key to")
    h = _digest(_key_bytes(key))
    best = tags[0]
    best_score = -1
    for tag in tags:
        score = _mix(h ^ _seed(tag))
        if score > best_score:
            best, best_score = tag, score
    return best
