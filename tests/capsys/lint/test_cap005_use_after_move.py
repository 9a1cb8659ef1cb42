"""CAP005 through the real ``capsys lint`` path: code, line, column and message."""

from __future__ import annotations

from pathlib import Path

import pytest

from capsys.diagnostics import get_rule
from capsys.lint.rules import implemented_codes
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

CODE = "CAP005"


def test_registered() -> None:
    assert CODE in implemented_codes()


@pytest.mark.parametrize("path", VIOLATIONS, ids=lambda p: p.name)
def test_violations_files(path: Path, tmp_path: Path) -> None:
    check_violations(CODE, path, tmp_path)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_examples(path: Path, tmp_path: Path) -> None:
    check_valid(CODE, path, tmp_path)


def test_spec_example_is_clean(tmp_path: Path) -> None:
    assert found(SPEC_EXAMPLE, tmp_path, CODE) == []


def test_line_column_and_message(tmp_path: Path) -> None:
    code = HEADER + (
        "def f(sink) -> None:\n"
        "    data = iso([1])\n"
        "    sink.send(Sink.put, data)\n"
        "    print(data.take())\n"
    )
    (diagnostic,) = lint_code(code, tmp_path, select={CODE})
    assert (diagnostic.line, diagnostic.column) == (5, 11)
    assert diagnostic.message == (
        "'data' is used after it was moved (moved by send() at line 4); take what you "
        "need before the move, or bind the name to a fresh iso(...) first"
    )


def test_possible_move_says_possibly(tmp_path: Path) -> None:
    code = HEADER + (
        "def f(sink, flag: bool) -> None:\n"
        "    data = iso([1])\n"
        "    if flag:\n"
        "        consume(data)\n"
        "    data.take()\n"
    )
    (diagnostic,) = lint_code(code, tmp_path, select={CODE})
    assert (diagnostic.line, diagnostic.column) == (6, 5)
    assert "possibly moved by consume() at line 5" in diagnostic.message


def test_loop_carried_move_hint(tmp_path: Path) -> None:
    code = HEADER + (
        "def f(sinks) -> None:\n"
        "    data = iso([1])\n"
        "    for sink in sinks:\n"
        "        sink.send(Sink.put, data)\n"
    )
    (diagnostic,) = lint_code(code, tmp_path, select={CODE})
    assert (diagnostic.line, diagnostic.column) == (5, 29)
    assert "earlier loop iteration" in diagnostic.message
    assert "fresh iso(...) for each iteration" in diagnostic.message


@pytest.mark.parametrize(
    "imports",
    ["import capsys as c\n", "from capsys import iso as wrap, Iso as Handle\n"],
)
def test_import_forms(imports: str, tmp_path: Path) -> None:
    iso_call = "c.iso" if "as c" in imports else "wrap"
    code = imports + (
        f"def f(sink) -> None:\n    h = {iso_call}([1])\n    sink.send(S.put, h)\n    h.take()\n"
    )
    assert found(code, tmp_path, CODE) == [(5, 5)]


@pytest.mark.parametrize(
    "body",
    [
        # move then return in a branch
        "h = iso([1])\nif flag:\n    sink.send(S.p, h)\n    return\nh.take()\n",
        # both paths rebind
        "h = iso([1])\nsink.send(S.p, h)\nh = iso([2])\nh.take()\n",
        # del, then a new binding
        "h = iso([1])\nsink.send(S.p, h)\ndel h\nh = iso([3])\nprint(h)\n",
        # inspecting a moved handle is fine
        "h = iso([1])\nsink.send(S.p, h)\nassert isinstance(h, object) and h is not None\n",
        # a non-Iso value sent twice is CAP001's business, not a move
        "rows = (1, 2)\nsink.send(S.p, rows)\nsink.send(S.p, rows)\n",
    ],
)
def test_negative_snippets(body: str, tmp_path: Path) -> None:
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    code = HEADER + f"def f(sink, flag: bool) -> None:\n{indented}"
    assert found(code, tmp_path, CODE) == []


def test_file_without_capsys_import_is_not_checked(tmp_path: Path) -> None:
    code = "def iso(x): return x\nh = iso([1])\nh.send(h)\nh.take()\n"
    assert found(code, tmp_path, CODE) == []


def test_suppression_comment(tmp_path: Path) -> None:
    code = HEADER + ("h = iso([1])\nconsume(h)\nh.take()  # capsys: ignore[CAP005]\nprint(h)\n")
    assert found(code, tmp_path, CODE) == [(5, 7)]


def test_catalogue_examples(tmp_path: Path) -> None:
    """capsys explain shows the catalogue's bad and good programs: they must agree."""
    rule = get_rule(CODE)
    assert rule is not None
    assert found(rule.bad, tmp_path, CODE, name="bad.py") != []
    assert found(rule.good, tmp_path, CODE, name="good.py") == []


def test_one_iso_moved_twice_by_one_call(tmp_path: Path) -> None:
    # The first argument moves it; the second one hands over a dead handle.
    code = """
class B(Agent):
    @behaviour
    def two(self, a: Iso[list[int]], b: Iso[list[int]]) -> None: ...

def f(t: Tag[B]) -> None:
    h = iso([1])
    t.send(B.two, h, h)

def g(t: Tag[B]) -> None:
    h = iso([1])
    t.send(B.two, h, b=h)

def fine(t: Tag[B]) -> None:
    h = iso([1])
    j = iso([2])
    t.send(B.two, h, j)
    for _ in range(3):
        h = iso([1])
        t.send(B.two, h, iso([2]))
"""
    assert found(HEADER + code, tmp_path, CODE) == [where(code, "h)\n"), where(code, "h)\n", 1)]


FIELDS = """
class Sink(Agent):
    @behaviour
    def put(self, data: Iso[list[int]]) -> None: ...

class A(Agent):
    def __init__(self) -> None:
        self.h = iso([1])
        self.n = 0

    def refill(self) -> None:
        self.h = iso([2])

    @behaviour
    def moved(self, t: Tag[Sink]) -> None:
        t.send(Sink.put, consume(self.h))
        self.h.take()

    @behaviour
    def sent(self, t: Tag[Sink]) -> None:
        t.send(Sink.put, self.h)
        t.send(Sink.put, consume(self.h))

    @behaviour
    def rebound(self, t: Tag[Sink]) -> None:
        t.send(Sink.put, consume(self.h))
        self.h = iso([3])
        self.h.take()

    @behaviour
    def method_between(self, t: Tag[Sink]) -> None:
        t.send(Sink.put, consume(self.h))
        self.refill()
        self.h.take()

    @behaviour
    def self_passed_on(self, t: Tag[Sink]) -> None:
        t.send(Sink.put, consume(self.h))
        print(self)
        self.h.take()

    @behaviour
    def other_field(self, t: Tag[Sink]) -> None:
        t.send(Sink.put, consume(self.h))
        self.n += 1
        return

    @behaviour
    def identity(self, t: Tag[Sink]) -> None:
        t.send(Sink.put, consume(self.h))
        if self.h is not None and isinstance(self.h, object):
            return

    @behaviour
    def one_branch(self, t: Tag[Sink], c: bool) -> None:
        if c:
            t.send(Sink.put, consume(self.h))
            self.h = iso([4])
        self.h.take()
"""


def test_iso_field_used_after_move(tmp_path: Path) -> None:
    # self.h is tracked like a local within one method; an assignment revives it, and so
    # does anything that could assign it unseen (a method of self, self passed on).
    assert found(HEADER + FIELDS, tmp_path, CODE) == [
        where(FIELDS, "self.h.take()"),
        where(FIELDS, "self.h))\n\n    @behaviour\n    def rebound"),
    ]


REFUSED = """
from runtime import ChannelClosed, ChannelFull, MailboxFull

class Sink(Agent):
    @behaviour
    def put(self, data: Iso[list[int]]) -> None:
        pass

async def retry(s: Tag[Sink]) -> None:
    data = iso([1])
    try:
        s.send(Sink.put, data)
    except MailboxFull:
        await s.send_wait(Sink.put, data)

def either(s: Tag[Sink]) -> None:
    data = iso([1])
    try:
        s.send(Sink.put, data)
    except (ChannelFull, ChannelClosed):
        data.take()
    except Exception:
        print(data)

def earlier(s: Tag[Sink]) -> None:
    data = iso([1])
    other = iso([2])
    try:
        s.send(Sink.put, data)
        s.send(Sink.put, other)
    except MailboxFull:
        data.take()
"""


def test_a_refused_send_leaves_the_handle_usable(tmp_path: Path) -> None:
    # The runtime refuses a send to a full mailbox (or channel) before the move: in a
    # handler of only those errors, the call that raised moved nothing. A send that
    # completed before it did (the second send may be the refused one), and a broader
    # handler may follow any failure.
    assert found(HEADER + REFUSED, tmp_path, CODE) == [
        where(REFUSED, "data)\n\ndef earlier"),
        where(REFUSED, "data.take()\n", 1),
    ]
    messages = [d.message for d in lint_code(HEADER + REFUSED, tmp_path, select={CODE})]
    assert "on some paths (possibly moved by send() at line" in messages[1]


@pytest.mark.parametrize(
    "end",
    [
        "assert False",
        "assert 0",
        "assert None",
        'assert False, "unreachable"',
        "sys.exit(1)",
        "typing.assert_never(flag)",
        "die()",
    ],
)
def test_a_path_that_cannot_go_on_ends(end: str, tmp_path: Path) -> None:
    # As mypy: after `assert False` or a call that never returns, the code is
    # unreachable, like after `raise` or `return`.
    def program(last: str) -> str:
        return HEADER + (
            "import sys\n"
            "import typing\n"
            "from typing import NoReturn\n"
            "def die() -> NoReturn:\n"
            "    raise SystemExit\n"
            "def f(s: Tag[Sink], flag: bool) -> None:\n"
            "    data = iso([1])\n"
            "    if flag:\n"
            "        s.send(Sink.put, data)\n"
            f"        {last}\n"
            "    data.take()\n"
        )

    assert found(program(end), tmp_path, CODE) == []
    assert found(program("assert flag"), tmp_path, CODE) == [(12, 5)]


CARRIED = """
from dataclasses import dataclass
from typing import NamedTuple

@message
class Box:
    h: Iso[list[int]]

class Pair(NamedTuple):
    h: Iso[list[int]]
    n: int

@dataclass(frozen=True)
class Frozen:
    h: Iso[list[int]]

class Sink(Agent):
    @behaviour
    def pair(self, p: tuple[Iso[list[int]], int]) -> None: ...
    @behaviour
    def box(self, b: Box) -> None: ...
    @behaviour
    def put(self, h: Iso[list[int]]) -> None: ...

def in_tuple(sink: Tag[Sink]) -> None:
    data = iso([1])
    sink.send(Sink.pair, (data, 1))
    data.take()

def in_message(sink: Tag[Sink]) -> None:
    data = iso([1])
    sink.send(Sink.box, Box(data))
    data.take()

def in_one_arm(sink: Tag[Sink], flag: bool) -> None:
    data = iso([1])
    sink.send(Sink.box, Box(data if flag else iso([2])))
    print(data)

def sent_again(sink: Tag[Sink]) -> None:
    data = iso([1])
    sink.send(Sink.pair, (data, 1))
    sink.send(Sink.put, data)

def other_records(sink: Tag[Sink]) -> None:
    a = iso([1])
    b = iso([2])
    c = iso([3])
    sink.send(Sink.pair, ((*[Pair(a, 1)],), Frozen(h=b), frozenset({c})))
    print(a, b, c)

def not_moved(sink: Tag[Sink], wrap) -> None:
    data = iso([1])
    sink.send(Sink.put, wrap(data))
    sink.send(Sink.pair, (len(data), [data]))
    data.take()
"""


def test_iso_inside_a_sent_tuple_record_or_arm_is_moved(tmp_path: Path) -> None:
    # The runtime moves every Iso inside a sent tuple or record; a call of anything
    # else may return something that holds none of its arguments.
    assert found(HEADER + CARRIED, tmp_path, CODE) == [
        where(CARRIED, "data.take()"),
        where(CARRIED, "data.take()", 1),
        where(CARRIED, "data)\n\ndef sent_again"),
        where(CARRIED, "data)\n\ndef other_records"),
        where(CARRIED, "a, b, c)"),
        where(CARRIED, "b, c)"),
        where(CARRIED, "c)\n\ndef not_moved"),
    ]
    messages = [d.message for d in lint_code(HEADER + CARRIED, tmp_path, select={CODE})]
    assert "on some paths (possibly moved by send() at line 38)" in messages[2]
    assert "(moved by send() at line 43)" in messages[3]


def test_imported_record_is_known(tmp_path: Path) -> None:
    code = """
from msgs import Box

def f(sink) -> None:
    data = iso([1])
    sink.send(Sink.box, Box(data))
    data.take()
"""
    msgs = "from capsys import Iso, message\n@message\nclass Box:\n    h: Iso[list[int]]\n"
    assert found(HEADER + code, tmp_path, CODE, files={"msgs.py": msgs}) == [
        where(code, "data.take()")
    ]


CLOSURES = """
def called_after() -> list[int]:
    data = iso([1])

    def later() -> list[int]:
        return data.take()

    moved = consume(data)
    print(moved)
    return later()

def maybe(flag: bool) -> None:
    data = iso([1])

    def later() -> None:
        print(data)

    if flag:
        moved = consume(data)
    later()

def fine() -> None:
    data = iso([1])

    def before() -> None:
        print(data)

    def own() -> None:
        data = iso([2])
        print(data)

    def shadows() -> None:
        print([data for data in range(3)])

    before()
    moved = consume(data)
    own()
    shadows()
    data = iso([3])
    before()
    print(moved)

def rebound() -> None:
    data = iso([1])

    def later() -> None:
        print(data)

    moved = consume(data)
    later = print
    later()

def defined_after(flag: bool) -> None:
    data = iso([1])
    moved = consume(data)

    def later() -> None:
        print(data, flag)

    later()
"""


def test_a_nested_function_called_after_the_move(tmp_path: Path) -> None:
    # Defined before the move, it reads the name when called: at run time MovedError.
    diagnostics = lint_code(HEADER + CLOSURES, tmp_path, select={CODE})
    assert [(d.line, d.column) for d in diagnostics] == [
        where(CLOSURES, "later()\n"),
        where(CLOSURES, "later()\n", 1),
        where(CLOSURES, "data, flag"),  # defined after the move: in its body, only there
    ]
    first, second = (where(CLOSURES, "consume(data)", n)[0] for n in (0, 1))
    assert diagnostics[0].message == (
        f"'data' is used after it was moved (moved by consume() at line {first}), by the "
        "call of later(), which reads it; take what you need before the move, or bind the "
        "name to a fresh iso(...) first"
    )
    assert f"on some paths (possibly moved by consume() at line {second})" in (
        diagnostics[1].message
    )
