"""Configuration ([tool.capsys], mypy's own switches), suppression comments, incremental
runs and classes that come from other modules, from the cache or from stubs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.mypy_plugin.cases import HEADER
from tests.mypy_plugin.harness import REPO, expected_markers, run_mypy, write_files

SNIPPET = (
    HEADER
    + """
from typing import Any


class Sink(Agent):
    @behaviour
    def take(self, data: list[int]) -> None:
        pass

    @behaviour
    def note(self, text: str) -> None:
        pass


def use(sink: Tag[Sink], loose: Any) -> None:
    sink.send(Sink.take, [1])
    sink.send(Sink.note, loose)
"""
)
DEF_LINE, SEND_LINE, ANY_LINE = 11, 20, 21
ALL = {(DEF_LINE, "CAP002"), (SEND_LINE, "CAP001"), (ANY_LINE, "CAP012")}


@pytest.mark.parametrize(
    ("pyproject", "ini", "expected"),
    [
        (None, "", ALL),
        ("[tool.capsys]\ncheck-any = false\n", "", ALL - {(ANY_LINE, "CAP012")}),
        ('[tool.capsys]\nignore = ["CAP001"]\n', "", ALL - {(SEND_LINE, "CAP001")}),
        ('[tool.capsys]\nselect = ["CAP002"]\n', "", {(DEF_LINE, "CAP002")}),
        ('[tool.other]\nx = 1\n[tool.capsys]\nselect = ["cap012"]\n', "", {(ANY_LINE, "CAP012")}),
        (None, "disable_error_code = CAP012, CAP002\n", {(SEND_LINE, "CAP001")}),
    ],
    ids=["default", "check-any-off", "ignore", "select", "select-lowercase", "disable_error_code"],
)
def test_config_selects_codes(
    tmp_path: Path,
    mypy_cache: Path,
    pyproject: str | None,
    ini: str,
    expected: set[tuple[int, str]],
) -> None:
    write_files(tmp_path, {"snippet.py": SNIPPET})
    result = run_mypy(tmp_path, ["snippet.py"], pyproject=pyproject, ini=ini, cache_dir=mypy_cache)
    assert result.cap("snippet.py") == expected, result.stdout


def test_plugin_and_capsys_settings_in_one_pyproject(tmp_path: Path, mypy_cache: Path) -> None:
    write_files(tmp_path, {"snippet.py": SNIPPET})
    result = run_mypy(
        tmp_path,
        ["snippet.py"],
        pyproject="[tool.capsys]\ncheck-any = false\n",
        toml_config=True,
        cache_dir=mypy_cache,
    )
    assert result.cap("snippet.py") == ALL - {(ANY_LINE, "CAP012")}, result.stdout


def test_malformed_config_is_a_clean_usage_error(tmp_path: Path) -> None:
    write_files(tmp_path, {"snippet.py": SNIPPET})
    result = run_mypy(tmp_path, ["snippet.py"], pyproject='[tool.capsys]\nignore = ["CAP999"]\n')
    assert result.status == 2
    assert "unknown code(s) CAP999" in result.stderr
    assert not result.internal_error


MODELS = """\
from dataclasses import dataclass
from typing import NamedTuple

from capsys import message


@message
class Hello:
    text: str


class Point(NamedTuple):
    x: int
    y: int


class Pocket(NamedTuple):
    items: list[int]


@dataclass
class Loose:
    n: int
"""

STUB_ONLY = """\
from dataclasses import dataclass

@dataclass(frozen=True)
class Reading:
    value: float
    unit: str

class Sensor:
    def poll(self) -> Reading: ...
"""

USER = (
    HEADER
    + """
from models import Hello, Loose, Point, Pocket
from sensors import Reading, Sensor


class Peer(Agent):
    @behaviour
    def take(self, item: object) -> None:  # expect: CAP002
        pass

    @behaviour
    def greet(self, hello: Hello) -> None:
        pass

    @behaviour
    def hello(self, other: Tag[Peer]) -> None:
        other.send(Peer.greet, Hello(self))  # type: ignore[arg-type]  # expect: CAP008


def use(peer: Tag[Peer], sensor: Sensor, pocket: Pocket) -> None:
    peer.send(Peer.take, Hello("hi"))
    peer.send(Peer.take, Point(1, 2))
    peer.send(Peer.take, sensor.poll())
    peer.send(Peer.take, pocket)  # expect: CAP001
    peer.send(Peer.take, Loose(1))  # expect: CAP001
    peer.send(Peer.take, sensor)  # expect: CAP001
    peer.send(Peer.take, Reading(1.0, "C"))
"""
)


def _cross_module_files() -> dict[str, str]:
    return {"models.py": MODELS, "sensors/__init__.pyi": STUB_ONLY, "user.py": USER}


def test_incremental_second_run_reports_the_same(tmp_path: Path) -> None:
    write_files(tmp_path, _cross_module_files())
    cache = tmp_path / ".cache"
    first = run_mypy(tmp_path, ["user.py", "models.py"], cache_dir=cache)
    # Classes from another module and from a stub-only package are judged like local ones.
    assert first.cap("user.py") == expected_markers(USER), first.stdout
    assert first.cap("models.py") == set()
    # Unchanged files: everything comes from the cache, the findings are kept.
    second = run_mypy(tmp_path, ["user.py", "models.py"], cache_dir=cache)
    assert second.findings == first.findings
    # Only the user file changes: the message class comes from the cache now, and is
    # still known as a message (CAP008 for self stored in it).
    (tmp_path / "user.py").write_text(USER + "\n\nEXTRA = 1\n")
    third = run_mypy(tmp_path, ["user.py", "models.py"], cache_dir=cache)
    assert third.cap("user.py") == expected_markers(USER), third.stdout


def test_changed_capsys_config_invalidates_the_cache(tmp_path: Path) -> None:
    write_files(tmp_path, {"snippet.py": SNIPPET})
    cache = tmp_path / ".cache"
    assert run_mypy(tmp_path, ["snippet.py"], cache_dir=cache).cap("snippet.py") == ALL
    changed = run_mypy(
        tmp_path, ["snippet.py"], cache_dir=cache, pyproject='[tool.capsys]\nignore = ["CAP002"]\n'
    )
    assert changed.cap("snippet.py") == ALL - {(DEF_LINE, "CAP002")}


def test_loading_the_plugin_leaves_the_dsl_and_the_checks_unimported() -> None:
    # A fully cached mypy run asks no hook: it should pay for the configuration only.
    probe = (
        "import sys, mypy_plugin\n"
        "print(sorted(m for m in ('capsys.agent', 'capsys.sendable', 'mypy_plugin.hooks') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert done.stdout.strip() == "[]", done.stderr


TRANSITIVE = {
    "pkg/__init__.py": "",
    "pkg/inner.py": (
        "from dataclasses import dataclass\n\n\n@dataclass(frozen=True)\nclass Inner:\n    v: int\n"
    ),
    "pkg/msgs.py": (
        "from capsys import message\n\nfrom pkg.inner import Inner\n\n\n"
        "@message\nclass Job:\n    n: int\n    inner: Inner\n"
    ),
    "pkg/agents.py": (
        "from capsys import Agent, behaviour\n\nfrom pkg.msgs import Job\n\n\n"
        "class Worker(Agent):\n    @behaviour\n    def run(self, job: Job) -> None:\n"
        "        pass\n"
    ),
    # re-exports only: its own interface does not change when a field of Inner does
    "pkg/api.py": ("from pkg.agents import Worker as Worker\nfrom pkg.msgs import Job as Job\n"),
    "main.py": (
        "from capsys import Tag\n\nfrom pkg.api import Job, Worker\n\n\n"
        "def go(t: Tag[Worker], j: Job) -> None:\n    t.send(Worker.run, j)\n"
    ),
}


def test_incremental_follows_fields_several_imports_away(tmp_path: Path) -> None:
    write_files(tmp_path, TRANSITIVE)
    cache = tmp_path / ".cache"
    targets = ["main.py", "pkg"]
    assert run_mypy(tmp_path, targets, cache_dir=cache).findings == ()
    inner = tmp_path / "pkg" / "inner.py"
    inner.write_text(inner.read_text().replace("v: int", "v: list[int]"))
    cold = run_mypy(tmp_path, targets, cache_dir=None)
    expected = {("pkg/msgs.py", 9), ("pkg/agents.py", 8), ("main.py", 7)}
    assert {(f.path, f.line) for f in cold.findings} == expected, cold.stdout
    # from the cache, edited again and again: always what a run without the cache says
    for _ in range(2):
        warm = run_mypy(tmp_path, targets, cache_dir=cache)
        assert warm.findings == cold.findings, warm.stdout
    inner.write_text(inner.read_text().replace("v: list[int]", "v: int"))
    for _ in range(2):
        assert run_mypy(tmp_path, targets, cache_dir=cache).findings == ()
