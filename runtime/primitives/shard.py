"""``shard(key, tags)``: route a key to one agent by rendezvous (highest-random-weight)
hashing.

Every (key, agent) pair gets a pseudo-random score and the key goes to the agent with
the highest one. Adding an agent moves only the keys it now wins (about 1/n of them);
removing one moves only its own keys. No ring to rebuild, and the result depends only
on the set of agents, not on their order. Scores come from BLAKE2b, not ``hash()``,
so they are the same in every process and every run.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import hashlib
import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
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
    """A canonical encoding of ``key``: keys that compare equal encode alike (``1``,
    ``1.0``, ``True`` and ``Decimal(1)`` route to one agent, as they would find one dict
    entry), and nothing depends on ``hash()`` or on set order, which vary by process."""
    if isinstance(key, str):
        return b"s" + key.encode("utf-8", "surrogatepass")
    if isinstance(key, bytes):
        return b"b" + key
    if isinstance(key, (int, float, Fraction, Decimal)):  # bool and IntEnum are ints
        return _number_bytes(key)
    if isinstance(key, complex):
        if key.imag == 0:
            return _number_bytes(key.real)
        return b"c" + _number_bytes(key.real) + b"|" + _number_bytes(key.imag)
    if isinstance(key, tuple):  # a NamedTuple equals the plain tuple of its items
        return b"t" + _joined([_key_bytes(item) for item in key])
    if isinstance(key, frozenset):  # in the order of the encodings, not of the set
        return b"z" + _joined(sorted(_key_bytes(item) for item in key))
    if isinstance(key, (datetime.datetime, datetime.time, range)):
        return _equal_by_value(key)
    kind = f"{type(key).__module__}.{type(key).__qualname__}"
    if isinstance(key, enum.Enum):
        return f"e{kind}.{key.name}".encode()
    if dataclasses.is_dataclass(key) and not isinstance(key, type):
        fields = [getattr(key, f.name) for f in dataclasses.fields(key) if f.compare]
        return f"d{kind}".encode() + _joined([_key_bytes(field) for field in fields])
    return b"r" + repr(key).encode()


def _equal_by_value(key: datetime.datetime | datetime.time | range) -> bytes:
    """Types whose equal values can differ in their repr: an aware datetime (or time)
    equals the same instant in another zone, and a range equals any range of the same
    items (``range(0) == range(5, 5)``)."""
    if isinstance(key, range):
        n = len(key)
        first = key.start if n else 0
        step = key.step if n > 1 else 0
        return f"g{n}:{first}:{step}".encode()
    offset = key.utcoffset()
    if offset is None:  # naive: never equal to an aware one
        return b"n" + key.isoformat().encode()
    if isinstance(key, datetime.datetime):
        return b"a" + (key.replace(tzinfo=None) - offset).isoformat().encode()
    since_midnight = datetime.timedelta(
        hours=key.hour, minutes=key.minute, seconds=key.second, microseconds=key.microsecond
    )
    return b"A" + repr(since_midnight - offset).encode()


def _number_bytes(x: int | float | Fraction | Decimal) -> bytes:
    if isinstance(x, float) and not math.isfinite(x):
        return b"f" + repr(x).encode()
    if isinstance(x, Decimal) and not x.is_finite():
        return b"f" + repr(float(x)).encode()
    exact = Fraction(x)  # exact for every finite float and Decimal
    if exact.denominator == 1:
        return b"i" + str(exact.numerator).encode()
    return b"q" + f"{exact.numerator}/{exact.denominator}".encode()


def _joined(parts: list[bytes]) -> bytes:
    """Length-prefixed, so that ("ab",) and ("a", "b") encode differently."""
    return b"".join(len(part).to_bytes(4, "little") + part for part in parts)


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
    """The agent among ``tags`` that owns ``key``: any sendable value (numbers, strings,
    bytes, tuples, frozensets, enum members, frozen dataclasses; other values by their
    ``repr``). Keys that compare equal go to the same agent."""
    if not tags:
        raise CapabilityUsageError("shard() needs at least one Tag to route the key to")
    h = _digest(_key_bytes(key))
    best = tags[0]
    best_score = -1
    for tag in tags:
        if not isinstance(tag, Tag):
            raise CapabilityUsageError(
                f"shard() routes keys to agents' Tags, got {type(tag).__name__} {tag!r}"
            )
        score = _mix(h ^ _seed(tag))
        if score > best_score:
            best, best_score = tag, score
    return best
