"""CAP006 through the real ``capsys lint`` path, and its consume() fix."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from capsys.config import Config
from capsys.diagnostics import get_rule
from capsys.lint.engine import fix_source
from capsys.lint.index import ProjectIndex
from tests.capsys.lint.helpers import (
    HEADER,
    SPEC_EXAMPLE,
    VALID,
    VIOLATIONS,
    check_valid,
    check_violations,
    found,
    lint_code,
    where,
)

CODE = "CAP006"


@pytest.mark.parametrize("path", VIOLATIONS, ids=lambda p: p.name)
def test_violations_files(path: Path, tmp_path: Path) -> None:
    check_violations(CODE, path, tmp_path)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_examples(path: Path, tmp_path: Path) -> None:
    check_valid(CODE, path, tmp_path)


def test_spec_example_is_clean(tmp_path: Path) -> None:
    assert found(SPEC_EXAMPLE, tmp_path, CODE) == []


def test_positions_and_messages(tmp_path: Path) -> None:
    code = HEADER + (
        "CACHE: list[int] = []\n"  # 2
        "class Keeper(Agent):\n"  # 3
        "    def __init__(self, items: list[int], h: Iso[list[int]]) -> None:\n"  # 4
        "        self.items = items\n"  # 5
        "        self.h = h\n"  # 6
        "        a = iso(self.items)\n"  # 7
        "        b = iso(items)\n"  # 8
        "        c = iso(CACHE)\n"  # 9
        "        rows = [1]\n"  # 10
        "        keep = rows\n"  # 11
        "        d = iso(rows)\n"  # 12
    )
    diagnostics = lint_code(code, tmp_path, select={CODE})
    assert [(d.line, d.column) for d in diagnostics] == [(6, 18), (7, 17), (8, 17), (9, 17),
                                                          (12, 17)]  # fmt: skip
    messages = [d.message for d in diagnostics]
    assert "'self.h = consume(h)'" in messages[0]
    assert messages[1].startswith("iso() of the field self.items")
    assert messages[2].startswith("iso() of the parameter 'items'")
    assert messages[3].startswith("iso() of the module-level name 'CACHE'")
    assert messages[4].startswith("iso() of 'rows', which is aliased ('keep = rows')")


@pytest.mark.parametrize(
    "body",
    [
        "h = iso([1, 2])\n",
        "h = iso(list(items))\n",
        "rows = [1]\nrows.append(2)\nh = iso(rows)\n",
        "h = iso(make())\ng = consume(h)\n",
        "a = iso([1])\nb = consume(a)\nc = iso(b)\n",
        "a = []\nb = a\na = []\nh = iso(a)\n",
    ],
)
def test_fresh_values(body: str, tmp_path: Path) -> None:
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    code = HEADER + f"def f(items: list[int]) -> None:\n{indented}"
    assert found(code, tmp_path, CODE) == []


def _fix(code: str, tmp_path: Path) -> str:
    path = tmp_path / "mod.py"
    path.write_text(code, encoding="utf-8")
    index = ProjectIndex([tmp_path])
    return fix_source(path, code.encode(), Config(root=tmp_path), index).decode()


ALIASED = HEADER + (
    "def f(sink) -> None:\n"
    "    data = iso([1, 2])\n"
    "    other = data\n"
    "    sink.send(Sink.put, other)\n"
)


def test_fix_applies_parses_relints_clean_and_is_idempotent(tmp_path: Path) -> None:
    (diagnostic,) = lint_code(ALIASED, tmp_path, select={CODE})
    assert diagnostic.fixable
    fixed = _fix(ALIASED, tmp_path)
    assert "    other = consume(data)\n" in fixed
    cst.parse_module(fixed)
    assert lint_code(fixed, tmp_path, select={CODE, "CAP005"}) == []
    assert _fix(fixed, tmp_path) == fixed


def test_fix_uses_the_name_consume_is_imported_as(tmp_path: Path) -> None:
    code = "import capsys as c\n\ndef f() -> None:\n    a = c.iso([1])\n    b = a\n"
    assert "    b = c.consume(a)\n" in _fix(code, tmp_path)


def test_no_fix_without_consume_in_scope(tmp_path: Path) -> None:
    code = "from capsys import iso\n\ndef f() -> None:\n    a = iso([1])\n    b = a\n"
    (diagnostic,) = lint_code(code, tmp_path, select={CODE})
    assert not diagnostic.fixable
    assert _fix(code, tmp_path) == code


def test_fix_is_unsafe_when_the_old_name_is_used_later(tmp_path: Path) -> None:
    code = HEADER + ("def f() -> None:\n    a = iso([1])\n    b = a\n    print(a)\n")
    (diagnostic,) = lint_code(code, tmp_path, select={CODE})
    assert not diagnostic.fixable
    assert _fix(code, tmp_path) == code


def test_no_fix_for_the_value_of_a_chained_assignment(tmp_path: Path) -> None:
    # a = b = consume(data) would still bind one Iso to both names: no fix is offered,
    # not even an unsafe one, and the JSON "fixable" says so.
    code = HEADER + (
        "def f(sink) -> None:\n"
        "    data = iso([1, 2])\n"
        "    a = b = data\n"
        "    sink.send(Sink.put, a)\n"
    )
    diagnostics = lint_code(code, tmp_path, select={CODE})
    assert [(d.code, d.line, d.column, d.fixable) for d in diagnostics] == [
        (CODE, 4, 9, False),  # b: the chained assignment
        (CODE, 4, 13, False),  # data: copied without consume()
    ]
    assert _fix(code, tmp_path) == code
    path = tmp_path / "mod.py"
    unsafe = fix_source(
        path, code.encode(), Config(root=tmp_path), ProjectIndex([tmp_path]), unsafe=True
    )
    assert unsafe.decode() == code


def test_catalogue_examples(tmp_path: Path) -> None:
    """capsys explain shows the catalogue's bad and good programs: they must agree."""
    rule = get_rule(CODE)
    assert rule is not None
    assert found(rule.bad, tmp_path, CODE, name="bad.py") != []
    assert found(rule.good, tmp_path, CODE, name="good.py") == []


def test_two_aliases_of_one_handle_fix_only_the_last(tmp_path: Path) -> None:
    code = HEADER + ("def f() -> None:\n    a = iso([1])\n    b = a\n    c = a\n")
    fixed = _fix(code, tmp_path)
    assert "    b = a\n    c = consume(a)\n" in fixed
    assert lint_code(fixed, tmp_path, select={"CAP005"}) == []
    assert _fix(fixed, tmp_path) == fixed


def test_parameter_rebound_on_every_path_is_a_fresh_local(tmp_path: Path) -> None:
    code = (
        "def once(items: list[int]) -> Iso[list[int]]:\n"
        "    items = list(items)\n"
        "    return iso(items)\n"
        "def branches(items: list[int], n: int) -> Iso[list[int]]:\n"
        "    if n:\n"
        "        items = sorted(items)\n"
        "    else:\n"
        "        items = []\n"
        "    return iso(items)\n"
        "def one_branch(items: list[int], n: int) -> Iso[list[int]]:\n"
        "    if n:\n"
        "        items = sorted(items)\n"
        "    return iso(items)\n"
        "def after(items: list[int]) -> Iso[list[int]]:\n"
        "    h = iso(items)\n"
        "    items = []\n"
        "    return h\n"
    )
    assert found(HEADER + code, tmp_path, CODE) == [(14, 16), (16, 13)]


ELEMENTS = """
class Sink(Agent):
    @behaviour
    def put(self, x: Iso[list[int]]) -> None: ...

class A(Agent):
    def __init__(self, rows: list[list[int]]) -> None:
        self.h: Iso[list[int]] = iso([])
        self.rows = rows
        self.n = 0

    @behaviour
    def go(self, t: Tag[Sink], groups: list[list[int]]) -> None:
        h = self.h
        b = self.n
        for r in self.rows:
            t.send(Sink.put, iso(r))
        for g in groups:
            t.send(Sink.put, iso(g))
        print(h, b)

def f(t: Tag[Sink], rows: list[list[int]]) -> None:
    local = [[1], [2]]
    t.send(Sink.put, iso(local[0]))
    for r in local:
        t.send(Sink.put, iso(r))
    a = iso([1])
    pair = (a, a)
    keep: list[Iso[list[int]]] = []
    keep.append(a)
    print(pair, keep)

def fine(t: Tag[Sink], rows: list[list[int]], make: object) -> None:
    t.send(Sink.put, iso(list(rows)))
    t.send(Sink.put, iso([x for x in rows]))
    local = [[1], [2]]
    t.send(Sink.put, iso(local[1:]))
    for i in range(3):
        t.send(Sink.put, iso([i]))
    for chunk in chunks(rows):
        t.send(Sink.put, iso(chunk))
    fresh = [1]
    fresh = list(rows[0])
    t.send(Sink.put, iso(fresh))
    keep: list[Iso[list[int]]] = []
    keep.append(iso([1]))
    a = iso([1])
    b = iso([2])
    keep.append(consume(a))
    print((b, 1))

def chunks(rows: list[list[int]]) -> list[list[int]]:
    return [list(r) for r in rows]
"""


def test_fields_elements_and_containers(tmp_path: Path) -> None:
    code = ELEMENTS
    assert found(HEADER + code, tmp_path, CODE) == [
        where(code, "self.h\n"),
        where(code, "r))"),
        where(code, "g))"),
        where(code, "local[0]"),
        where(code, "r))", 1),
        where(code, "a)\n"),
        where(code, "a)\n", 1),
    ]
    messages = [d.message for d in lint_code(HEADER + code, tmp_path, select={CODE})]
    assert "write 'h = consume(self.h)'" in messages[0]
    assert "iso() of 'r', which is aliased ('for r in self.rows')" in messages[1]
    assert "an element of the local container local" in messages[3]
    assert "put twice in '(a, a)'" in messages[5]
    assert "stored by 'keep.append(a)'" in messages[6]


DRAIN = """
class Sink(Agent):
    @behaviour
    def eat(self, b: Iso[list[int]]) -> None:
        print(b.take())

def dead_alias(t: Tag[Sink]) -> None:
    a = [1, 2]
    b = a
    b = [3]
    t.send(Sink.eat, iso(a))
    print(b)

def other_side(t: Tag[Sink]) -> None:
    a = [1, 2]
    b = a
    a = [3]
    t.send(Sink.eat, iso(b))
    print(a)

def live_alias(t: Tag[Sink], c: bool) -> None:
    a = [1, 2]
    b = a
    if c:
        b = [3]
    t.send(Sink.eat, iso(a))
    print(b)

def two_aliases(t: Tag[Sink]) -> None:
    a = [1, 2]
    b = a
    d = a
    b = [3]
    t.send(Sink.eat, iso(a))
    print(b, d)

class Drainer(Agent):
    def __init__(self, out: Tag[Sink]) -> None:
        self.out = out
        self.items: list[int] = []

    @behaviour
    def flush(self) -> None:
        items = self.items
        self.items = []
        self.out.send(Sink.eat, iso(items))

    @behaviour
    def flush_tuple(self) -> None:
        items, self.items = self.items, []
        self.out.send(Sink.eat, iso(items))

    @behaviour
    def flush_tuple_reversed(self) -> None:
        self.items, items = [], self.items
        self.out.send(Sink.eat, iso(items))

    @behaviour
    def kept(self) -> None:
        items = self.items
        self.out.send(Sink.eat, iso(items))

    @behaviour
    def kept_on_a_path(self, c: bool) -> None:
        items = self.items
        if c:
            self.items = []
        self.out.send(Sink.eat, iso(items))
"""


def test_an_alias_rebound_on_every_path_is_gone(tmp_path: Path) -> None:
    # The drain-and-reset idiom: once the other reference is rebound on every path,
    # nothing else reaches the object and iso() of it is fresh.
    code = DRAIN
    assert found(HEADER + code, tmp_path, CODE) == [
        where(code, "a))", 1),
        where(code, "a))", 2),
        where(code, "items))", 3),
        where(code, "items))", 4),
    ]


SLICES = """
class Sink(Agent):
    @behaviour
    def put(self, data: Iso[list[int]]) -> None:
        pass

class Keeper(Agent):
    def __init__(self, sink: Tag[Sink]) -> None:
        self.sink = sink
        self.items: list[int] = []
        self.buf = memoryview(b"ab")

    @behaviour
    def go(self, given: tuple[int, ...]) -> None:
        self.sink.send(Sink.put, iso(self.items[:]))
        self.sink.send(Sink.put, iso(self.items[1:]))
        a = iso(given[:])
        b = iso(self.buf[:])
        c = iso(self.items[:][0])
"""


def test_a_slice_of_a_builtin_sequence_is_a_fresh_copy(tmp_path: Path) -> None:
    # Like list(self.items); a memoryview's slice is a view of the same memory, and an
    # element of the copy is still the field's element.
    diagnostics = lint_code(HEADER + SLICES, tmp_path, select={CODE})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(SLICES, "self.buf[:]"),
        where(SLICES, "self.items[:][0]"),
    ]
    assert "self.buf[:], a slice of the field self.buf that may be a view," in (
        diagnostics[0].message
    )


DISPLAYS = """
class Sink(Agent):
    @behaviour
    def put(self, data: Iso[list[int]]) -> None:
        pass

def f(s: Tag[Sink]) -> None:
    data = iso([1])
    hs = [data]
    s.send(Sink.put, hs[0])

def g() -> None:
    h = iso([1])
    pair = (1, h)
    named = {"k": h}
    one = {h}
    nested = [[h]]
    twice = (h, h)
    acc: list[object] = []
    acc += [h]

def fine(s: Tag[Sink]) -> None:
    data = iso([1])
    s.send(Sink.put, (1, data))
    print([data])
    other = iso([2])
    keep = [consume(other)]
    a, b = [iso([3]), 1]
"""


def test_an_iso_put_in_a_kept_display(tmp_path: Path) -> None:
    # The container and the name both own it, as with keep.append(h). Passed on inside
    # a display (a send's argument) it is moved or used, not aliased.
    diagnostics = lint_code(HEADER + DISPLAYS, tmp_path, select={CODE})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(DISPLAYS, "data]"),
        where(DISPLAYS, "h)\n"),
        where(DISPLAYS, "h}\n"),
        where(DISPLAYS, "h}\n", 1),
        where(DISPLAYS, "h]]"),
        where(DISPLAYS, "h)\n", 1),  # put twice: one finding, at the second
        where(DISPLAYS, "h]\n"),
    ]
    assert diagnostics[0].message == (
        "the Iso 'data' is put in '[data]' without consume(): the container and 'data' now "
        "both own one object graph; put consume(data) in it to transfer ownership"
    )
    assert diagnostics[0].fixable


def test_fix_of_an_iso_put_in_a_display(tmp_path: Path) -> None:
    code = HEADER + "def f() -> None:\n    data = iso([1])\n    hs = [data]\n"
    fixed = _fix(code, tmp_path)
    assert "    hs = [consume(data)]\n" in fixed
    assert lint_code(fixed, tmp_path, select={CODE, "CAP005"}) == []


RECORDS = """
from dataclasses import dataclass
from typing import NamedTuple

@message
class Box:
    data: Iso[list[int]]

@dataclass(frozen=True)
class Frozen:
    data: Iso[list[int]]
    n: int

class Pair(NamedTuple):
    data: Iso[list[int]]
    n: int

class Sink(Agent):
    @behaviour
    def put(self, box: Box) -> None:
        pass

def kept() -> None:
    h = iso([1])
    b = Box(h)
    g = iso([2])
    f = Frozen(n=1, data=g)
    k = iso([3])
    p = [Pair(k, 1)]
    h.take()

def fine(s: Tag[Sink]) -> None:
    h = iso([1])
    s.send(Sink.put, Box(h))
    g = iso([2])
    b = Box(consume(g))
    print(Box(iso([3])), b)
"""


def test_an_iso_put_in_a_kept_record(tmp_path: Path) -> None:
    # The record and the name both own it, as with a tuple display (the run-time
    # record moves nothing when built: the old name still reaches the object); sent at
    # once, it is moved with the record.
    diagnostics = lint_code(HEADER + RECORDS, tmp_path, select={CODE})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(RECORDS, "h)\n"),
        where(RECORDS, "g)\n"),
        where(RECORDS, "k, 1"),
    ]
    assert diagnostics[0].message == (
        "the Iso 'h' is put in 'Box(h)' without consume(): the container and 'h' now "
        "both own one object graph; put consume(h) in it to transfer ownership"
    )
    fixed = _fix(HEADER + RECORDS, tmp_path)  # not for h, which is used afterwards
    assert "    b = Box(h)\n" in fixed
    assert "    f = Frozen(n=1, data=consume(g))\n" in fixed


LOOPED = """
class Sink(Agent):
    @behaviour
    def put(self, data: Iso[list[int]]) -> None:
        pass

def looped(s: Tag[Sink]) -> None:
    h = iso([1])
    for x in [h]:
        s.send(Sink.put, x)
    h.take()

def pairs() -> None:
    g = iso([2])
    for a, n in [(g, 1)]:
        print(a, n)

def fine(s: Tag[Sink]) -> None:
    h = iso([1])
    for x in [consume(h)]:
        s.send(Sink.put, x)
    g = iso([2])
    print([g])
    s.send(Sink.put, g)
"""


def test_an_iso_put_in_a_display_walked_by_a_for(tmp_path: Path) -> None:
    # The loop's target names the Iso too (as ``x = h`` would); a display given to a
    # call is only used by it, as before.
    diagnostics = lint_code(HEADER + LOOPED, tmp_path, select={CODE})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(LOOPED, "h]:"),
        where(LOOPED, "g, 1"),
    ]
    assert diagnostics[0].message == (
        "the Iso 'h' is put in '[h]' without consume(): the container and 'h' now "
        "both own one object graph; put consume(h) in it to transfer ownership"
    )


DEFAULTS = """
class Sink(Agent):
    @behaviour
    def put(self, items: Iso[list[int]]) -> None:
        print(items.take())


def by_lambda(t: Tag[Sink]) -> None:
    h = iso([1, 2])
    later = lambda kept=h: kept.take()
    t.send(Sink.put, h)
    print(later())


def by_def(t: Tag[Sink]) -> None:
    h = iso([1, 2])

    def later(kept: Iso[list[int]] = h) -> None:
        print(kept.take())

    t.send(Sink.put, h)
    later()


def handed_over(t: Tag[Sink]) -> None:
    h = iso([1, 2])
    later = lambda kept=consume(h): kept.take()
    print(later())


def a_plain_default(t: Tag[Sink]) -> None:
    n = [1]
    later = lambda kept=n: kept
    t.send(Sink.put, iso(later()))
"""


def test_an_iso_kept_as_a_parameters_default(tmp_path: Path) -> None:
    # The function keeps the default for every later call: a second owner, as b = h.
    diagnostics = lint_code(HEADER + DEFAULTS, tmp_path, select={CODE})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(DEFAULTS, "h: kept"),
        where(DEFAULTS, "h) -> None"),
    ]
    assert diagnostics[0].message == (
        "the Iso 'h' is the default of the parameter 'kept' without consume(): the "
        "function keeps it for every call, so it and 'h' now both own one object graph; "
        "pass the Iso as an argument when calling, or write 'kept=consume(h)' if the "
        "function is to own it"
    )
    assert not diagnostics[0].fixable
