"""Snippets for the plugin's rule tests: every line the plugin must report ends with
``# expect: CAPNNN``; every other line must produce no capsys finding."""

from __future__ import annotations

HEADER = """\
from __future__ import annotations

from capsys import Agent, Iso, Ref, Tag, Val, behaviour, consume, iso, message, val
from runtime import Runtime
"""

CASES: dict[str, str] = {}

CASES["send_arguments"] = """
class Sink(Agent):
    @behaviour
    def take(self, data: list[int]) -> None:  # expect: CAP002
        pass

    @behaviour
    def many(self, *data: list[int], **named: list[int]) -> None:  # expect: CAP002
        pass

    @behaviour
    def fine(self, n: int, s: str = "") -> None:
        pass


def use(sink: Tag[Sink], xs: list[int], pairs: dict[str, list[int]]) -> None:
    sink.send(Sink.take, xs)  # expect: CAP001
    sink.send(Sink.take, data=[1])  # expect: CAP001
    sink.send(Sink.many, *[xs])  # expect: CAP001
    sink.send(Sink.many, **pairs)  # expect: CAP001
    sink.send(Sink.fine, 1, s="x")
    sink.send(Sink.fine, *(1,))
    print(sink.buffer)  # expect: CAP007


async def use_async(sink: Tag[Sink], xs: list[int]) -> None:
    await sink.send_wait(Sink.take, xs)  # expect: CAP001
    await sink.ask(Sink.take, xs)  # expect: CAP001
    await sink.ask(Sink.fine, 1)
    await sink.ask(Sink.fine, 1, timeout=2.0)
    await sink.ask(Sink.take, xs, timeout=2.0)  # expect: CAP001
"""

CASES["ask_reply"] = """
class Store(Agent):
    @behaviour
    def dump(self) -> list[int]:  # expect: CAP002
        return []

    @behaviour
    async def adump(self) -> dict[str, int]:  # expect: CAP002
        return {}

    @behaviour
    async def count(self) -> int:
        return 0

    @behaviour
    def names(self) -> tuple[str, ...]:
        return ()


async def use(store: Tag[Store]) -> None:
    await store.ask(Store.dump)  # expect: CAP001
    await store.ask(Store.adump)  # expect: CAP001
    await store.ask(Store.count)
    await store.ask(Store.names)
    store.send(Store.dump)
"""

CASES["spawn_arguments"] = """
from runtime.ray import RayRuntime


class Boss(Agent):
    pass


class Worker(Agent):
    def __init__(self, name: str, boss: Tag[Boss] | None = None) -> None:
        self.name = name
        self.boss = boss
        self.seen: list[str] = []


class Holder(Agent):
    def __init__(self, items: list[int]) -> None:  # expect: CAP002
        self.items = items


class Loose(Agent):
    def __init__(self, items, *more: int) -> None:  # type: ignore[no-untyped-def]  # expect: CAP002
        self.items = items


async def main(items: list[int]) -> None:
    async with Runtime() as rt:
        boss = rt.spawn(Boss)
        rt.spawn(Worker, "w", boss)
        rt.spawn(Worker, name="w", boss=boss)
        rt.spawn(Holder, items)  # expect: CAP001
        rt.spawn(Holder, items=[1])  # expect: CAP001


def on_ray(ray_runtime: RayRuntime, items: list[int]) -> None:
    ray_runtime.spawn(Holder, items)  # expect: CAP001
    ray_runtime.spawn(Worker, "w")
"""

CASES["inherited_init"] = """
class Mixin:
    def __init__(self, items: list[int]) -> None:
        self.items = items


class Mixed(Mixin, Agent):  # expect: CAP002
    pass


class MixedAgain(Mixed):  # reported at Mixed
    pass


class Own(Mixin, Agent):
    def __init__(self) -> None:
        super().__init__([])


class FromOwn(Own):
    pass


class Fine:
    def __init__(self, n: int) -> None:
        self.n = n


class FineAgent(Fine, Agent):
    pass
"""

CASES["wording"] = """
from typing import NamedTuple, TypeVar

L = TypeVar("L", bound=list[int])


class Shown(Agent):
    @behaviour
    def many(self, items: tuple[list[int], ...]) -> None:  # expect: CAP002
        pass

    @behaviour
    def bound(self, items: L) -> None:  # expect: CAP002
        pass

    @behaviour
    async def spread(
        self,
        n: int,
    ) -> list[int]:  # expect: CAP002
        return []

    @behaviour
    def wide(
        self,
    ) -> dict[  # expect: CAP002
        str, int
    ]:
        return {}


# Immutable by itself (mypy says it cannot be a dataclass): only its fields are judged.
@message
class Pair(NamedTuple):  # type: ignore[misc]
    a: int
    b: list[int]  # expect: CAP003
"""

CASES["primitives"] = """
from runtime.primitives import Channel, broadcast, channel, quorum


class Voter(Agent):
    @behaviour
    def vote(self, proposal: str) -> bool:
        return True

    @behaviour
    def vote_on(self, proposal: list[str]) -> bool:  # expect: CAP002
        return True

    @behaviour
    def ballot(self, proposal: str) -> list[str]:  # expect: CAP002
        return []


async def main(voters: list[Tag[Voter]], words: list[str]) -> None:
    await quorum(voters, 2, Voter.vote, "p")
    await quorum(voters, 2, Voter.vote, "p", timeout=1.0)
    await quorum(voters, 2, Voter.vote_on, words)  # expect: CAP001
    await quorum(voters, 2, Voter.ballot, "p")  # expect: CAP001
    await broadcast(voters, Voter.vote, "p")
    await broadcast(voters, Voter.vote, "p", fanout=3)
    await broadcast(voters, Voter.vote_on, words)  # expect: CAP001
    jobs: Channel[list[str]] = channel(4)
    jobs.send(words)  # expect: CAP001
    await jobs.put(["a"])  # expect: CAP001
    names: Channel[str] = channel(4)
    names.send("a")
    await names.put("b")
"""

CASES["sendable_types"] = """
import datetime
import decimal
import enum
import fractions
import pathlib
import uuid
from dataclasses import dataclass
from typing import Generic, Literal, NamedTuple, NewType, Optional, TypeVar, Union


class Color(enum.Enum):
    RED = 1


class Point(NamedTuple):
    x: int
    y: int


@dataclass(frozen=True)
class Frozen:
    name: str
    labels: frozenset[str]


@message
class Order:
    symbol: str
    qty: int
    parent: Optional[Order] = None


T = TypeVar("T")


@dataclass(frozen=True)
class Box(Generic[T]):
    item: T


UserId = NewType("UserId", int)
Pair = tuple[int, str]
Tree = tuple[int, tuple["Tree", ...]]
N = TypeVar("N", bound=int)
S = TypeVar("S", int, str)


class Peer(Agent):
    @behaviour
    def atoms(
        self, a: None, b: bool, c: int, d: float, e: complex, f: str, g: bytes, h: range
    ) -> None:
        pass

    @behaviour
    def stdlib(
        self,
        a: decimal.Decimal,
        b: fractions.Fraction,
        c: datetime.date,
        d: datetime.datetime,
        e: datetime.timedelta,
        f: datetime.time,
        g: datetime.timezone,
        h: uuid.UUID,
        i: pathlib.PurePath,
        j: pathlib.Path,
    ) -> None:
        pass

    @behaviour
    def containers(
        self, a: tuple[int, ...], b: frozenset[str], c: tuple[tuple[int, str], ...], d: Pair, e: Tree
    ) -> None:
        pass

    @behaviour
    def records(
        self, a: Color, b: Point, c: Frozen, d: Order, e: Literal["buy", "sell"], f: UserId
    ) -> Box[int]:
        return Box(1)

    @behaviour
    def caps(
        self, a: Iso[list[int]], b: Tag[Peer], c: Val[tuple[int, ...]], d: int | None, e: Union[int, str]
    ) -> Color:
        return Color.RED

    @behaviour
    def generic(self, a: N, b: S) -> N:
        return a

    @behaviour
    async def reply(self) -> tuple[int, ...]:
        return ()


async def use(peer: Tag[Peer], order: Order) -> None:
    peer.send(Peer.containers, (1, 2), frozenset({"a"}), ((1, "a"),), (1, "a"), (1, ()))
    peer.send(Peer.records, Color.RED, Point(1, 2), Frozen("a", frozenset()), order, "buy", UserId(3))
    peer.send(Peer.caps, iso([1]), peer, (1,), None, 3)
    peer.send(Peer.generic, 1, "s")
    box = await peer.ask(Peer.records, Color.RED, Point(1, 2), Frozen("a", frozenset()), order, "sell", UserId(1))
    assert box.item == 1
    await peer.ask(Peer.reply)
"""

CASES["unsendable_types"] = """
import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, NewType, Protocol, TypeVar


class Mutable:
    def __init__(self) -> None:
        self.n = 0


@dataclass
class Plain:
    n: int


@dataclass(frozen=True)
class FrozenHolder:
    items: list[int]


class Bag(NamedTuple):
    items: list[int]


class Readable(Protocol):
    def read(self) -> bytes: ...


class Base(abc.ABC):
    @abc.abstractmethod
    def run(self) -> None: ...


@dataclass(frozen=True)
class Node:
    children: tuple[Node, ...]
    data: list[int]


T = TypeVar("T")
L = TypeVar("L", bound=list[int])


@dataclass(frozen=True)
class Box(Generic[T]):
    item: T


Bucket = NewType("Bucket", list[int])
Rows = list[tuple[int, str]]


class Bad(Agent):
    @behaviour
    def take(
        self,
        a: list[int],  # expect: CAP002
        b: dict[str, int],  # expect: CAP002
        c: set[int],  # expect: CAP002
        d: bytearray,  # expect: CAP002
        e: Mutable,  # expect: CAP002
        f: Plain,  # expect: CAP002
        g: FrozenHolder,  # expect: CAP002
        h: Bag,  # expect: CAP002
        i: Readable,  # expect: CAP002
        j: Base,  # expect: CAP002
        k: Sequence[int],  # expect: CAP002
        m: Mapping[str, int],  # expect: CAP002
        n: Iterable[int],  # expect: CAP002
        o: object,  # expect: CAP002
        p: Callable[[], None],  # expect: CAP002
        q: tuple[int, list[int]],  # expect: CAP002
        r: int | list[int],  # expect: CAP002
        s: Bucket,  # expect: CAP002
        t: Rows,  # expect: CAP002
        u: Node,  # expect: CAP002
        v: frozenset[Mutable],  # expect: CAP002
        w: Ref[int],  # expect: CAP002
        x: memoryview,  # expect: CAP002
        y: Box[list[int]],  # expect: CAP002
        z: type[int],  # expect: CAP002
    ) -> None:
        pass

    @behaviour
    def unbounded(self, item: T) -> None:  # expect: CAP002
        pass

    @behaviour
    def bounded(self, item: L) -> None:  # expect: CAP002
        pass


def use(bad: Tag[Bad], box: Box[list[int]], union: int | set[int], node: Node) -> None:
    bad.send(Bad.unbounded, box)  # expect: CAP001
    bad.send(Bad.unbounded, union)  # expect: CAP001
    bad.send(Bad.unbounded, node)  # expect: CAP001
    bad.send(Bad.unbounded, lambda: None)  # expect: CAP001
    bad.send(Bad.unbounded, Box(1))
    bad.send(Bad.unbounded, Box(Box([1])))  # expect: CAP001
    bad.send(Bad.unbounded, Box(Box(1)))
"""

CASES["messages"] = """
from dataclasses import dataclass
from typing import Optional


class Sink(Agent):
    pass


@dataclass
class Base:
    n: int


@message
class Good:
    a: int
    b: tuple[str, ...]
    c: Tag[Sink]
    d: Later | None
    e: Optional[Good] = None


@message
class Later:
    x: frozenset[int]


@message
class Bad:
    a: list[int]  # expect: CAP003
    b: dict[str, int]  # expect: CAP003
    c: int
    d: Sink  # expect: CAP007
    e: Optional[Sink] = None  # expect: CAP007


@message
class Child(Base):  # expect: CAP003
    m: int


@message
class Grandchild(Good):
    z: str = ""


@message
class Settable:  # expect: CAP003
    n: int

    def __setattr__(self, name: str, value: object) -> None:
        pass


@message
@dataclass
class Stacked:  # expect: CAP003
    n: int
"""

CASES["val"] = """
from dataclasses import dataclass
from typing import Any, TypeVar


@dataclass
class Plain:
    n: int


settings: Val[dict[str, int]] = {"a": 1}  # expect: CAP004
names: Val[tuple[str, ...]] = ("a",)
nested: Val[tuple[list[int], ...]] = ()  # expect: CAP004


def f(x: Val[list[int]], y: Val[frozenset[str]]) -> None:  # expect: CAP004
    pass


limits = val([1, 2])  # expect: CAP004
pair = val((1, "a"))
frozen = val(frozenset({1}))
plain = val(Plain(1))  # expect: CAP004
moved = val(iso([1]))  # expect: CAP004


def loose(x: Any, y: Val[Any]) -> None:
    val(x)


class Sink(Agent):
    @behaviour
    def put(self, v: Any) -> None:  # type: ignore[CAP012]
        pass

    @behaviour
    def pair(self, v: tuple[int, ...], w: Any) -> None:  # type: ignore[CAP012]
        pass


def share(sink: Tag[Sink], xs: list[int]) -> None:
    # One mistake, one finding: the val() argument is CAP004, not CAP001 as well.
    sink.send(Sink.put, val([1]))  # expect: CAP004
    sink.send(Sink.put, val(Plain(1)))  # expect: CAP004
    sink.send(Sink.pair, (1,), val(xs))  # expect: CAP004
    sink.send(Sink.put, val((1, 2)))


T = TypeVar("T")
L = TypeVar("L", bound=list[int])


def generic(x: Val[T], y: Val[L]) -> Val[T]:  # expect: CAP004
    return x
"""

CASES["agent_state"] = """
class Counter(Agent):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    @behaviour
    def inc(self) -> None:
        self.n += 1


class Sub(Counter):
    def __init__(self) -> None:
        super().__init__()
        Counter.__init__(self)


counter = Counter()  # expect: CAP007


def make() -> Sub:
    return Sub()  # expect: CAP007


def poke(tag: Tag[Counter]) -> int:
    tag.send(Counter.inc)
    print(tag == tag, hash(tag))
    return tag.n  # expect: CAP007


class Keeper(Agent):
    @behaviour
    def keep(self, c: Counter) -> None:  # expect: CAP007
        pass


def leak(keeper: Tag[Keeper], obj: Counter) -> None:
    keeper.send(Keeper.keep, obj)  # expect: CAP007


async def spawned() -> None:
    async with Runtime() as rt:
        tag = rt.spawn(Sub)
        tag.send(Counter.inc)
"""

CASES["agent_fields"] = """
from typing import Optional


class Peer(Agent):
    pass


class Holder(Agent):
    held: Peer  # expect: CAP007
    maybe: Optional[Peer] = None  # expect: CAP007
    table: dict[str, Peer]  # expect: CAP007
    address: Tag[Peer]
    kind: type[Peer]
    count: int = 0

    def __init__(self, peer: Tag[Peer]) -> None:
        self.peer: Peer | None = None  # expect: CAP007
        self.peers: list[Peer] = []  # expect: CAP007
        self.ok: Tag[Peer] | None = peer
        self.tags: list[Tag[Peer]] = [peer]
        self.kinds: type[Peer] | None = None
        self.plain = None
        local: Peer | None = None
        if local is None:
            self.nested: Optional[Peer] = local  # expect: CAP007

    def later(self) -> None:
        self.ahead: FieldLater | None = None  # expect: CAP007

    @behaviour
    def ping(self) -> None:
        self.again: set[Peer] = set()  # expect: CAP007

    @staticmethod
    def make(other: Peer | None) -> None:
        local: Peer | None = other
        print(local)


def plain(p: Peer) -> Peer | None:
    q: Peer | None = p
    return q


class NotAnAgent:
    def __init__(self) -> None:
        self.peer: Peer | None = None


class FieldLater(Agent):
    pass
"""

CASES["self_escape"] = """
@message
class Hello:
    sender: Tag[Worker]


class Boss(Agent):
    @behaviour
    def register(self, worker: Tag[Worker]) -> None:
        pass

    @behaviour
    def greet(self, hello: Hello) -> None:
        pass

    @behaviour
    def pair(self, item: tuple[Tag[Worker], int]) -> None:
        pass


class Helper(Agent):
    def __init__(self, parent: Tag[Worker]) -> None:
        self.parent = parent


class Worker(Agent):
    @behaviour
    async def hello(self, boss: Tag[Boss]) -> None:
        boss.send(Boss.register, self)  # type: ignore[arg-type]  # expect: CAP008
        boss.send(Boss.greet, Hello(self))  # type: ignore[arg-type]  # expect: CAP008
        boss.send(Boss.pair, (self, 1))  # type: ignore[arg-type]  # expect: CAP008
        me = self
        boss.send(Boss.register, me)  # type: ignore[arg-type]  # expect: CAP008
        self.runtime.spawn(Helper, self)  # type: ignore[arg-type]  # expect: CAP008
        await boss.ask(Boss.register, self)  # type: ignore[call-overload]  # expect: CAP008
        handle = iso(self)  # expect: CAP008
        boss.send(Boss.register, val(self))  # type: ignore[arg-type]  # expect: CAP008
        boss.send(Boss.register, val(me))  # type: ignore[arg-type]  # expect: CAP008
        shared = val(self)  # expect: CAP008
        del shared
        boss.send(Boss.register, self.me)
        boss.send(Boss.greet, Hello(self.me))
        self.runtime.spawn(Helper, self.me)
        del handle

    def relay(self, boss: Tag[Boss], other: Worker) -> None:
        # Another object of the agent's own class is held, not self leaving (CAP007).
        boss.send(Boss.register, other)  # type: ignore[arg-type]  # expect: CAP007
        if other is not self:
            you = me = self
            also = me
            boss.send(Boss.register, also)  # type: ignore[arg-type]  # expect: CAP008
            del you
"""

CASES["any"] = """
import json
from typing import Any

from nowhere import thing  # type: ignore[import-not-found]


class Store(Agent):
    @behaviour
    def put(self, item: str) -> None:
        pass

    @behaviour
    def put_any(self, item: Any) -> None:  # expect: CAP012
        pass

    @behaviour
    def put_many(self, items: tuple[str, ...]) -> None:
        pass


def use(store: Tag[Store], item: Any, raw: str, loose: tuple[Any, ...]) -> None:
    store.send(Store.put, item)  # expect: CAP012
    store.send(Store.put, json.loads(raw))  # expect: CAP012
    store.send(Store.put, thing)  # expect: CAP012
    store.send(Store.put_many, loose)  # expect: CAP012
    store.send(Store.put, "fine")
"""

CASES["suppressed"] = """
class Sink(Agent):
    @behaviour
    def take(self, data: list[int]) -> None:  # type: ignore[CAP002]
        pass


def use(sink: Tag[Sink]) -> None:
    sink.send(Sink.take, [1])  # type: ignore[CAP001]
    sink.send(Sink.take, [2])  # expect: CAP001
"""

CASES["spec_example"] = """
@message
class Order:
    symbol: str
    qty: int


class Desk(Agent):
    pass


class Book(Agent):
    def __init__(self, owner: Tag["Desk"]) -> None:
        self.owner = owner
        self.orders: list[Order] = []

    @behaviour
    def add(self, order: Order) -> None:
        self.orders.append(order)

    @behaviour
    async def bulk(self, batch: Iso[list[Order]]) -> int:
        items = batch.take()
        self.orders.extend(items)
        return len(self.orders)


async def main() -> None:
    async with Runtime() as rt:
        desk = rt.spawn(Desk)
        book = rt.spawn(Book, desk)
        book.send(Book.add, Order("AAPL", 10))
        n = await book.ask(Book.bulk, iso([Order("MSFT", 5)]))
        print(n)
"""

CASES["variants"] = """
from typing import TypeVar

T = TypeVar("T")
I = TypeVar("I", bound=int)


class Sink(Agent):
    @behaviour
    def take(self, item: object) -> None:  # expect: CAP002
        pass

    @behaviour
    def config(self, cfg: Val[list[int]]) -> None:  # expect: CAP004
        pass

    @behaviour
    def ping(self) -> None:
        pass

    @behaviour
    async def later(self, other: Tag[Sink]) -> None:
        def inner() -> None:
            other.send(Sink.take, self)  # expect: CAP008

        inner()
        self.me.send(Sink.take, self.me)
        self.me.send(Sink.take, self.runtime)  # expect: CAP001


async def use(sink: Tag[Sink], local: Ref[list[int]], item: T, small: I) -> T:
    sink.send(Sink.take, local)  # expect: CAP001
    sink.send(Sink.take, item)  # expect: CAP001
    sink.send(Sink.take, small)
    await sink.ask(Sink.take, [1])  # type: ignore[CAP001]
    await sink.ask(Sink.ping)
    sink.send(Sink.take, (1, (2, "x"), frozenset({3.0})))
    sink.send(Sink.take, {"a": 1})  # expect: CAP001
    sink.send(Sink.take, {1, 2})  # expect: CAP001
    sink.send(Sink.take, bytearray(b"x"))  # expect: CAP001
    return item
"""

CASES["forward_references"] = """
from typing import Optional


class Early(Agent):
    def __init__(
        self,
        peer: Tag[LaterAgent],
        note: LaterMessage,
        maybe: Optional[LaterMessage],
        notes: list[LaterMessage],  # expect: CAP002
        box: LaterBox,  # expect: CAP002
        other: LaterAgent,  # expect: CAP007
    ) -> None:
        self.peer = peer

    @behaviour
    def ping(self) -> None:
        pass


class NoBehaviours(Agent):
    def __init__(self, items: list[int], peer: Tag[LaterAgent]) -> None:  # expect: CAP002
        self.items = items


class LaterAgent(Agent):
    pass


@message
class LaterMessage:
    text: str


class LaterBox:
    def __init__(self) -> None:
        self.items: list[int] = []
"""

# An agent without a behaviour: its __init__ and fields are judged at semantic analysis
# only, where a class defined later in the module is not known on the first pass. (No
# class-level annotation names a later class here: mypy would analyse the module twice
# for it anyway.)
CASES["forward_references_without_behaviours"] = """
import enum
from dataclasses import dataclass
from typing import NamedTuple, Optional


class Book(Agent):
    def __init__(
        self,
        cfg: LaterPlain,  # expect: CAP002
        desk: LaterDesk,  # expect: CAP007
        notes: list[LaterNote],  # expect: CAP002
        thawed: LaterThawed,  # expect: CAP002
        bad_alias: LaterBadAlias,  # expect: CAP002
        desks: tuple[LaterDesk, ...],  # expect: CAP002
        address: Tag[LaterDesk],
        quoted: Tag["LaterDesk"],
        note: LaterNote,
        maybe: Optional[LaterNote],
        pair: LaterPair,
        frozen: LaterFrozen,
        colour: LaterColour,
        alias: LaterAlias,
        moved: Iso[LaterPlain],
    ) -> None:
        self.peer: LaterDesk | None = None  # expect: CAP007
        self.peers: dict[str, LaterDesk] = {}  # expect: CAP007
        self.address: Tag[LaterDesk] | None = address
        self.note: LaterNote | None = None
        self.plain: LaterPlain | None = None


class Clean(Agent):
    def __init__(self, desk: Tag[LaterDesk], note: LaterNote, pair: LaterPair) -> None:
        self.desk = desk
        self.ok: Tag[LaterDesk] = desk


class LaterDesk(Agent):
    pass


class LaterPlain:
    pass


@message
class LaterNote:
    text: str


class LaterPair(NamedTuple):
    a: int
    b: str


@dataclass(frozen=True)
class LaterFrozen:
    a: int


@dataclass
class LaterThawed:
    a: int


class LaterColour(enum.Enum):
    RED = 1


LaterAlias = tuple[int, str]
LaterBadAlias = list[int]
"""

# Records defined before the agent whose fields name classes defined after it: the
# agent's __init__ is judged at semantic analysis, where those fields were not settled
# yet on the first pass (every parameter here was CAP012).
CASES["forward_fields_without_behaviours"] = """
from dataclasses import dataclass
from typing import NamedTuple, Optional


@message
class Outer:
    inner: "Inner"
    maybe: Optional["Inner"]
    boss: Tag["Boss"]


@dataclass(frozen=True)
class Frozen:
    outer: Outer
    pairs: tuple["Pair", ...]


@message
class Loose:
    plain: "Plain"  # expect: CAP003


class Holder(Agent):
    def __init__(
        self,
        outer: Outer,
        frozen: Frozen,
        val_outer: Val[Outer],
        loose: Loose,  # expect: CAP002
    ) -> None:
        self.outer = outer


@message
class Inner:
    x: int


class Pair(NamedTuple):
    a: int
    b: "Inner"


class Plain:
    pass


class Boss(Agent):
    pass
"""

# self as an item of a tuple, list or set display (at any depth): CAP008 at self; a
# list or set holding it is a second mistake (CAP001, CAP004), a tuple is not.
CASES["self_in_displays"] = """
from runtime.primitives.channel import Channel


@message
class Hello:
    who: object  # expect: CAP003


class Sink(Agent):
    @behaviour
    def put(self, x: object) -> None:  # expect: CAP002
        pass


class Worker(Agent):
    @behaviour
    def go(self, t: Tag[Sink], ch: Channel[object]) -> None:
        t.send(Sink.put, [self])  # expect: CAP001, CAP008
        t.send(Sink.put, {self})  # expect: CAP001, CAP008
        t.send(Sink.put, x=[self])  # expect: CAP001, CAP008
        t.send(Sink.put, [(1, self)])  # expect: CAP001, CAP008
        t.send(Sink.put, (1, [self]))  # expect: CAP001, CAP008
        t.send(Sink.put, (self, [1]))  # expect: CAP008
        t.send(Sink.put, ((1, self), 2))  # expect: CAP008
        t.send(Sink.put, *[self])  # expect: CAP008
        t.send(Sink.put, Hello([self]))  # expect: CAP001, CAP008
        ch.send([self])  # expect: CAP001, CAP008
        me = self
        t.send(Sink.put, [me])  # expect: CAP001, CAP008
        moved = iso([self])  # expect: CAP008
        shared = val((1, self))  # expect: CAP008
        frozen = val([self])  # expect: CAP004, CAP008
        print(moved, shared, frozen)
        t.send(Sink.put, [self.me])  # expect: CAP001
        t.send(Sink.put, (1, self.me))
        t.send(Sink.put, Hello((self.me,)))  # expect: CAP001
        t.send(Sink.put, {1: self})  # expect: CAP001
"""

# The result of a behaviour is the reply of an ask: self leaves the agent in it.
CASES["returned_self"] = """
class Other(Agent):
    pass


class Keeper(Agent):
    def __init__(self, other: object) -> None:  # expect: CAP002
        self.count = 0
        self.other = other

    @behaviour
    def whoami(self) -> object:  # expect: CAP002
        return self  # expect: CAP008

    @behaviour
    def pair(self) -> tuple[int, object]:  # expect: CAP002
        return (1, self)  # expect: CAP008

    @behaviour
    async def later(self, flag: bool) -> object:  # expect: CAP002
        me = self
        if flag:
            return me  # expect: CAP008
        for _ in range(2):
            try:
                return [self]  # expect: CAP008
            finally:
                pass
        return None

    @behaviour
    def address(self) -> Tag[Keeper]:
        return self.me

    @behaviour
    def counted(self) -> int:
        return self.count

    @behaviour
    def addresses(self) -> tuple[Tag[Keeper], ...]:
        return (self.me, self.me)

    @behaviour
    def listed(self) -> list[Tag[Keeper]]:  # expect: CAP002
        return [self.me]

    @behaviour
    def rebound(self, flag: bool) -> object:  # expect: CAP002
        me = self
        if flag:
            me = self.other  # type: ignore[assignment]
        return me

    @behaviour
    def walrus(self) -> object:  # expect: CAP002
        me = self
        if me := self.other:  # type: ignore[assignment]
            pass
        return me

    @behaviour
    def nested(self) -> int:
        def inner() -> Keeper:
            return self

        class Local:
            def get(self) -> Local:
                return self

        print(inner, Local, lambda: self)
        return 1

    def helper(self) -> Keeper:
        return self


class NotAnAgent:
    def get(self) -> NotAnAgent:
        return self
"""

# A Channel is shared by reference between agents, like a Tag; it is never a Val.
CASES["channel_shared"] = """
from runtime import Channel, channel


@message
class Wiring:
    jobs: Channel[str]
    done: Channel[int]


class Station(Agent):
    def __init__(self, wiring: Wiring) -> None:
        self.wiring = wiring

    @behaviour
    async def serve_one(self) -> None:
        job = await self.wiring.jobs.get()
        await self.wiring.done.put(len(job))


def frozen(ch: Val[Channel[int]]) -> None:  # expect: CAP004
    pass


async def main() -> None:
    async with Runtime() as rt:
        wiring = Wiring(channel(2), channel(2))
        rt.spawn(Station, wiring).send(Station.serve_one)
        wiring.jobs.send("abc")
        print(await wiring.done.get())
"""

# An InitVar is an __init__ parameter and `_: KW_ONLY` a marker: neither is stored, so
# neither is judged as a field (the runtime accepts these classes too).
CASES["pseudo_fields"] = """
from dataclasses import KW_ONLY, InitVar, dataclass


@message
class Job:
    n: int
    scale: InitVar[list[int]]
    _: KW_ONLY
    prio: int = 0

    def __post_init__(self, scale: list[int]) -> None:
        pass


@dataclass(frozen=True)
class Seeded:
    name: str
    seed: InitVar[int]

    def __post_init__(self, seed: int) -> None:
        pass


@dataclass(frozen=True)
class Opts:
    a: int
    _: KW_ONLY
    b: list[str]


@message
class Later(Job):
    extra: str = ""


@message
class StillChecked:
    _: KW_ONLY
    items: list[int]  # expect: CAP003


class Runner(Agent):
    @behaviour
    def run(self, job: Job, seeded: Seeded, later: Later) -> None:
        pass

    @behaviour
    def opts(self, o: Opts) -> None:  # expect: CAP002
        pass


def go(t: Tag[Runner]) -> None:
    t.send(Runner.run, Job(1, [2], prio=3), Seeded("s", 1), Later(1, [], extra="x"))
"""

# The topology builders spawn every agent with their args= (spawn's arguments).
CASES["topology_arguments"] = """
from runtime import hierarchical, mesh, ring, star


class Node(Agent):
    def __init__(self, name: str, *rest: object) -> None:  # type: ignore[CAP002]
        self.name = name

    @behaviour
    def connect(self, peers: tuple[Tag[Node], ...]) -> None:
        pass

    def again(self, rt: Runtime) -> None:
        ring(rt, Node, 2, args=("n", self))  # expect: CAP008


async def main(shared: list[str], names: tuple[list[str], ...], node: Node) -> None:
    async with Runtime() as rt:
        mesh(rt, Node, 3, args=("n",), connect=Node.connect)
        ring(rt, Node, 3, args=(shared,), connect=Node.connect)  # expect: CAP001
        star(rt, Node, 3, args=("n", shared))  # expect: CAP001
        hierarchical(rt, Node, 2, 2, args=names)  # expect: CAP001
        mesh(rt, Node, 2, args=("n", node))  # expect: CAP007
        mesh(rt, Node, 2, args=("n", (1, 2)))
        rt.spawn(Node, "n", shared)  # expect: CAP001
"""

# A generic forwarding helper: the behaviour (and so its result) is not known at its
# ask; every behaviour's result is checked where it is defined.
CASES["forwarded_reply"] = """
from collections.abc import Awaitable, Callable, Iterable
from typing import Concatenate, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
A = TypeVar("A", bound=Agent)


async def ask_all(
    tags: Iterable[Tag[A]], b: Callable[Concatenate[A, P], R], *args: P.args, **kwargs: P.kwargs
) -> list[R]:
    return [await t.ask(b, *args, **kwargs) for t in tags]


async def ask_async(
    t: Tag[A], b: Callable[Concatenate[A, P], Awaitable[R]], *args: P.args, **kwargs: P.kwargs
) -> R:
    return await t.ask(b, *args, **kwargs)


async def ask_list(
    t: Tag[A], b: Callable[Concatenate[A, P], list[R]], *args: P.args, **kwargs: P.kwargs
) -> list[R]:
    return await t.ask(b, *args, **kwargs)  # expect: CAP001


class Store(Agent):
    @behaviour
    def dump(self) -> list[int]:  # expect: CAP002
        return []

    @behaviour
    def count(self) -> int:
        return 0


async def use(stores: list[Tag[Store]]) -> None:
    print(await ask_all(stores, Store.count), await ask_all(stores, Store.dump))
    await stores[0].ask(Store.dump)  # expect: CAP001
"""

CASES["value_type_subclasses"] = """
class Pair(tuple[int, int]):
    pass


class Name(str):
    pass


class Coords(tuple[int, ...]):
    pass


class Holder(Agent):
    @behaviour
    def take(self, p: Pair, n: Name, c: Coords) -> None:  # expect: CAP002
        pass


def use(h: Tag[Holder]) -> None:
    h.send(Holder.take, Pair((1, 2)), Name("a"), Coords((1,)))  # expect: CAP001
"""

CASES["unpacked_keywords"] = """
from typing_extensions import TypedDict, Unpack


class Opts(TypedDict):
    a: int
    b: str


class Rows(TypedDict):
    rows: list[int]


class Tagged(Opts):
    tags: set[str]


Named = TypedDict("Named", {"names": list[str], "k": int})


class Configured(Agent):
    def __init__(self, **kw: Unpack[Named]) -> None:  # expect: CAP002
        self.kw = kw

    @behaviour
    def opt(self, **kw: Unpack[Opts]) -> None:
        pass

    @behaviour
    def rows(self, **kw: Unpack[Rows]) -> None:  # expect: CAP002
        pass

    @behaviour
    def tagged(self, **kw: Unpack[Tagged]) -> None:  # expect: CAP002
        pass


def use(c: Tag[Configured]) -> None:
    c.send(Configured.opt, a=1, b="x")
"""

CASES["dataclass_agents"] = """
import dataclasses
from dataclasses import InitVar, field
from typing import ClassVar


@dataclasses.dataclass
class Keeper(Agent):
    items: list[int]  # expect: CAP002
    n: int = 0
    shared: ClassVar[list[int]] = []
    cache: dict[str, int] = field(default_factory=dict, init=False)
    seed: InitVar[set[int] | None] = None  # expect: CAP002

    def __post_init__(self, seed: set[int] | None) -> None:
        pass

    @behaviour
    def size(self) -> int:
        return len(self.items)


@dataclasses.dataclass
class Quiet(Agent):
    names: dict[str, int]  # expect: CAP002


@dataclasses.dataclass(init=False)
class Own(Agent):
    items: list[int]

    def __init__(self, n: int) -> None:
        self.items = [n]
"""

CASES["abstract_types_and_plain_subclasses"] = """
from collections.abc import AsyncIterator, Awaitable, Hashable, Sized


@message
class Point:
    x: int


class Tagged(Point):
    pass


class Mixed(Agent):
    @behaviour
    def hashable(self, x: Hashable) -> None: ...  # expect: CAP002

    @behaviour
    def sized(self, x: Sized) -> None: ...  # expect: CAP002

    @behaviour
    def tagged(self, x: Tagged) -> None: ...  # expect: CAP002

    @behaviour
    def point(self, x: Point) -> None: ...

    @behaviour
    def later(self) -> Awaitable[int]: ...  # expect: CAP002

    @behaviour
    async def stream(self) -> AsyncIterator[int]:  # expect: CAP002
        yield 1
"""

CASES["called_through_the_class"] = """
class Through(Agent):
    @behaviour
    def put(self, x: int) -> int:
        return x


async def use(t: Tag[Through]) -> None:
    Tag.send(t, Through.put, 1)
    type(t).send(t, Through.put, 1)
    await Tag.ask(t, Through.put, 1)
    Tag.send(t, Through.put, [1])  # type: ignore[arg-type]  # expect: CAP001
    async with Runtime() as rt:
        Runtime.spawn(rt, Through)
"""
