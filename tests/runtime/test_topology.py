"""Topology builders spawn the agents and wire each one before any later message."""

from __future__ import annotations

import anyio
import pytest

from capsys import Agent, Iso, NotSendableError, Tag, behaviour, iso
from capsys.errors import CapabilityUsageError
from runtime import Runtime
from runtime.topology import hierarchical, mesh, ring, star

pytestmark = pytest.mark.anyio


class Peer(Agent):
    def __init__(self) -> None:
        self.peers: tuple[Tag[Peer], ...] = ()

    @behaviour
    def connect(self, peers: tuple[Tag[Peer], ...]) -> None:
        self.peers = peers

    @behaviour
    def known(self) -> tuple[Tag[Peer], ...]:
        return self.peers


async def test_mesh_ring_star() -> None:
    async with Runtime() as rt:
        m = mesh(rt, Peer, 5, connect=Peer.connect)
        assert len(m) == 5
        for node in m:
            assert set(await node.ask(Peer.known)) == set(m.nodes) - {node}
        r = ring(rt, Peer, 4, connect=Peer.connect)
        assert [await r[i].ask(Peer.known) for i in range(4)] == [
            (r[1],),
            (r[2],),
            (r[3],),
            (r[0],),
        ]
        s = star(rt, Peer, 4, connect=Peer.connect)
        assert s.root == s[0]
        assert await s[0].ask(Peer.known) == s.nodes[1:]
        assert await s[3].ask(Peer.known) == (s[0],)


async def test_hierarchical_tree() -> None:
    async with Runtime() as rt:
        tree = hierarchical(rt, Peer, 3, 2, connect=Peer.connect)
        assert len(tree) == 7 and tree.root == tree[0]
        assert await tree[0].ask(Peer.known) == (tree[1], tree[2])
        assert await tree[1].ask(Peer.known) == (tree[3], tree[4], tree[0])
        assert await tree[6].ask(Peer.known) == (tree[2],)
        assert tree.neighbours(tree[2]) == (tree[5], tree[6], tree[0])


class Holder(Agent):
    def __init__(self, data: Iso[list[int]]) -> None:
        self.data = data.take()

    @behaviour
    def connect(self, peers: tuple[Tag[Holder], ...]) -> None:
        pass


class Picky(Agent):
    made = 0

    def __init__(self) -> None:
        Picky.made += 1
        if Picky.made == 3:
            raise ValueError("the third refuses")

    @behaviour
    def connect(self, peers: tuple[Tag[Picky], ...]) -> None:
        pass


async def test_builders_spawn_all_or_none() -> None:
    async with Runtime() as rt:
        h = iso([1, 2])
        with pytest.raises(NotSendableError, match="moved to one agent only"):
            mesh(rt, Holder, 3, args=(h,), connect=Holder.connect)
        assert h.take() == [1, 2]  # refused before anything moved
        Picky.made = 0
        with pytest.raises(ValueError, match="the third refuses"):
            ring(rt, Picky, 4, connect=Picky.connect)
        # the two made before the failure were stopped; a failed spawn is not an agent
        for _ in range(100):
            if rt.stats().stopped == 2:
                break
            await anyio.sleep(0.01)
        assert (rt.stats().spawned, rt.stats().stopped) == (2, 2)
        with pytest.raises(NotSendableError):
            rt.spawn(Holder, [3])  # type: ignore[arg-type]
        assert rt.stats().spawned == 2


class Stranger(Agent):
    @behaviour
    def link(self, peers: tuple[Tag[Peer], ...]) -> None:
        pass


async def test_a_bad_argument_is_refused_before_any_spawn() -> None:
    async with Runtime() as rt:
        # connect= must be a behaviour of the class: the builder used to spawn every agent
        # first and fail on the wiring, leaving them alive without a Tag to reach them.
        with pytest.raises(CapabilityUsageError, match="is not a behaviour of Peer"):
            ring(rt, Peer, 4, connect=Stranger.link)  # type: ignore[misc]
        with pytest.raises(CapabilityUsageError, match="is not a behaviour"):
            mesh(rt, Peer, 3, connect=lambda agent, peers: None)
        for build, count in ((mesh, 1.5), (ring, "3"), (star, True)):
            with pytest.raises(TypeError, match="n must be an int"):
                build(rt, Peer, count)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="branching must be an int"):
            hierarchical(rt, Peer, 2, 2.0)  # type: ignore[arg-type]
        with pytest.raises(CapabilityUsageError, match="levels >= 1"):
            hierarchical(rt, Peer, 0, 2)
        assert rt.stats().spawned == 0
        m = mesh(rt, Peer, 2)
        with pytest.raises(KeyError, match="is not a node of this mesh"):
            m.neighbours(ring(rt, Peer, 1)[0])
