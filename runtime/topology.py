"""Topology builders: spawn a group of agents and tell each one who its neighbours are.

``mesh`` (everyone knows everyone), ``ring`` (each knows the next), ``star`` (a hub
knows every spoke, each spoke knows the hub) and ``hierarchical`` (a tree: each node
knows its parent and children). Wiring is an ordinary message: pass ``connect=`` the
behaviour that receives the neighbours, and every agent gets it before any message sent
after the builder returns (one sender, one receiver: order is kept). The returned
``Topology`` is the map, for the caller's own routing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from capsys.agent import Agent
from capsys.errors import CapabilityUsageError
from capsys.sendable import refuse_iso_for_many
from capsys.tag import Tag
from runtime.arguments import is_count
from runtime.cell import class_info

if TYPE_CHECKING:
    from runtime.core import Runtime

__all__ = ["Topology", "hierarchical", "mesh", "ring", "star"]

A = TypeVar("A", bound=Agent)


@dataclass(frozen=True)
class Topology(Generic[A]):
    """The spawned agents (in spawn order) and each one's neighbours."""

    kind: str
    nodes: tuple[Tag[A], ...]
    links: Mapping[Tag[A], tuple[Tag[A], ...]] = field(repr=False)
    root: Tag[A] | None = None  # the hub of a star, the top of a hierarchy

    def neighbours(self, node: Tag[A]) -> tuple[Tag[A], ...]:
        """Who ``node`` was told about."""
        try:
            return self.links[node]
        except KeyError:
            raise KeyError(f"{node!r} is not a node of this {self.kind}") from None

    def __iter__(self) -> Iterator[Tag[A]]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, index: int) -> Tag[A]:
        return self.nodes[index]


def _count(what: str, name: str, value: object) -> int:
    if not is_count(value):
        raise TypeError(f"{what}: {name} must be an int, got {value!r}")
    if value < 1:
        raise CapabilityUsageError(f"{what} needs {name} >= 1, got {name}={value}")
    return value


def _spawn_many(
    rt: Runtime,
    cls: Callable[..., A],
    n: int,
    args: tuple[Any, ...],
    what: str,
    connect: Callable[..., object] | None,
) -> tuple[Tag[A], ...]:
    """Spawn all ``n`` or none: arguments are checked first (``connect`` must be a
    behaviour of ``cls``), and a spawn that fails stops the ones already made."""
    _count(what, "n", n)
    if connect is not None and isinstance(cls, type) and issubclass(cls, Agent):
        class_info(cls).resolve(connect)
    refuse_iso_for_many(what, n, args)
    made: list[Tag[A]] = []
    try:
        for _ in range(n):
            made.append(rt.spawn(cls, *args))
    except BaseException:
        for tag in made:
            rt.stop(tag)
        raise
    return tuple(made)


def _wire(
    kind: str,
    nodes: tuple[Tag[A], ...],
    links: Mapping[Tag[A], tuple[Tag[A], ...]],
    connect: Callable[[A, tuple[Tag[A], ...]], object] | None,
    root: Tag[A] | None = None,
) -> Topology[A]:
    if connect is not None:
        for node in nodes:
            node.send(connect, links[node])
    return Topology(kind, nodes, links, root)


def mesh(
    rt: Runtime,
    cls: Callable[..., A],
    n: int,
    *,
    args: tuple[Any, ...] = (),
    connect: Callable[[A, tuple[Tag[A], ...]], object] | None = None,
) -> Topology[A]:
    """``n`` agents of ``cls(*args)``, each told about all the others."""
    nodes = _spawn_many(rt, cls, n, args, "mesh", connect)
    links = {node: tuple(other for other in nodes if other != node) for node in nodes}
    return _wire("mesh", nodes, links, connect)


def ring(
    rt: Runtime,
    cls: Callable[..., A],
    n: int,
    *,
    args: tuple[Any, ...] = (),
    connect: Callable[[A, tuple[Tag[A], ...]], object] | None = None,
) -> Topology[A]:
    """``n`` agents in a ring: agent i is told about agent i+1 (the last about the first)."""
    nodes = _spawn_many(rt, cls, n, args, "ring", connect)
    links = {node: (nodes[(i + 1) % n],) for i, node in enumerate(nodes)}
    return _wire("ring", nodes, links, connect)


def star(
    rt: Runtime,
    cls: Callable[..., A],
    n: int,
    *,
    args: tuple[Any, ...] = (),
    connect: Callable[[A, tuple[Tag[A], ...]], object] | None = None,
) -> Topology[A]:
    """A hub (the first agent) and ``n - 1`` spokes: the hub knows every spoke, each
    spoke knows only the hub."""
    nodes = _spawn_many(rt, cls, n, args, "star", connect)
    hub, spokes = nodes[0], nodes[1:]
    links: dict[Tag[A], tuple[Tag[A], ...]] = {hub: spokes}
    links.update({spoke: (hub,) for spoke in spokes})
    return _wire("star", nodes, links, connect, root=hub)


def hierarchical(
    rt: Runtime,
    cls: Callable[..., A],
    levels: int,
    branching: int,
    *,
    args: tuple[Any, ...] = (),
    connect: Callable[[A, tuple[Tag[A], ...]], object] | None = None,
) -> Topology[A]:
    """A tree ``levels`` deep where each inner node has ``branching`` children.

    Each node's neighbours are its children followed by its parent (the root has no
    parent, leaves have only their parent); ``Topology.root`` is the top.
    """
    _count("hierarchical", "levels", levels)
    _count("hierarchical", "branching", branching)
    size = sum(branching**level for level in range(levels))
    nodes = _spawn_many(rt, cls, size, args, "hierarchical", connect)
    # Breadth-first numbering: the children of node i are i*b+1 .. i*b+b.
    links: dict[Tag[A], tuple[Tag[A], ...]] = {}
    for i, node in enumerate(nodes):
        children = nodes[i * branching + 1 : i * branching + 1 + branching]
        parent = () if i == 0 else (nodes[(i - 1) // branching],)
        links[node] = (*children, *parent)
    return _wire("hierarchical", nodes, links, connect, root=nodes[0])
