"""shard(): consistent (rendezvous) hashing of keys onto agents."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import textwrap
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from capsys import Tag
from capsys.errors import CapabilityUsageError
from runtime.primitives.shard import _key_bytes, shard

_HOUR = datetime.timedelta(hours=1)


class _Address:
    """Just enough of an address for routing: shard() looks only at the name."""

    def __init__(self, name: str) -> None:
        self.name = name


def _tags(n: int, start: int = 0) -> list[Tag[Any]]:
    return [Tag(_Address(f"Node#{i}")) for i in range(start, start + n)]  # type: ignore[arg-type]


KEYS = [f"key-{i}" for i in range(20_000)]


def test_same_key_same_agent_whatever_the_order() -> None:
    tags = _tags(10)
    first = [shard(k, tags) for k in KEYS[:2000]]
    assert [shard(k, list(reversed(tags))) for k in KEYS[:2000]] == first


def test_keys_spread_evenly() -> None:
    tags = _tags(10)
    load = Counter(shard(k, tags) for k in KEYS)
    assert len(load) == 10
    assert max(load.values()) < 1.15 * len(KEYS) / 10
    assert min(load.values()) > 0.85 * len(KEYS) / 10


def test_adding_a_node_moves_about_one_in_n_keys_and_only_to_the_new_node() -> None:
    tags = _tags(10)
    grown = tags + _tags(1, start=10)
    before = {k: shard(k, tags) for k in KEYS}
    after = {k: shard(k, grown) for k in KEYS}
    moved = [k for k in KEYS if before[k] != after[k]]
    assert all(after[k] is grown[-1] for k in moved)
    assert 0.7 / 11 < len(moved) / len(KEYS) < 1.3 / 11


def test_removing_a_node_moves_only_its_keys() -> None:
    tags = _tags(8)
    shrunk = tags[:3] + tags[4:]
    for k in KEYS[:5000]:
        owner = shard(k, tags)
        if owner is not tags[3]:
            assert shard(k, shrunk) is owner


@pytest.mark.parametrize("key", [7, b"raw", ("AAPL", 3), "AAPL"])
def test_any_stable_key_routes(key: object) -> None:
    tags = _tags(5)
    assert shard(key, tags) is shard(key, tags)


@pytest.mark.parametrize(
    "same",
    [
        (1, 1.0, True, Decimal(1), Fraction(1), complex(1)),
        (0.5, Decimal("0.5"), Fraction(1, 2)),
        ((1, "a"), (1.0, "a")),
        (frozenset({1, 2}), frozenset({2.0, True})),
        (  # one instant in three zones
            datetime.datetime(2020, 1, 1, 12, tzinfo=datetime.timezone.utc),
            datetime.datetime(2020, 1, 1, 13, tzinfo=datetime.timezone(_HOUR)),
            datetime.datetime(2020, 1, 1, 7, tzinfo=datetime.timezone(-5 * _HOUR)),
        ),
        (
            datetime.time(12, tzinfo=datetime.timezone.utc),
            datetime.time(13, tzinfo=datetime.timezone(_HOUR)),
        ),
        (range(0), range(5, 5), range(3, 1)),
        (range(0, 3, 2), range(0, 4, 2)),
        (range(7, 8), range(7, 9, 5)),
    ],
)
def test_keys_that_compare_equal_go_to_one_agent(same: tuple[object, ...]) -> None:
    assert all(key == same[0] for key in same)  # the premise
    tags = _tags(50)
    assert len({shard(key, tags)._address.name for key in same}) == 1


def test_keys_that_differ_are_told_apart() -> None:
    # the encodings that make equal keys alike keep unequal ones apart
    naive = datetime.datetime(2020, 1, 1, 12)
    pairs = [
        (naive, naive.replace(tzinfo=datetime.timezone.utc)),  # naive != aware
        (range(0, 3), range(0, 4)),
        (datetime.time(1), datetime.time(1, tzinfo=datetime.timezone.utc)),
    ]
    for a, b in pairs:
        assert a != b
        assert _key_bytes(a) != _key_bytes(b)


def test_routing_does_not_depend_on_the_process_hash_seed() -> None:
    # frozenset iteration order, and so its repr, changes with PYTHONHASHSEED
    probe = textwrap.dedent(
        """
        from capsys import Tag
        from runtime.primitives.shard import shard

        class A:
            def __init__(self, name): self.name = name

        tags = [Tag(A(f"Node#{i}")) for i in range(10)]
        keys = [frozenset(f"k{i}-{j}" for j in range(6)) for i in range(40)]
        keys += [(f"k{i}", frozenset({i, -i, 2 * i})) for i in range(40)]
        print(",".join(shard(k, tags)._address.name for k in keys))
        """
    )
    routes = {
        subprocess.run(
            [sys.executable, "-c", probe],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(routes) == 1


def test_no_tags_is_a_usage_error() -> None:
    with pytest.raises(CapabilityUsageError, match="at least one Tag"):
        shard("k", [])
    with pytest.raises(CapabilityUsageError, match="to agents' Tags, got str 'b'"):
        shard("k", [*_tags(2), "b"])  # type: ignore[type-var]
