"""CAP010 through the real ``capsys lint`` path."""

from __future__ import annotations

from pathlib import Path

import pytest

from capsys.diagnostics import get_rule
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

CODE = "CAP010"


@pytest.mark.parametrize("path", VIOLATIONS, ids=lambda p: p.name)
def test_violations_files(path: Path, tmp_path: Path) -> None:
    check_violations(CODE, path, tmp_path)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_examples(path: Path, tmp_path: Path) -> None:
    check_valid(CODE, path, tmp_path)


def test_spec_example_is_clean(tmp_path: Path) -> None:
    assert found(SPEC_EXAMPLE, tmp_path, CODE) == []


def test_positions_and_message(tmp_path: Path) -> None:
    code = HEADER + (
        "import asyncio\n"  # 2
        "class Poller(Agent):\n"  # 3
        "    def __init__(self) -> None:\n"  # 4
        "        self.rows: list[int] = []\n"  # 5
        "    async def poll(self) -> None:\n"  # 6
        "        self.rows.append(1)\n"  # 7
        "    @behaviour\n"  # 8
        "    async def start(self) -> None:\n"  # 9
        "        asyncio.create_task(self.poll())\n"  # 10
        "        snapshot = tuple(self.rows)\n"  # 11
        "        await asyncio.to_thread(print, snapshot)\n"  # 12
    )
    (diagnostic,) = lint_code(code, tmp_path, select={CODE})
    assert (diagnostic.line, diagnostic.column) == (10, 29)
    assert diagnostic.message == (
        "the state of agent Poller escapes: the coroutine self.poll() is handed to "
        "asyncio.create_task(), which runs concurrently with the agent's behaviours; give it "
        "immutable copies or an Iso, and report back by sending to self.me"
    )


def test_outside_agent_classes_is_fine(tmp_path: Path) -> None:
    code = HEADER + (
        "import threading\n"
        "class Plain:\n"
        "    def go(self) -> None:\n"
        "        threading.Thread(target=self.go).start()\n"
    )
    assert found(code, tmp_path, CODE) == []


def test_agent_defined_in_another_file(tmp_path: Path) -> None:
    files = {"base.py": HEADER + "class Base(Agent):\n    pass\n"}
    code = HEADER + (
        "from base import Base\n"
        "class Child(Base):\n"
        "    def go(self, tg) -> None:\n"
        "        tg.start_soon(self.go, tg)\n"
    )
    assert found(code, tmp_path, CODE, files=files) == [(5, 23)]


def test_catalogue_examples(tmp_path: Path) -> None:
    """capsys explain shows the catalogue's bad and good programs: they must agree."""
    rule = get_rule(CODE)
    assert rule is not None
    assert found(rule.bad, tmp_path, CODE, name="bad.py") != []
    assert found(rule.good, tmp_path, CODE, name="good.py") == []


def test_static_methods_are_no_state_and_partial_carries_its_arguments(tmp_path: Path) -> None:
    code = HEADER + (
        "import functools\n"  # 2
        "def work(x: object) -> None: ...\n"  # 3
        "class W(Agent):\n"  # 4
        "    def __init__(self) -> None:\n"  # 5
        "        self.seen: list[int] = []\n"  # 6
        "    @staticmethod\n"  # 7
        "    async def log(msg: str) -> None: ...\n"  # 8
        "    @classmethod\n"  # 9
        "    async def note(cls, msg: str) -> None: ...\n"  # 10
        "    @behaviour\n"  # 11
        "    async def go(self, msg: str, tg: object, pool: object) -> None:\n"  # 12
        "        tg.start_soon(self.log, msg)\n"  # 13
        "        tg.start_soon(self.note, msg)\n"  # 14
        "        pool.submit(functools.partial(work, self))\n"  # 15
        "        pool.submit(functools.partial(work, x=self.seen))\n"  # 16
        "        pool.submit(functools.partial(work, msg))\n"  # 17
    )
    assert found(code, tmp_path, CODE) == [(15, 21), (16, 21)]


ALIASES = """
import asyncio
import threading

def some_function() -> None: ...

async def other() -> None: ...

class A(Agent):
    def __init__(self) -> None:
        self.rows: list[int] = []
        self.count = 0

    def work(self) -> None:
        self.rows.clear()

    async def awork(self) -> None:
        self.rows.clear()

    @behaviour
    async def go(self) -> None:
        coro = self.awork()
        asyncio.create_task(coro)
        me = self
        threading.Thread(target=me.work).start()
        rows = self.rows
        threading.Thread(target=rows.clear).start()

    @behaviour
    async def fine(self, me: object) -> None:
        fn = some_function
        threading.Thread(target=fn).start()
        coro = other()
        asyncio.create_task(coro)
        n = self.count
        threading.Thread(target=print, args=(n,)).start()
        threading.Thread(target=me.work).start()
"""


def test_state_through_local_aliases(tmp_path: Path) -> None:
    # A coroutine, self and a field reach the concurrent call through a local name.
    assert found(HEADER + ALIASES, tmp_path, CODE) == [
        where(ALIASES, "coro)"),
        where(ALIASES, "me.work)"),
        where(ALIASES, "rows.clear)"),
    ]
