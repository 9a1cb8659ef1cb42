"""CAP009 through the real ``capsys lint`` path."""

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

CODE = "CAP009"


@pytest.mark.parametrize("path", VIOLATIONS, ids=lambda p: p.name)
def test_violations_files(path: Path, tmp_path: Path) -> None:
    check_violations(CODE, path, tmp_path)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_examples(path: Path, tmp_path: Path) -> None:
    check_valid(CODE, path, tmp_path)


def test_spec_example_is_clean(tmp_path: Path) -> None:
    assert found(SPEC_EXAMPLE, tmp_path, CODE) == []


AGENT = HEADER + (
    "import collections\n"  # 2
    "SEEN: list[str] = []\n"  # 3
    "QUEUE = collections.deque()\n"  # 4
    "LIMIT = 10\n"  # 5
    "NAMES = ('a', 'b')\n"  # 6
    "count = 0\n"  # 7
    "class Tracker(Agent):\n"  # 8
    "    def __init__(self) -> None:\n"  # 9
    "        self.seen = list(SEEN)\n"  # 10 (not a behaviour)
    "    def on_start(self) -> None:\n"  # 11
    "        QUEUE.append(1)\n"  # 12
    "    def helper(self) -> None:\n"  # 13
    "        SEEN.clear()\n"  # 14 (not a behaviour)
    "    @behaviour\n"  # 15
    "    def see(self, name: str) -> int:\n"  # 16
    "        if name in NAMES and len(self.seen) < LIMIT:\n"  # 17
    "            return count\n"  # 18 (rebound by reset: shared state)
    "        return len(SEEN)\n"  # 19
    "    @behaviour\n"  # 20
    "    async def reset(self) -> None:\n"  # 21
    "        global count\n"  # 22
    "        count = 0\n"  # 23
)


def test_positions(tmp_path: Path) -> None:
    assert found(AGENT, tmp_path, CODE) == [(12, 9), (18, 20), (19, 20), (22, 16)]


def test_messages(tmp_path: Path) -> None:
    messages = [d.message for d in lint_code(AGENT, tmp_path, select={CODE})]
    assert messages[0].startswith(
        "lifecycle hook Tracker.on_start mutates the module-level deque 'QUEUE'"
    )
    assert messages[1].startswith("behaviour Tracker.see reads the module-level variable 'count'")
    assert messages[2].startswith("behaviour Tracker.see reads the module-level list 'SEEN'")
    assert messages[3].startswith(
        "behaviour Tracker.reset rebinds the module-level name 'count' with a global statement"
    )


def test_global_rebound_elsewhere_is_mutable_state(tmp_path: Path) -> None:
    code = HEADER + (
        "total = 0\n"
        "def bump() -> None:\n"
        "    global total\n"
        "    total += 1\n"
        "class Reader(Agent):\n"
        "    @behaviour\n"
        "    def get(self) -> int:\n"
        "        return total\n"
    )
    assert found(code, tmp_path, CODE) == [(9, 16)]


def test_imported_mutable_global_of_the_project(tmp_path: Path) -> None:
    files = {"state.py": "REGISTRY: dict[str, int] = {}\nVERSION = '1'\n"}
    code = HEADER + (
        "from state import REGISTRY, VERSION\n"
        "class Reg(Agent):\n"
        "    @behaviour\n"
        "    def add(self, k: str) -> str:\n"
        "        REGISTRY[k] = 1\n"
        "        return VERSION\n"
    )
    assert found(code, tmp_path, CODE, files=files) == [(6, 9)]


def test_non_agent_classes_and_functions_are_not_checked(tmp_path: Path) -> None:
    code = HEADER + (
        "SEEN: list[str] = []\n"
        "class Plain:\n"
        "    @behaviour\n"
        "    def see(self) -> None:\n"
        "        SEEN.append('x')\n"
        "def f() -> None:\n"
        "    SEEN.append('y')\n"
    )
    assert found(code, tmp_path, CODE) == []


def test_catalogue_examples(tmp_path: Path) -> None:
    """capsys explain shows the catalogue's bad and good programs: they must agree."""
    rule = get_rule(CODE)
    assert rule is not None
    assert found(rule.bad, tmp_path, CODE, name="bad.py") != []
    assert found(rule.good, tmp_path, CODE, name="good.py") == []


def test_one_finding_per_statement_and_global(tmp_path: Path) -> None:
    code = HEADER + (
        "COUNTS: dict[str, int] = {}\n"  # 2
        "class Tracker(Agent):\n"  # 3
        "    @behaviour\n"  # 4
        "    def see(self, name: str) -> None:\n"  # 5
        "        COUNTS[name] = COUNTS.get(name, 0) + 1\n"  # 6
        "        x = COUNTS.get(name, 0) + COUNTS.get(name, 1)\n"  # 7
        "        y = len(COUNTS) + COUNTS.pop(name)\n"  # 8
        "        if COUNTS:\n"  # 9
        "            COUNTS.clear()\n"  # 10
    )
    diagnostics = lint_code(code, tmp_path, select={CODE})
    assert [(d.line, d.column) for d in diagnostics] == [(6, 9), (7, 13), (8, 27), (9, 12),
                                                          (10, 13)]  # fmt: skip
    assert "writes the module-level dict 'COUNTS'" in diagnostics[0].message
    assert "mutates" in diagnostics[2].message


def test_mutable_global_reached_through_its_module(tmp_path: Path) -> None:
    files = {"state.py": "SEEN: list[int] = []\nVERSION = '1'\n"}
    code = HEADER + (
        "import state as st\n"
        "import state\n"
        "class Reg(Agent):\n"
        "    @behaviour\n"
        "    def add(self, k: int) -> str:\n"
        "        st.SEEN.append(k)\n"
        "        print(len(state.SEEN))\n"
        "        state.SEEN[0] = k\n"
        "        return st.VERSION\n"
        "    @behaviour\n"
        "    def shadowed(self, st: int) -> None:\n"
        "        print(st.SEEN)\n"
        "    def helper(self) -> None:\n"
        "        st.SEEN.append(1)\n"
    )
    assert found(code, tmp_path, CODE, files=files) == [(7, 9), (8, 19), (9, 9)]
    messages = [d.message for d in lint_code(code, tmp_path, select={CODE}, files=files)]
    assert "mutates the module-level mutable value 'st.SEEN'" in messages[0]


OBJECTS = """
import collections
import logging
import re
from array import array
from dataclasses import dataclass

class State:
    def __init__(self) -> None:
        self.count = 0

    def bump(self) -> None:
        self.count += 1

@dataclass(frozen=True)
class Frozen:
    n: int = 0

@message
class Settings:
    n: int

CNT = collections.Counter()  # type: ignore[var-annotated]
ARR: "array[int]" = array("i")
Q = collections.deque[int]()
STATE: State = State()
FROZEN = Frozen()
SETTINGS = Settings(1)
LOG = logging.getLogger(__name__)
WORD = re.compile("w")
LIMIT = 10

class T(Agent):
    @behaviour
    def a(self, x: str) -> None:
        CNT[x] += 1
        ARR.append(1)
        Q.append(1)
        STATE.count += 1
        STATE.count = 1

    @behaviour
    def fine(self, x: str) -> int:
        STATE.bump()
        LOG.info(WORD.match(x))
        return STATE.count + FROZEN.n + SETTINGS.n + LIMIT
"""


def test_arrays_subscripted_constructors_and_project_objects(tmp_path: Path) -> None:
    # Writing an attribute of a module-level object of a project class changes state
    # every agent shares; frozen records, messages, loggers, patterns and constants do
    # not, and reading an object or calling its methods is not evidently shared state.
    code = HEADER + OBJECTS
    assert found(code, tmp_path, CODE) == [
        where(OBJECTS, "CNT[x]"),
        where(OBJECTS, "ARR.append"),
        where(OBJECTS, "Q.append"),
        where(OBJECTS, "STATE.count +="),
        where(OBJECTS, "STATE.count = 1"),
    ]
    messages = [d.message for d in lint_code(code, tmp_path, select={CODE})]
    assert "mutates the module-level array 'ARR'" in messages[1]
    assert "mutates the module-level deque 'Q'" in messages[2]
    assert "writes the module-level State object 'STATE'" in messages[3]


def test_imported_project_object_written(tmp_path: Path) -> None:
    files = {
        "state.py": (
            "from dataclasses import dataclass\n"
            "class State:\n"
            "    count = 0\n"
            "@dataclass(frozen=True)\n"
            "class Frozen:\n"
            "    n: int = 0\n"
            "STATE = State()\n"
            "FROZEN = Frozen()\n"
        )
    }
    code = HEADER + (
        "import state as st\n"  # 2
        "from state import FROZEN, STATE\n"  # 3
        "class Reg(Agent):\n"  # 4
        "    @behaviour\n"  # 5
        "    def add(self, k: int) -> int:\n"  # 6
        "        STATE.count = k\n"  # 7
        "        st.STATE.count += k\n"  # 8
        "        return STATE.count + st.STATE.count + FROZEN.n\n"  # 9
    )
    assert found(code, tmp_path, CODE, files=files) == [(7, 9), (8, 9)]
