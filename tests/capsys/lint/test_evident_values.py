"""What the rules see through values and names, not only annotations: constructed
instances, functions and bound methods, aliases of self and of an Iso, fields holding
agents, immutable fields handed to concurrent code, blocking sessions, global
declarations. Each detection at its code, line and column, with its clean counterpart."""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from capsys.lint.flow import line_of, module_flow
from capsys.lint.index import NameResolver, summarize
from tests.capsys.lint.helpers import HEADER, found, lint_code, where

RECORDS = """
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

class Plain:
    pass

@dataclass
class Mut:
    x: int

@dataclass(frozen=True)
class Frozen:
    x: int

@message
class Msg:
    x: int

class Point(NamedTuple):
    x: int

class Color(Enum):
    RED = 1

class Sink(Agent):
    @behaviour
    def put(self, x: int) -> None:
        pass
"""


# -- instances of project classes built by a constructor call -----------------------


def test_constructed_mutable_instances_are_not_sendable(tmp_path: Path) -> None:
    code = RECORDS + (
        "def f(sink: Tag[Sink]) -> None:\n"
        "    sink.send(Sink.put, Plain())\n"
        "    p = Plain()\n"
        "    sink.send(Sink.put, p)\n"
        "    sink.send(Sink.put, Mut(1))\n"
    )
    assert found(HEADER + code, tmp_path, "CAP001") == [
        where(code, "Plain())"),
        where(code, "p)"),
        where(code, "Mut(1)"),
    ]


def test_val_of_a_constructed_plain_instance(tmp_path: Path) -> None:
    code = RECORDS + "def f() -> None:\n    val(Plain())\n    val(Frozen(1))\n"
    assert found(HEADER + code, tmp_path, "CAP004") == [where(code, "Plain())")]


def test_immutable_and_unknown_constructors_stay_clean(tmp_path: Path) -> None:
    code = RECORDS + (
        "from elsewhere import Unknown\n"
        "def f(sink: Tag[Sink], Plain: type) -> None:\n"
        "    sink.send(Sink.put, Frozen(1))\n"
        "    sink.send(Sink.put, Msg(1))\n"
        "    sink.send(Sink.put, Point(1))\n"
        "    sink.send(Sink.put, Color(1))\n"
        "    q = Frozen(2)\n"
        "    sink.send(Sink.put, q)\n"
        "    sink.send(Sink.put, Unknown())\n"
        "    sink.send(Sink.put, Plain())\n"  # the parameter, not the class
        "    val(Frozen(1))\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP001", "CAP004"})
    assert diagnostics == []


# -- functions and bound methods are not sendable ------------------------------------

CALLABLES = """
def helper() -> None:
    pass

class A(Agent):
    @behaviour
    def put(self, x: int) -> None:
        pass

    def go(self) -> None:
        pass

    @staticmethod
    def st() -> int:
        return 1

    @property
    def prop(self) -> int:
        return 1
"""


def test_module_function_is_not_sendable(tmp_path: Path) -> None:
    code = CALLABLES + (
        "    @behaviour\n    def b(self, t: Tag['A']) -> None:\n        t.send(A.put, helper)\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP001"})
    assert [(d.line, d.column) for d in diagnostics] == [where(code, "helper)")]
    assert "callables can capture mutable state" in diagnostics[0].message


def test_bound_method_of_self_is_a_callable_as_in_the_plugin(tmp_path: Path) -> None:
    code = CALLABLES + (
        "    @behaviour\n"
        "    def b(self, t: Tag['A']) -> None:\n"
        "        t.send(A.put, self.go)\n"
        "        t.send(A.put, self.put)\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP008", "CAP001"})
    assert [(d.code, d.line, d.column) for d in diagnostics] == [
        ("CAP001", *where(code, "self.go)")),
        ("CAP001", *where(code, "self.put)")),
    ]
    assert diagnostics[0].message == (
        "Argument 1 of send to A.put (Callable) is not sendable: callables can capture "
        "mutable state; send a Tag and name a behaviour instead"
    )


def test_clean_callables_counterparts(tmp_path: Path) -> None:
    code = CALLABLES + (
        "    @behaviour\n"
        "    def b(self, t: Tag['A'], helper: int) -> None:\n"
        "        t.send(A.put, helper)\n"  # the parameter shadows the function
        "        t.send(A.put, self.st())\n"
        "        t.send(A.put, self.prop)\n"
        "        t.send(A.put, self.me)\n"
        "        [t.send(A.put, helper) for helper in range(3)]\n"
        "def outer(t: Tag[A]) -> None:\n"
        "    helper = 3\n"
        "    def inner() -> None:\n"
        "        t.send(A.put, helper)\n"
    )
    assert lint_code(HEADER + code, tmp_path, select={"CAP001", "CAP008"}) == []


# -- self through a local alias --------------------------------------------------------


OTHER = (
    "class Other(Agent):\n"
    "    @behaviour\n"
    "    def hi(self, who: Tag['Other']) -> None:\n"
    "        pass\n"
)


def test_alias_of_self_is_cap008(tmp_path: Path) -> None:
    code = OTHER + (
        "    @behaviour\n"
        "    def poke(self, t: Tag['Other']) -> None:\n"
        "        o = self\n"
        "        t.send(Other.hi, o)\n"
        "    @behaviour\n"
        "    def fine(self, t: Tag['Other']) -> None:\n"
        "        o = self\n"
        "        o = self.me\n"
        "        t.send(Other.hi, o)\n"
        "        me = self.me\n"
        "        t.send(Other.hi, me)\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP008"})
    assert [(d.line, d.column) for d in diagnostics] == [where(code, "o)")]
    assert diagnostics[0].message.startswith("o (the agent object self) is passed as argument 1")


def test_aliases_of_aliases_and_chained_ones_are_cap008(tmp_path: Path) -> None:
    # As the mypy plugin reads them: a local whose every binding is self or an alias.
    code = OTHER + (
        "    @behaviour\n"
        "    def poke(self, t: Tag['Other']) -> None:\n"
        "        o = self\n"
        "        p = o\n"
        "        t.send(Other.hi, p)\n"
        "        a = b = self\n"
        "        t.send(Other.hi, b)\n"
        "        c = d = self.me\n"
        "        t.send(Other.hi, c)\n"
        "        e = f\n"
        "        f = e\n"
        "        t.send(Other.hi, f)\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP008"})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(code, "p)", header=True),
        where(code, "b)", header=True),
    ]


# -- a second name bound to one Iso ------------------------------------------------------

ISO_SINK = """
class A(Agent):
    @behaviour
    def put(self, h: Iso[list[int]]) -> None:
        pass
"""


def test_chained_assignment_aliases_the_iso(tmp_path: Path) -> None:
    code = ISO_SINK + (
        "def multi(t: Tag[A]) -> None:\n    a = b = iso([1])\n    t.send(A.put, a)\n    b.take()\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP006", "CAP005"})
    assert [(d.code, d.line, d.column) for d in diagnostics] == [
        ("CAP006", *where(code, "b = iso"))
    ]
    assert "bound to both 'a' and 'b'" in diagnostics[0].message
    assert not diagnostics[0].fixable


def test_tuple_unpacking_aliases_like_plain_assignment(tmp_path: Path) -> None:
    code = ISO_SINK + (
        "def tup(t: Tag[A]) -> None:\n"
        "    a = iso([1])\n"
        "    b, c = a, 2\n"
        "    t.send(A.put, a)\n"
        "    b.take()\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP006", "CAP005"})
    assert [(d.code, d.line, d.column) for d in diagnostics] == [("CAP006", *where(code, "a, 2"))]
    assert "'b = a'" in diagnostics[0].message


def test_walrus_argument_is_moved(tmp_path: Path) -> None:
    code = ISO_SINK + (
        "def walrus(t: Tag[A]) -> None:\n"
        "    t.send(A.put, (d := iso([1])))\n"
        "    d.take()\n"
        "def unpacked(t: Tag[A]) -> None:\n"
        "    b, c = iso([1]), 2\n"
        "    t.send(A.put, b)\n"
        "    b.take()\n"
    )
    assert found(HEADER + code, tmp_path, "CAP005") == [
        where(code, "d.take"),
        where(code, "b.take"),
    ]


def test_clean_unpacking(tmp_path: Path) -> None:
    code = ISO_SINK + (
        "def swap(t: Tag[A]) -> None:\n"
        "    a = iso([1])\n"
        "    b = iso([2])\n"
        "    a, b = b, a\n"
        "    t.send(A.put, a)\n"
        "    t.send(A.put, b)\n"
        "def moved(t: Tag[A]) -> None:\n"
        "    a = iso([1])\n"
        "    b, c = consume(a), 2\n"
        "    t.send(A.put, b)\n"
        "    xs, n = [1], 1\n"
        "    t.send(A.put, iso(xs))\n"
        "    d = e = [1]\n"
        "    t.send(A.put, (f := iso([2])))\n"
    )
    assert lint_code(HEADER + code, tmp_path, select={"CAP005", "CAP006"}) == []


# -- holding another agent's object --------------------------------------------------------


def test_agent_fields_holding_agent_objects(tmp_path: Path) -> None:
    code = (
        "class Other(Agent):\n"
        "    @behaviour\n"
        "    def hi(self) -> None:\n"
        "        pass\n"
        "class Holder(Agent):\n"
        "    spare: Other\n"
        "    def __init__(self) -> None:\n"
        "        self.peer: Other | None = None\n"
        "        self.peers: dict[str, Other] = {}\n"
        "        self.tag: Tag[Other] | None = None\n"
        "        self.kind: type[Other] = Other\n"
        "        self.tags: list[Tag[Other]] = []\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP007"})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(code, "Other\n"),
        where(code, "Other | None"),
        where(code, "dict[str, Other]"),
    ]
    assert diagnostics[1].message == (
        'Field "peer" of agent Holder holds an agent object (Other): holding another '
        "agent's object reaches its state around its mailbox; hold its Tag[Other] instead"
    )


def test_signatures_and_messages_are_cap007_as_in_the_mypy_plugin(tmp_path: Path) -> None:
    code = (
        "class Other(Agent):\n"
        "    def __init__(self, peer: 'Other') -> None:\n"
        "        pass\n"
        "    @behaviour\n"
        "    def grab(self, o: Other | None) -> None:\n"
        "        pass\n"
        "@message\n"
        "class Hello:\n"
        "    who: Other\n"
        "def helper(o: Other) -> None:\n"  # not a boundary: as the mypy plugin, no finding
        "    pass\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP007", "CAP002", "CAP003"})
    assert [(d.code, d.line, d.column) for d in diagnostics] == [  # at the names
        ("CAP007", *where(code, "peer")),
        ("CAP007", *where(code, "o: Other |")),
        ("CAP007", *where(code, "who")),
    ]
    assert diagnostics[0].message == (
        'Parameter "peer" of Other.__init__ is an agent object (Other): holding another '
        "agent's object reaches its state around its mailbox; pass its Tag[Other] instead"
    )


# -- immutable fields may be handed to concurrent code ------------------------------------


def test_immutable_fields_and_their_copies_are_not_escapes(tmp_path: Path) -> None:
    code = (
        "import threading\n"
        "import anyio\n"
        "import anyio.to_thread\n"
        "async def notify(t: Tag['A'], n: int) -> None:\n"
        "    pass\n"
        "def work(*a: object) -> None:\n"
        "    pass\n"
        "class A(Agent):\n"
        "    def __init__(self, name: str) -> None:\n"
        "        self.n = 0\n"
        "        self.name = name\n"
        "        self.t: tuple[int, ...] = ()\n"
        "        self.items: list[int] = []\n"
        "    @behaviour\n"
        "    async def go(self) -> None:\n"
        "        self.n += 1\n"
        "        n = self.n\n"
        "        async with anyio.create_task_group() as tg:\n"
        "            tg.start_soon(notify, self.me, n)\n"
        "            tg.start_soon(notify, self.me, self.n)\n"
        "        await anyio.to_thread.run_sync(work, self.name)\n"
        "        await anyio.to_thread.run_sync(work, self.t)\n"
        "        name = self.name\n"
        "        threading.Thread(target=work, args=(name,)).start()\n"
        "        threading.Thread(target=work, args=(self.items,)).start()\n"
    )
    assert found(HEADER + code, tmp_path, "CAP010") == [where(code, "self.items,)")]


def test_fields_of_unknown_or_mixed_type_still_escape(tmp_path: Path) -> None:
    code = (
        "import threading\n"
        "def work(*a: object) -> None:\n"
        "    pass\n"
        "class A(Agent):\n"
        "    def __init__(self, conn) -> None:\n"
        "        self.conn = conn\n"
        "        self.n = 0\n"
        "    @behaviour\n"
        "    def go(self) -> None:\n"
        "        self.n = [1]\n"
        "        threading.Thread(target=work, args=(self.conn, self.n)).start()\n"
    )
    assert found(HEADER + code, tmp_path, "CAP010") == [where(code, "self.conn,")]


# -- blocking sessions, chained loop.create_task -------------------------------------------


def test_requests_session_methods_block(tmp_path: Path) -> None:
    code = (
        "import requests\n"
        "class A(Agent):\n"
        "    @behaviour\n"
        "    async def b(self) -> None:\n"
        "        s = requests.Session()\n"
        "        s.get('http://x')\n"
        "        with requests.Session() as s2:\n"
        "            s2.post('x')\n"
        "        requests.Session().get('x')\n"
        "    @behaviour\n"
        "    def sync(self) -> None:\n"
        "        requests.Session().get('x')\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP011"})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(code, "s.get"),
        where(code, "s2.post"),
        where(code, "requests.Session().get", 0),
    ]
    assert diagnostics[0].message.startswith("requests.Session.get() blocks the worker thread")


def test_session_like_names_that_are_not_sessions_are_clean(tmp_path: Path) -> None:
    code = (
        "import httpx\n"
        "class A(Agent):\n"
        "    @behaviour\n"
        "    async def b(self, s: dict[str, int]) -> None:\n"
        "        s.get('x')\n"
        "        async with httpx.AsyncClient() as c:\n"
        "            await c.get('x')\n"
    )
    assert found(HEADER + code, tmp_path, "CAP011") == []


def test_chained_get_running_loop_create_task(tmp_path: Path) -> None:
    code = (
        "import asyncio\n"
        "class A(Agent):\n"
        "    @behaviour\n"
        "    async def b(self) -> None:\n"
        "        asyncio.get_running_loop().create_task(self.run())\n"
        "        asyncio.get_running_loop().create_task(asyncio.sleep(1))\n"
        "    async def run(self) -> None:\n"
        "        pass\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP010"})
    assert [(d.line, d.column) for d in diagnostics] == [where(code, "self.run()")]
    assert "asyncio.get_running_loop().create_task()" in diagnostics[0].message


# -- a global statement that rebinds nothing --------------------------------------------------


def test_global_declaration_without_rebinding(tmp_path: Path) -> None:
    code = (
        "COUNTER = 0\n"
        "class A(Agent):\n"
        "    @behaviour\n"
        "    def b1(self) -> int:\n"
        "        global COUNTER\n"
        "        return COUNTER\n"
        "    @behaviour\n"
        "    def b2(self) -> None:\n"
        "        global COUNTER\n"
        "        COUNTER += 1\n"
    )
    diagnostics = lint_code(HEADER + code, tmp_path, select={"CAP009"})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(code, "COUNTER\n", 0),
        where(code, "COUNTER\n", 2),
    ]
    assert diagnostics[0].message.startswith("behaviour A.b1 declares 'COUNTER' global,")
    assert "rebinds" not in diagnostics[0].message
    assert diagnostics[1].message.startswith(
        "behaviour A.b2 rebinds the module-level name 'COUNTER' with a global statement"
    )


def test_unpacking_fix_is_unsafe_when_the_iso_is_used_later() -> None:
    code = ISO_SINK + (
        "def later(t: Tag[A]) -> None:\n"
        "    a = iso([1])\n"
        "    b, c = a, 2\n"
        "    t.send(A.put, a)\n"
        "def never(t: Tag[A]) -> None:\n"
        "    a = iso([1])\n"
        "    b, c = a, 2\n"
        "    t.send(A.put, b)\n"
    )
    module = cst.parse_module(HEADER + code)
    result = module_flow(module, NameResolver(summarize(module, "mod")))
    safety = sorted((line_of(module, a.node), a.fix_is_safe) for a in result.aliases)
    assert safety == [(where(code, "a, 2", 0)[0], False), (where(code, "a, 2", 1)[0], True)]


# -- values evident from their expression, not only from a display -------------------

EVIDENT = """
class Sink(Agent):
    @behaviour
    def put(self, x: object) -> None:
        pass

def f(t: Tag[Sink], c: bool) -> None:
    t.send(Sink.put, memoryview(b"ab"))
    t.send(Sink.put, [1] if c else [2])
    t.send(Sink.put, (ys := [1]))
    pair = (1, [2])
    t.send(Sink.put, pair)
    t.send(Sink.put, (i for i in range(3)))
    b = Sink.put
    t.send(b, [1])
    t.send(Sink.put, sorted([3, 1]))
    t.send(Sink.put, *[[1]])
    print(ys)
"""


def test_cap001_values_evident_from_their_expression(tmp_path: Path) -> None:
    code = EVIDENT
    assert found(HEADER + code, tmp_path, "CAP001") == [
        where(code, 'memoryview(b"ab")'),
        where(code, "[1] if c"),
        where(code, "ys := "),
        where(code, "pair)"),
        where(code, "i for i"),
        where(code, "[1])\n"),
        where(code, "sorted("),
        where(code, "[[1]]"),
    ]
    messages = [d.message for d in lint_code(HEADER + code, tmp_path, select={"CAP001"})]
    assert messages[3] == (
        "Argument 1 of send to Sink.put (tuple[int, list[int]]) is not sendable: list[int] at [1]: "
        "use tuple[...] to share it, or Iso[list[...]] to move it"
    )
    assert messages[7].startswith("An item of *argument 1 of send to Sink.put (list[int])")


def test_cap001_unevident_expressions_stay_clean(tmp_path: Path) -> None:
    code = """
from elsewhere import make

class Sink(Agent):
    @behaviour
    def put(self, x: object) -> None:
        pass

def f(t: Tag[Sink], c: bool, other: Tag[Sink]) -> None:
    t.send(Sink.put, make() if c else [2])
    t.send(Sink.put, (1, "a", None, 2.5))
    pair = (1, make())
    t.send(Sink.put, pair)
    t.send(Sink.put, tuple(i for i in range(3)))
    t.send(Sink.put, *(1, 2))
    b = Sink.put
    b = make()
    t.send(b, [1])
    t.send(Sink.put, bytes(memoryview(b"ab")))

def g(t: Tag[Sink], sorted: object) -> None:
    t.send(Sink.put, sorted([1]))
"""
    assert found(HEADER + code, tmp_path, "CAP001") == []


# -- narrowing: a declared type a type checker narrows is no longer evident ----------

NARROW = """
from runtime import Channel

class Sink(Agent):
    @behaviour
    def num(self, x: int) -> None:
        pass
"""


def test_narrowed_names_are_not_evident(tmp_path: Path) -> None:
    code = (
        HEADER
        + NARROW
        + (
            "def a(t: Tag[Sink], v: int | list[int]) -> None:\n"
            "    if isinstance(v, int):\n"
            "        t.send(Sink.num, v)\n"
            "def b(t: Tag[Sink], v: int | list[int]) -> None:\n"
            "    assert isinstance(v, int)\n"
            "    t.send(Sink.num, v)\n"
            "def c(t: Tag[Sink], v: int | list[int]) -> None:\n"
            "    if not isinstance(v, int):\n"
            "        return\n"
            "    t.send(Sink.num, v)\n"
            "def d(t: Tag[Sink], v: int | list[int]) -> None:\n"
            "    match v:\n"
            "        case int():\n"
            "            t.send(Sink.num, v)\n"
            "        case _:\n"
            "            pass\n"
            "def e(x: int | list[int]) -> int:\n"
            "    if isinstance(x, int):\n"
            "        return val(x)\n"
            "    return 0\n"
            "async def g(ch: Channel[int], x: int | list[int]) -> None:\n"
            "    if isinstance(x, int):\n"
            "        await ch.put(x)\n"
            "def h(t: Tag[Sink], v: list[int] | None) -> None:\n"
            "    if v is None:\n"
            "        t.send(Sink.num, v)\n"
            "class Holder(Agent):\n"
            "    def __init__(self, out: Tag[Sink]) -> None:\n"
            "        self.out = out\n"
            "        self.v: int | list[int] = 0\n"
            "    @behaviour\n"
            "    def go(self) -> None:\n"
            "        if isinstance(self.v, int):\n"
            "            self.out.send(Sink.num, self.v)\n"
        )
    )
    assert lint_code(code, tmp_path, select={"CAP001", "CAP004"}) == []


def test_declared_union_without_narrowing_is_still_evident(tmp_path: Path) -> None:
    code = (
        HEADER
        + NARROW
        + (
            "def a(t: Tag[Sink], v: int | list[int], w: list[int]) -> None:\n"
            "    if w:\n"
            "        t.send(Sink.num, w)\n"
            "    t.send(Sink.num, v)\n"
            "def e(x: int | list[int]) -> int:\n"
            "    return val(x)\n"
            "class Holder(Agent):\n"
            "    def __init__(self, out: Tag[Sink]) -> None:\n"
            "        self.out = out\n"
            "        self.v: int | list[int] = 0\n"
            "    @behaviour\n"
            "    def go(self) -> None:\n"
            "        if self.v:\n"
            "            self.out.send(Sink.num, self.v)\n"
        )
    )
    assert found(code, tmp_path, "CAP001") == [
        where(code, "w)\n", header=False),
        where(code, "v)\n", header=False),
        where(code, "self.v)", header=False),
    ]
    assert found(code, tmp_path, "CAP004") == [where(code, "x)\n", header=False)]
