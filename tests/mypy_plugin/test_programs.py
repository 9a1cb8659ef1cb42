"""Whole programs: the violation examples, the clean examples, real libraries that do not use capsys, and the mypy daemon."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mypy_plugin.harness import (
    PLUGIN_CODES,
    REPO,
    Result,
    expected_markers,
    parse,
    run_mypy,
    write_files,
)
from tests.mypy_plugin.test_config_and_modes import TRANSITIVE

VIOLATIONS = REPO / "examples" / "violations"
# CAP000 is a file that does not parse: the linter's rule; mypy stops at a syntax error.
VIOLATION_FILES = sorted(p.name for p in VIOLATIONS.glob("cap*.py") if p.name[:6] != "cap000")
EXAMPLES = sorted(p.name for p in (REPO / "examples").glob("*.py"))


@pytest.fixture(scope="module")
def violations(tmp_path_factory: pytest.TempPathFactory, mypy_cache: Path) -> Result:
    folder = tmp_path_factory.mktemp("violations")
    files = {name: (VIOLATIONS / name).read_text() for name in VIOLATION_FILES}
    return run_mypy(folder, write_files(folder, files), cache_dir=mypy_cache)


def test_violation_files_exist() -> None:
    assert len(VIOLATION_FILES) >= 7


@pytest.mark.parametrize("name", VIOLATION_FILES)
def test_violations_report_exactly_their_markers(violations: Result, name: str) -> None:
    expected = expected_markers((VIOLATIONS / name).read_text())
    assert violations.cap(name) == expected, violations.messages(name)


def test_every_plugin_code_is_demonstrated(violations: Result) -> None:
    assert {code for _, code in violations.cap()} == PLUGIN_CODES


def test_examples_are_clean_with_the_plugin(tmp_path: Path, mypy_cache: Path) -> None:
    files = {name: (REPO / "examples" / name).read_text() for name in EXAMPLES}
    names = write_files(tmp_path, files)
    result = run_mypy(tmp_path, names, cache_dir=mypy_cache)
    assert not result.internal_error
    assert result.cap() == set(), result.stdout
    # Clean under mypy --strict with the plugin (SPEC §7).
    assert [f for f in result.findings if f.path in files] == [], result.stdout


RETURN_INSIDE = """\
from capsys import Agent, behaviour
from runtime import Runtime


class Counter(Agent):
    def __init__(self) -> None:
        self.n = 0

    @behaviour
    def add(self, k: int) -> int:
        self.n += k
        return self.n


async def total() -> int:
    async with Runtime() as rt:
        counter = rt.spawn(Counter)
        return await counter.ask(Counter.add, 2)
"""


def test_a_return_inside_the_runtime_block_type_checks(tmp_path: Path) -> None:
    # Runtime.__aexit__ never swallows an exception, and says so to mypy: a return
    # inside `async with Runtime()` is not followed by "Missing return statement".
    write_files(tmp_path, {"inside.py": RETURN_INSIDE})
    result = run_mypy(tmp_path, ["inside.py"])
    assert not result.internal_error, result.stdout + result.stderr
    assert list(result.findings) == [], result.stdout
    assert result.status == 0, result.stdout + result.stderr


NO_CAPSYS = """\
from typing import Any


class Agent:
    def send(self, what: Any, *args: Any) -> None: ...
    def ask(self, what: Any) -> list[int]: return []


class Tag:
    def __getattr__(self, name: str) -> Any: ...


def behaviour(fn: Any) -> Any:
    return fn


def val(x: list[int]) -> list[int]:
    return x


class Runtime:
    def spawn(self, cls: type[Agent], items: list[int]) -> Agent:
        return cls()


agent = Agent()
agent.send(agent, [1], {"a": 2})
print(agent.ask(len), Tag().anything, val([1]), Runtime().spawn(Agent, [1]))
checked: int = "yes"
"""


def test_libraries_and_programs_without_capsys_get_nothing(tmp_path: Path) -> None:
    write_files(tmp_path, {"plain.py": NO_CAPSYS})
    result = run_mypy(tmp_path, ["-m", "plain", "-p", "anyio", "-m", "trio"], strict=False)
    assert not result.internal_error, result.stdout + result.stderr
    assert result.status == 1, result.stdout + result.stderr
    assert not any(f.code.startswith("CAP") for f in result.findings)
    # It did check the file (its one deliberate error) and found nothing capsys in it.
    assert {(f.line, f.code) for f in result.findings if f.path == "plain.py"} == {
        (len(NO_CAPSYS.splitlines()), "assignment")
    }


def test_the_project_itself_does_not_crash_the_plugin(tmp_path: Path, mypy_cache: Path) -> None:
    result = run_mypy(tmp_path, ["-p", "capsys", "-p", "mypy_plugin"], cache_dir=mypy_cache)
    assert not result.internal_error, result.stdout + result.stderr
    assert not any(f.code.startswith("CAP") for f in result.findings)


def _dmypy_runs(
    folder: Path, versions: list[dict[str, str]], files: list[str]
) -> list[subprocess.CompletedProcess[str]]:
    """One ``dmypy run`` per version of the files (written just before it), all on one
    daemon, which is stopped at the end. No run may end in an INTERNAL ERROR."""
    config = folder / "mypy.ini"
    config.write_text(f"[mypy]\nstrict = True\nplugins = mypy_plugin\nmypy_path = {REPO}\n")
    dmypy = [sys.executable, "-m", "mypy.dmypy", "--status-file", str(folder / "status.json")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = []
    try:
        for version in versions:
            write_files(folder, version)
            done = subprocess.run(
                [*dmypy, "run", "--", "--config-file", str(config), *files],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert "INTERNAL ERROR" not in done.stdout + done.stderr
            runs.append(done)
    finally:
        subprocess.run([*dmypy, "stop"], cwd=folder, env=env, capture_output=True, timeout=60)
    return runs


def test_dmypy_run(tmp_path: Path) -> None:
    source = (VIOLATIONS / "cap001_not_sendable.py").read_text()
    # The second run is answered by the warm daemon.
    runs = _dmypy_runs(tmp_path, [{"prog.py": source}] * 2, ["prog.py"])
    expected = expected_markers(source)
    for done in runs:
        found = {(f.line, f.code) for f in parse(done.stdout, tmp_path) if f.code in PLUGIN_CODES}
        assert found == expected, done.stdout + done.stderr


def test_dmypy_sees_a_class_become_an_agent_after_an_edit(tmp_path: Path) -> None:
    # The daemon keeps the plugin between runs: what it learnt about a class before an
    # edit must not hide a finding after it. (Both versions import capsys: mypy 2.4's
    # daemon crashes on an edit that adds imports of new packages, plugin or not.)
    header = "from capsys import Agent, behaviour\n\n\n"
    plain = header + "class Worker:\n    def __init__(self) -> None:\n        self.n = 0\n"
    agent = (
        header + "class Worker(Agent):\n"
        "    def __init__(self) -> None:\n"
        "        self.n = 0\n\n"
        "    @behaviour\n"
        "    def tick(self) -> None:\n"
        "        self.n += 1\n"
    )
    prog = "from model import Worker\n\n\ndef make() -> Worker:\n    return Worker()\n"
    versions = [{"model.py": plain, "prog.py": prog}, {"model.py": agent}]
    runs = _dmypy_runs(tmp_path, versions, ["prog.py", "model.py"])
    before, after = ({(f.line, f.code) for f in parse(r.stdout, tmp_path)} for r in runs)
    assert before == set(), runs[0].stdout
    assert after == {(5, "CAP007")}, runs[1].stdout


def test_dmypy_follows_fields_several_imports_away(tmp_path: Path) -> None:
    """After each edit the daemon reports what a cold mypy run reports: a field type
    changed two imports away reaches the behaviour and the send that read it, also
    through a message class nested after the daemon started (one edit that defines a
    class and another that nests it: see the README for both in one)."""
    inner, msgs = TRANSITIVE["pkg/inner.py"], TRANSITIVE["pkg/msgs.py"]
    deep = "\n\nfrom capsys import message\n\n\n@message\nclass Deep:\n    w: {}\n"
    with_deep = msgs.replace("import Inner", "import Deep, Inner") + "    deep: Deep\n"
    versions = [
        TRANSITIVE,
        {"pkg/inner.py": inner.replace("v: int", "v: list[int]")},
        {"pkg/inner.py": inner},
        {"pkg/inner.py": inner + deep.format("int")},
        {"pkg/msgs.py": with_deep},
        {"pkg/inner.py": inner + deep.format("set[int]")},
    ]
    targets = ["main.py", "pkg"]
    (tmp_path / "daemon").mkdir()
    runs = _dmypy_runs(tmp_path / "daemon", versions, targets)
    cold_folder = tmp_path / "cold"
    for i, (version, done) in enumerate(zip(versions, runs, strict=True)):
        write_files(cold_folder, version)
        cold = {(f.path, f.line, f.code) for f in run_mypy(cold_folder, targets).findings}
        warm = {(f.path, f.line, f.code) for f in parse(done.stdout, tmp_path / "daemon")}
        assert warm == cold, f"version {i}:\n{done.stdout}"
        if i in (1, 5):  # the field, the message holding it, the behaviour, the send
            assert {path for path, _, _ in cold} == {
                "pkg/inner.py" if i == 5 else "pkg/msgs.py",
                "pkg/msgs.py",
                "pkg/agents.py",
                "main.py",
            }, cold
