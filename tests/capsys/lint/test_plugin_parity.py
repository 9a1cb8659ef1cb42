"""Places where the linter used to stay silent (or word a finding differently) although
the mypy plugin, given the same program, reports it: topology builders' ``args=``, type
aliases, NewTypes, TypeVars and standard-library classes in annotations, ``val(self)``,
``self`` put in a channel, calls of project functions with a declared return type, and
Tags held in a mapping. Each at its code, line and column, with the plugin's wording."""

from __future__ import annotations

from pathlib import Path

from tests.capsys.lint.helpers import HEADER, found, lint_code, where

# -- 1. the topology builders spawn with their args= ---------------------------------

TOPOLOGY = """
from runtime import Runtime
from runtime.topology import hierarchical, mesh, ring, star

class W(Agent):
    def __init__(self, label: object) -> None:
        self.label = label

    @behaviour
    def go(self) -> None:
        mesh(self.runtime, W, 2, args=(self,))
        ring(self.runtime, W, 2, args=("ok", (1, self)))

def build(rt: Runtime, words: list[str]) -> None:
    mesh(rt, W, 3, args=(["x"],))
    ring(rt, W, 3, args=(words,))
    star(rt, W, 3, args=({"k": 1},))
    hierarchical(rt, W, 2, 2, args=([],))
    mesh(rt, W, 3, args=("fine", (1, 2)))
    ring(rt, W, 3)
"""


def test_topology_args_are_spawn_arguments_cap001(tmp_path: Path) -> None:
    assert found(HEADER + TOPOLOGY, tmp_path, "CAP001") == [
        where(TOPOLOGY, '["x"]'),
        where(TOPOLOGY, "words,)"),
        where(TOPOLOGY, '{"k": 1}'),
        where(TOPOLOGY, "[],)"),
    ]


def test_topology_args_self_is_cap008(tmp_path: Path) -> None:
    assert found(HEADER + TOPOLOGY, tmp_path, "CAP008") == [
        where(TOPOLOGY, "self,))"),
        where(TOPOLOGY, "self)))"),
    ]


def test_topology_messages_use_the_plugin_wording(tmp_path: Path) -> None:
    messages = [d.message for d in lint_code(HEADER + TOPOLOGY, tmp_path)]
    assert (
        "self (the agent object) is passed as argument 1 of mesh of W; "
        "send self.me (its Tag) instead" in messages
    )
    assert (
        "self (the agent object) is passed as argument 2 of ring of W; "
        "send self.me (its Tag) instead" in messages
    )
    assert (
        "Argument 1 of ring of W (list[str]) is not sendable: use tuple[...] to share it, "
        "or Iso[list[...]] to move it" in messages
    )


def test_topology_agent_object_in_args_is_cap007(tmp_path: Path) -> None:
    code = (
        TOPOLOGY + "def more(rt: Runtime, other: W) -> None:\n    star(rt, W, 2, args=(other,))\n"
    )
    assert found(HEADER + code, tmp_path, "CAP007") == [where(code, "other,))")]


# -- 2. annotations evident in the project: aliases, NewType, TypeVar, stdlib ---------

UNRESOLVED = """
import io
import threading
from typing import NewType, TypeAlias, TypeVar

Names = list[str]
Pairs: TypeAlias = "dict[str, int]"
Bag = NewType("Bag", list[int])
U = TypeVar("U")
B = TypeVar("B", bound=set[int])
C = TypeVar("C", int, str)
Fine = tuple[str, ...]

@message
class Batch:
    names: Names
    pairs: Pairs
    bag: Bag
    buf: io.StringIO
    ok: Fine

class Svc(Agent):
    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock

    @behaviour
    def put(self, names: Names, x: U, y: B, z: C) -> None:
        pass
"""


def test_aliases_newtypes_and_stdlib_classes_are_resolved(tmp_path: Path) -> None:
    assert found(HEADER + UNRESOLVED, tmp_path, "CAP003") == [
        where(UNRESOLVED, "names: Names"),
        where(UNRESOLVED, "pairs"),
        where(UNRESOLVED, "bag"),
        where(UNRESOLVED, "buf"),
    ]
    assert found(HEADER + UNRESOLVED, tmp_path, "CAP002") == [
        where(UNRESOLVED, "lock"),
        where(UNRESOLVED, "names: Names, x"),
        where(UNRESOLVED, "x: U"),
        where(UNRESOLVED, "y: B"),
    ]


def test_unresolved_messages_match_the_plugin(tmp_path: Path) -> None:
    messages = [d.message for d in lint_code(HEADER + UNRESOLVED, tmp_path)]
    assert (
        'Field "bag" of message Batch: its type list[int] is not sendable: use tuple[...] '
        "to share it, or Iso[list[...]] to move it" in messages
    )
    assert (
        'Parameter "lock" (LockType) of Svc.__init__ is not sendable: it is mutable or may '
        "hold mutable values; make it a @message / frozen dataclass, or move it as Iso[...]"
        in messages
    )
    assert (
        'Parameter "x" (U) of behaviour Svc.put is not sendable: an unbounded type variable '
        "admits mutable values; bound it by a sendable type" in messages
    )


def test_pep695_alias_and_alias_from_another_file(tmp_path: Path) -> None:
    code = """
from kinds import Remote
type Local = list[str]

class Svc(Agent):
    @behaviour
    def a(self, x: Local, y: Remote) -> None:
        pass
"""
    files = {"kinds.py": "from typing import TypeAlias\nRemote: TypeAlias = set[int]\n"}
    assert found(HEADER + code, tmp_path, "CAP002", files=files) == [
        where(code, "x: Local"),
        where(code, "y: Remote"),
    ]


def test_stdlib_enums_typing_and_third_party_stay_clean(tmp_path: Path) -> None:
    code = """
import dataclasses
import enum
import typing
from elsewhere import Thing
Twice = list[int]
Twice = tuple[int, int]
Pair = tuple[int, typing.TypeVar("T")]

@message
class M:
    level: enum.IntEnum
    when: "datetime.date"
    later: dataclasses.InitVar[list[int]]

class Svc(Agent):
    @behaviour
    def a(self, t: Thing, w: Twice, p: typing.Text, q: Pair[int]) -> None:
        pass
"""
    assert found(HEADER + "import datetime\n" + code, tmp_path, "CAP002") == []
    assert found(HEADER + "import datetime\n" + code, tmp_path, "CAP003") == []


def test_a_project_module_named_like_a_stdlib_one_is_not_stdlib(tmp_path: Path) -> None:
    code = """
from queue import Box

class Svc(Agent):
    @behaviour
    def a(self, b: Box) -> None:
        pass
"""
    files = {"queue.py": "from capsys import message\n@message\nclass Box:\n    n: int\n"}
    assert found(HEADER + code, tmp_path, "CAP002", files=files) == []


def test_stdlib_class_sent_is_cap001(tmp_path: Path) -> None:
    code = """
import asyncio

class Svc(Agent):
    @behaviour
    def a(self, n: int) -> None:
        pass

def f(t: Tag[Svc], ev: asyncio.Event) -> None:
    t.send(Svc.a, ev)
"""
    assert found(HEADER + code, tmp_path, "CAP001") == [where(code, "ev)")]


# -- 3. val(self) -----------------------------------------------------------------------


def test_val_of_self_is_cap008(tmp_path: Path) -> None:
    code = """
class Peer(Agent):
    @behaviour
    def go(self) -> None:
        x = val(self)
        y = val(self.me)
"""
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP008", "CAP004"})
    assert [(d.code, d.line, d.column) for d in diagnostics] == [
        ("CAP008", *where(code, "self)\n")),
    ]
    assert diagnostics[0].message == (
        "self (the agent object) is passed to val(); send self.me (its Tag) instead"
    )


# -- 4. self put in a channel -------------------------------------------------------------


def test_self_put_in_a_channel_is_cap008_with_channel_wording(tmp_path: Path) -> None:
    code = """
from runtime.primitives import Channel, channel

class P(Agent):
    @behaviour
    async def go(self) -> None:
        ch: Channel[Tag[P]] = channel(2)
        ch.send(self)
        await ch.put(self)
        await ch.put(self.me)
"""
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP008"})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(code, "self)\n"),
        where(code, "self)\n", 1),
    ]
    assert [d.message.split(";")[0] for d in diagnostics] == [
        "self (the agent object) is passed as argument 1 of Channel.send",
        "self (the agent object) is passed as argument 1 of Channel.put",
    ]


# -- 5. evident results and mappings of Tags ------------------------------------------------


def test_call_of_a_project_function_with_a_declared_return_type(tmp_path: Path) -> None:
    code = """
from typing import TypeVar
T = TypeVar("T")

def make() -> list[int]:
    return []

def same(x: T) -> T:
    return x

def fine() -> tuple[int, ...]:
    return ()

async def later() -> list[int]:
    return []

class W(Agent):
    @behaviour
    def b(self, n: object) -> None:
        pass

    @behaviour
    def go(self, t: Tag[W]) -> None:
        t.send(W.b, make())
        t.send(W.b, same(1))
        t.send(W.b, fine())
        t.send(W.b, later())
"""
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP001"})
    assert [(d.line, d.column) for d in diagnostics] == [where(code, "make())")]
    assert diagnostics[0].message.startswith("Argument 1 of send to W.b (list[int]) is not")


def test_a_tag_read_from_a_mapping_of_tags_is_cap007(tmp_path: Path) -> None:
    code = """
class W(Agent):
    def __init__(self) -> None:
        self.count = 0
        self.index: dict[str, Tag[W]] = {}

    @behaviour
    def go(self, by_name: dict[str, Tag[W]]) -> None:
        print(self.index["a"].count)
        print(by_name["b"].count)
        for key in self.index:
            print(key.count("a"))
"""
    assert found(HEADER + code, tmp_path, "CAP007") == [
        where(code, 'self.index["a"].count'),
        where(code, 'by_name["b"].count'),
    ]


# -- protocols, ABCs and subclasses of standard classes -------------------------------

STANDARD_BASES = """
import abc
import datetime
import enum
import threading
import uuid
from collections import OrderedDict
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple, Protocol

class Shape(abc.ABC):
    @abc.abstractmethod
    def area(self) -> float: ...

class Closeable(Protocol):
    def close(self) -> None: ...

class Worker(threading.Thread):
    pass

class Od(OrderedDict[str, int]):
    pass

class Day(datetime.date):
    pass

class Money(Decimal):
    pass

class Ratio(Fraction):
    pass

class Id(uuid.UUID):
    pass

class Perm(enum.IntFlag):
    READ = 1

class Point(NamedTuple):
    x: int

class A(Agent):
    @behaviour
    def a(self, s: Shape) -> None: pass
    @behaviour
    def d(self, c: Closeable) -> None: pass
    @behaviour
    def b(self, x: Worker) -> None: pass
    @behaviour
    def e(self, x: Od) -> None: pass
    @behaviour
    def f(self, day: Day, money: Money, ratio: Ratio, id: Id, p: Perm, pt: Point) -> None: pass

@message
class M:
    shape: Shape
    c: Closeable
    perm: Perm

@message
class FromAbc(abc.ABC):
    n: int

@message
class FromProtocol(Protocol):
    n: int
"""


def test_protocols_abcs_and_standard_subclasses_as_the_plugin(tmp_path: Path) -> None:
    # The plugin judges a class by its own name: a subclass of a sendable standard class
    # (date, Decimal...) may add mutable attributes; an enum and a NamedTuple are fine.
    code = HEADER + STANDARD_BASES
    assert found(code, tmp_path, "CAP002") == [
        where(STANDARD_BASES, "s: Shape"),
        where(STANDARD_BASES, "c: Closeable"),
        where(STANDARD_BASES, "x: Worker"),
        where(STANDARD_BASES, "x: Od"),
        where(STANDARD_BASES, "day"),
        where(STANDARD_BASES, "money"),
        where(STANDARD_BASES, "ratio"),
        where(STANDARD_BASES, "id:"),
    ]
    assert found(code, tmp_path, "CAP003") == [
        where(STANDARD_BASES, "shape: Shape"),
        where(STANDARD_BASES, "c: Closeable\n"),
        where(STANDARD_BASES, "class FromAbc"),  # Protocol is no base to mypy
    ]
    messages = [d.message for d in lint_code(code, tmp_path, select={"CAP003"})]
    assert "its base class ABC is not a frozen dataclass" in messages[2]


def test_a_standard_function_called_is_no_class(tmp_path: Path) -> None:
    # Only bases are taken for standard classes: a call of a standard function stays
    # unknown (its result is not an instance of it).
    code = """
import json

class Sink(Agent):
    @behaviour
    def put(self, x: str) -> None: ...

def f(t: Tag[Sink]) -> None:
    t.send(Sink.put, json.dumps([1]))
"""
    assert found(HEADER + code, tmp_path, "CAP001") == []


# -- where the plugin reports ----------------------------------------------------------

POSITIONS = """
def make() -> None:
    @message
    @dataclass
    class Inner:
        x: int

class Svc(Agent):
    @behaviour
    async def untyped(self):
        pass
"""


def test_class_and_function_findings_at_their_keyword(tmp_path: Path) -> None:
    # A class at its `class` keyword (not its decorators), an unannotated return at the
    # `def` (`async`) keyword, as mypy places them.
    code = HEADER + "from dataclasses import dataclass\n" + POSITIONS
    assert found(code, tmp_path, "CAP003") == [where("\n" + POSITIONS, "class Inner")]
    assert found(code, tmp_path, "CAP002") == [where("\n" + POSITIONS, "async def")]


# -- values whose type is written out in the file --------------------------------------

WRITTEN_OUT = """
class Sink(Agent):
    @behaviour
    def put(self, data: object) -> None:
        pass

class A(Agent):
    def __init__(self, sink: Tag[Sink]) -> None:
        self.sink = sink
        self.items: list[int] = []

    def snapshot(self) -> list[int]:
        return list(self.items)

    async def later(self) -> list[int]:
        return []

    def pick[T](self, x: T) -> T:
        return x

    @behaviour
    def go(self) -> None:
        self.sink.send(Sink.put, self.snapshot())
        x = [1]
        y = x
        z = y
        self.sink.send(Sink.put, z)
        self.sink.send(Sink.put, self.later())
        self.sink.send(Sink.put, self.pick(1))
"""


def test_a_method_result_and_an_alias_of_an_evident_local(tmp_path: Path) -> None:
    # As the plugin: self.snapshot() is its declared list[int], z is what x is.
    diagnostics = lint_code(HEADER + WRITTEN_OUT, tmp_path, select={"CAP001"})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(WRITTEN_OUT, "self.snapshot())"),
        where(WRITTEN_OUT, "z)"),
    ]
    assert all("(list[int]) is not sendable" in d.message for d in diagnostics)


# -- the types of displays, as the plugin spells them ----------------------------------

DISPLAYED = """
from collections.abc import Sequence

class Log(Agent):
    @behaviour
    def add(self, lines: tuple[str, ...]) -> None: pass
    @behaviour
    def any(self, x: object) -> None: pass
    @behaviour
    def objs(self, x: list[object]) -> None: pass
    @behaviour
    def seq(self, x: Sequence[float]) -> None: pass
    @behaviour
    def exact(self, x: dict[str, int]) -> None: pass

def f(log: Tag[Log]) -> None:
    lines = ["a"]
    log.send(Log.add, lines)
    log.send(Log.any, {"a": 1})
    log.send(Log.any, {1, 2})
    log.send(Log.any, [None, 1])
    log.send(Log.any, [True, 1, 2.5])
    log.send(Log.any, [[1]])
    log.send(Log.any, (1, [b"x"]))
    log.send(Log.any, [1, "a"])
    log.send(Log.any, [])
    log.send(Log.objs, ["a"])
    log.send(Log.seq, [1])
    log.send(Log.exact, {"a": 1})
"""


def test_displays_give_their_item_types_as_the_plugin(tmp_path: Path) -> None:
    # Item types mypy infers without a context; none where it joins to a base class
    # (list[object]) or infers from the declared parameter (Sequence[float] makes [1]
    # a list[float]) unless that is the same type.
    diagnostics = lint_code(HEADER + DISPLAYED, tmp_path, select={"CAP001"})
    types = [d.message.split(" (", 1)[1].split(") is not", 1)[0] for d in diagnostics]
    # mypy's tuple spans its parentheses: reported at the first one
    assert (diagnostics[6].line, diagnostics[6].column) == where(DISPLAYED, '(1, [b"x"])')
    assert types == [
        "list[str]",
        "dict[str, int]",
        "set[int]",
        "list[int | None]",
        "list[float]",
        "list[list[int]]",
        "tuple[int, list[bytes]]",
        "list",
        "list",
        "list",
        "list",
        "dict[str, int]",
    ]


SPAWNED = """
from runtime import Runtime

class Sink(Agent):
    def __init__(self, seed: object) -> None:
        pass

    @behaviour
    def put(self, x: object) -> None:
        pass

    @behaviour
    def floats(self, x: list[float]) -> None:
        pass

def f(t: Tag[Sink], rt: Runtime) -> None:
    rt.spawn(Sink, [1])
    rt.spawn(Sink, seed=[1])
    t.send(Sink.floats, [1])
    t.send(Sink.floats, *[[1]])
"""


def test_spawn_and_unpacked_arguments_as_the_plugin(tmp_path: Path) -> None:
    # A spawn's argument is typed by __init__'s parameter; a *[...] display as a whole,
    # with no parameter's context.
    diagnostics = lint_code(HEADER + SPAWNED, tmp_path, select={"CAP001"})
    types = [d.message.split(" (", 1)[1].split(") is not", 1)[0] for d in diagnostics]
    assert types == ["list[int]", "list[int]", "list", "list[int]"]


SUBCLASSES = """
import dataclasses
from typing import NamedTuple

@dataclasses.dataclass(frozen=True)
class Point:
    x: int

class Sneaky(Point):
    pass

@dataclasses.dataclass(frozen=True)
class Good(Point):
    y: int

class Pair(NamedTuple):
    a: int

class PairSub(Pair):
    __slots__ = ()

class A(Agent):
    @behaviour
    def a(self, p: Sneaky) -> None: ...
    @behaviour
    def b(self, p: Good) -> None: ...
    @behaviour
    def c(self, p: PairSub) -> None: ...
    @behaviour
    def d(self, p: Pair) -> None: ...
"""


def test_a_plain_subclass_of_a_frozen_record_is_not_sendable(tmp_path: Path) -> None:
    # It takes new attributes: the plugin and the run-time check refuse it (the linter
    # used to stay silent); a subclass that is itself a frozen dataclass is a record.
    assert found(HEADER + SUBCLASSES, tmp_path, "CAP002") == [
        where(SUBCLASSES, "p: Sneaky"),
        where(SUBCLASSES, "p: PairSub"),
    ]


# -- inherited fields of records ---------------------------------------------------------

INHERITED = """
from dataclasses import dataclass

@dataclass(frozen=True)
class Base:
    xs: list[int]

@dataclass(frozen=True)
class Kid(Base):
    y: int

@dataclass(frozen=True)
class Fixed(Base):
    xs: tuple[int, ...]

@message
class Parent:
    xs: list[int]

@message
class Child(Parent):
    y: int

@dataclass
class MutBase:
    ys: list[int]

@message
class FromMut(MutBase):
    b: int

class A(Agent):
    @behaviour
    def kid(self, x: Kid) -> None: ...
    @behaviour
    def fixed(self, x: Fixed) -> None: ...
    @behaviour
    def child(self, x: Child) -> None: ...
    @behaviour
    def from_mut(self, x: FromMut) -> None: ...

def use(t: Tag[A]) -> None:
    t.send(A.kid, Kid([1], 2))
"""


def test_inherited_fields_of_records_are_judged_cap002(tmp_path: Path) -> None:
    # The dataclass transform collects the fields of the record bases too (the linter
    # used to judge a record by the fields of its own body); a redeclared field takes
    # its new type.
    assert found(HEADER + INHERITED, tmp_path, "CAP002") == [
        where(INHERITED, "x: Kid"),
        where(INHERITED, "x: Child"),
        where(INHERITED, "x: FromMut"),
    ]
    messages = [d.message for d in lint_code(HEADER + INHERITED, tmp_path, select={"CAP002"})]
    assert messages[0] == (
        'Parameter "x" (Kid) of behaviour A.kid is not sendable: list[int] at .xs: '
        "use tuple[...] to share it, or Iso[list[...]] to move it"
    )
    assert "list[int] at .ys" in messages[2]


def test_inherited_fields_of_records_are_judged_cap001(tmp_path: Path) -> None:
    diagnostics = lint_code(HEADER + INHERITED, tmp_path, select={"CAP001"})
    assert [(d.line, d.column) for d in diagnostics] == [where(INHERITED, "Kid([1], 2)")]
    assert diagnostics[0].message == (
        "Argument 1 of send to A.kid (Kid) is not sendable: list[int] at .xs: "
        "use tuple[...] to share it, or Iso[list[...]] to move it"
    )


def test_inherited_fields_from_another_module(tmp_path: Path) -> None:
    files = {
        "shop/__init__.py": "",
        "shop/base.py": "from capsys import message\n\n@message\nclass Base:\n    xs: list[int]\n",
    }
    code = """
from shop.base import Base
from capsys import Agent, behaviour, message

@message
class Kid(Base):
    y: int

class A(Agent):
    @behaviour
    def kid(self, x: Kid) -> None: ...
"""
    assert found(code, tmp_path, "CAP002", files=files) == [where(code, "x: Kid", header=False)]


# -- the functional forms of NamedTuple and TypedDict ------------------------------------

FUNCTIONAL = """
import collections
from typing import NamedTuple, TypedDict

P = NamedTuple("P", [("xs", list[int])])
G = NamedTuple("G", (("a", int), ("b", "tuple[str, ...]")))
C = collections.namedtuple("C", "a b")
TD = TypedDict("TD", {"a": int})

class TDC(TypedDict):
    a: int

class A(Agent):
    @behaviour
    def p(self, x: P) -> None: ...
    @behaviour
    def g(self, x: G) -> None: ...
    @behaviour
    def c(self, x: C) -> None: ...
    @behaviour
    def td(self, x: TD) -> None: ...
    @behaviour
    def tdc(self, x: TDC) -> None: ...

def use(t: Tag[A]) -> None:
    t.send(A.p, P([1]))
"""


def test_functional_named_tuple_and_typed_dict(tmp_path: Path) -> None:
    # Read like their class forms (the linter used to know neither); a TypedDict is the
    # dict it is, as the plugin words it. collections.namedtuple's fields are untyped
    # (the plugin's CAP012).
    assert found(HEADER + FUNCTIONAL, tmp_path, "CAP002") == [
        where(FUNCTIONAL, "x: P"),
        where(FUNCTIONAL, "x: TD"),
        where(FUNCTIONAL, "x: TDC"),
    ]
    assert found(HEADER + FUNCTIONAL, tmp_path, "CAP001") == [where(FUNCTIONAL, "P([1])")]
    messages = [d.message for d in lint_code(HEADER + FUNCTIONAL, tmp_path, select={"CAP002"})]
    assert messages == [
        'Parameter "x" (P) of behaviour A.p is not sendable: list[int] at .xs: '
        "use tuple[...] to share it, or Iso[list[...]] to move it",
        'Parameter "x" (dict) of behaviour A.td is not sendable: '
        "use a @message class or tuple of pairs to share it, or Iso[dict[...]] to move it",
        'Parameter "x" (dict) of behaviour A.tdc is not sendable: '
        "use a @message class or tuple of pairs to share it, or Iso[dict[...]] to move it",
    ]
