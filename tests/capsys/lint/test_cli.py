"""``capsys lint`` end to end: output formats, exit status, fixes, suppression,
configuration, .gitignore, the cache and CAP000."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

from capsys.cli import main
from capsys.lint import cache as lint_cache
from capsys.lint import engine as lint_engine
from capsys.lint import runner as lint_runner
from capsys.lint.cli import emit
from capsys.lint.model import Diagnostic
from capsys.lint.output import JSON_SCHEMA, sarif
from tests.capsys.lint.helpers import needs_symlinks

SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

ESCAPE = """\
from capsys import Agent, Tag, behaviour


class Boss(Agent):
    @behaviour
    def register(self, worker: Tag["Worker"]) -> None:
        pass


class Worker(Agent):
    @behaviour
    def hello(self, boss: Tag[Boss]) -> None:
        boss.send(Boss.register, self)
        boss.send(Boss.register, self)  # capsys: ignore[CAP008]
"""

BLOCKING = """\
import time

from capsys import Agent, behaviour


class Poller(Agent):
    @behaviour
    async def poll(self) -> None:
        time.sleep(1.0)
"""

CLEAN = """\
from capsys import Agent, behaviour


class Fine(Agent):
    @behaviour
    def ping(self, n: int) -> int:
        return n
"""


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _write(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname = 'demo'\n",
            "app/escape.py": ESCAPE,
            "app/poll.py": BLOCKING,
            "app/fine.py": CLEAN,
        },
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["lint", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_is_sorted_with_summary(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "--no-cache")
    assert code == 1
    assert out.splitlines() == [
        "app/escape.py:13:34: CAP008 self (the agent object) is passed as argument 1 of send "
        "to Boss.register; send self.me (its Tag) instead",
        "app/poll.py:9:9: CAP011 time.sleep() blocks the worker thread inside async behaviour "
        "Poller.poll; use await anyio.sleep(...)",
    ]
    assert "3 file(s) checked, 2 finding(s), 0 cache hit(s)" in err


def test_exit_status(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--no-cache", "app/fine.py")[0] == 0
    assert _run(capsys, "--no-cache", "app/escape.py")[0] == 1
    code, _, err = _run(capsys, "--select", "CAP999")
    assert code == 2 and "unknown code" in err
    code, out, _ = _run(capsys, "missing.py")  # CAP000, as ruff's E902
    assert code == 1 and "missing.py:1:1: CAP000" in out
    assert _run(capsys, "--jobs", "0")[0] == 2
    assert _run(capsys, "--format", "xml")[0] == 2
    (project / "pyproject.toml").write_text("[tool.capsys]\nselect = 'CAP001'\n")
    code, _, err = _run(capsys, "--no-cache")
    assert code == 2 and "select" in err


def test_json_format_follows_its_schema(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--no-cache", "--format", "json")
    data = json.loads(out)
    jsonschema.validate(data, JSON_SCHEMA)
    assert code == 1
    assert data["files_checked"] == 3
    first = data["diagnostics"][0]
    assert (first["path"], first["line"], first["column"], first["code"]) == (
        "app/escape.py",
        13,
        34,
        "CAP008",
    )
    assert first["name"] == "self-escape" and first["fixable"] is True
    assert data["diagnostics"][1]["severity"] == "warning"


def test_sarif_validates_against_the_official_schema(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(capsys, "--no-cache", "--format", "sarif")
    log = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert [r["level"] for r in run["results"]] == ["error", "warning"]
    region = run["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (13, 34)


def test_github_annotations(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "--no-cache", "--format", "github")
    lines = out.splitlines()
    assert lines[0].startswith(
        "::error file=app/escape.py,line=13,col=34,endLine=13,endColumn=38,"
        "title=CAP008 self-escape::CAP008 self (the agent object)"
    )
    assert lines[1].startswith("::warning file=app/poll.py,line=9,col=9,")


def test_fix_is_applied_once_and_idempotent(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = project / "app" / "escape.py"
    code, out, _ = _run(capsys, "--no-cache", "--diff", "app/escape.py")
    assert code == 1
    assert "-        boss.send(Boss.register, self)\n" in out
    assert "+        boss.send(Boss.register, self.me)\n" in out
    assert target.read_text() == ESCAPE  # --diff changes nothing
    code, out, err = _run(capsys, "--no-cache", "--fix", "app/escape.py")
    assert code == 0 and out == "" and "1 file(s) fixed" in err
    fixed = target.read_text()
    compile(fixed, "escape.py", "exec")
    assert fixed.count("self.me)") == 1  # the suppressed line is left alone
    assert _run(capsys, "--no-cache", "--fix", "app/escape.py")[0] == 0
    assert target.read_text() == fixed
    assert _run(capsys, "--no-cache", "--diff", "app/escape.py")[1] == ""


def test_suppression_comments(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(
        project,
        {
            "app/poll.py": BLOCKING.replace(
                "time.sleep(1.0)", "time.sleep(1.0)  # capsys: ignore[CAP005, CAP011]"
            ),
            "app/other.py": BLOCKING.replace(
                "time.sleep(1.0)", "time.sleep(1.0)  # capsys: ignore[CAP005]"
            ),
        },
    )
    _, out, _ = _run(capsys, "--no-cache", "app/poll.py", "app/other.py")
    assert [line.split(":")[0] for line in out.splitlines()] == ["app/other.py"]


def test_config_select_ignore_exclude_severity(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text('[tool.capsys]\nselect = ["CAP011"]\n')
    assert [line[:13] for line in _run(capsys, "--no-cache")[1].splitlines()] == ["app/poll.py:9"]
    pyproject.write_text(
        '[tool.capsys]\nignore = ["CAP011"]\n[tool.capsys.severity]\nCAP008 = "warning"\n'
    )
    _, out, _ = _run(capsys, "--no-cache", "--format", "json")
    (only,) = json.loads(out)["diagnostics"]
    assert (only["code"], only["severity"]) == ("CAP008", "warning")
    pyproject.write_text('[tool.capsys]\nexclude = ["app/escape.py"]\n')
    _, out, err = _run(capsys, "--no-cache")
    assert "escape" not in out and "2 file(s) checked" in err
    # the command line adds to the file's settings
    _, out, _ = _run(capsys, "--no-cache", "--ignore", "CAP011")
    assert out == ""
    _, out, _ = _run(capsys, "--no-cache", "--select", "CAP008", "app/escape.py")
    assert out.count("CAP008") == 1  # an explicitly named file is checked even if excluded
    _, out, _ = _run(capsys, "--no-cache", "--force-exclude", "app/escape.py")
    assert out == ""


def test_command_line_select_discards_the_files_ignore(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As in ruff: --select replaces the file's select and ignore; --ignore still applies.
    (project / "pyproject.toml").write_text('[tool.capsys]\nignore = ["CAP011", "CAP008"]\n')
    assert _run(capsys, "--no-cache")[1] == ""

    def located(*args: str) -> list[str]:
        return [
            line.split(" ", 2)[0] + line.split(" ", 2)[1]
            for line in _run(capsys, *args)[1].splitlines()
        ]

    assert located("--no-cache", "--select", "CAP011") == ["app/poll.py:9:9:CAP011"]
    both = ("--no-cache", "--select", "CAP011,CAP008", "--ignore", "CAP011")
    assert located(*both) == ["app/escape.py:13:34:CAP008"]
    assert located("--no-cache", "--select", "CAP011", "--ignore", "CAP011") == []


def test_include_filters_the_files_found_in_folders(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(project, {"other/poll.py": BLOCKING})
    (project / "pyproject.toml").write_text('[tool.capsys]\ninclude = ["other"]\n')
    _, out, err = _run(capsys, "--no-cache")
    assert out.startswith("other/poll.py:9:9: CAP011") and "1 file(s) checked" in err
    assert _run(capsys, "--no-cache", ".")[1] == out  # the default path is `.`
    # a file named explicitly is checked anyway, unless --force-exclude
    assert _run(capsys, "--no-cache", "app/poll.py")[1].startswith("app/poll.py:9:9: CAP011")
    assert _run(capsys, "--no-cache", "--force-exclude", "app/poll.py")[1] == ""
    # from a subfolder, paths are shown relative to it
    monkeypatch.chdir(project / "other")
    assert _run(capsys, "--no-cache")[1].startswith("poll.py:9:9: CAP011")


def test_gitignore_is_honoured(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".git").mkdir()
    _write(
        project,
        {
            ".gitignore": "# generated\nbuild_out/\n*.gen.py\n!keep.gen.py\n",
            "build_out/poll.py": BLOCKING,
            "app/x.gen.py": BLOCKING,
            "app/keep.gen.py": BLOCKING,
            "app/sub/.gitignore": "local.py\n",
            "app/sub/local.py": BLOCKING,
            "app/sub/shown.py": BLOCKING,
        },
    )
    _, out, _ = _run(capsys, "--no-cache", "--select", "CAP011")
    paths = [line.split(":")[0] for line in out.splitlines()]
    assert paths == ["app/keep.gen.py", "app/poll.py", "app/sub/shown.py"]


def test_cache_hits_and_invalidation(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, first, err = _run(capsys)
    assert "0 cache hit(s)" in err and (project / ".capsys_cache").is_dir()
    code2, second, err = _run(capsys)
    assert (code2, second) == (code, first) and "3 cache hit(s)" in err
    # edit a file: only that one is checked again
    (project / "app" / "poll.py").write_text(BLOCKING.replace("1.0", "2.0"))
    _, out, err = _run(capsys)
    assert "2 cache hit(s)" in err and out == first
    # change the configuration: nothing is reused
    (project / "pyproject.toml").write_text('[tool.capsys]\nignore = ["CAP011"]\n')
    _, out, err = _run(capsys)
    assert "0 cache hit(s)" in err and "CAP011" not in out
    _run(capsys)
    # upgrade capsys: nothing is reused
    monkeypatch.setattr(lint_cache, "__version__", "99.0")
    assert "0 cache hit(s)" in _run(capsys)[2]
    # change capsys's own code (an editable install, a fix between releases): the same
    monkeypatch.setattr(lint_cache, "_code_fingerprint", lambda: "edited")
    assert "0 cache hit(s)" in _run(capsys)[2]
    # --no-cache neither reads nor writes
    assert "0 cache hit(s)" in _run(capsys, "--no-cache")[2]


def test_cache_follows_dependencies(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(
        project,
        {
            "app/__init__.py": "",
            "app/base.py": "class Base:\n    pass\n",
            "app/user.py": (
                "from capsys import Agent, behaviour\nfrom app.base import Base\n\n\n"
                "class User(Base):\n    pass\n\n\nu = User()\n"
            ),
        },
    )
    assert "CAP007" not in _run(capsys, "app/user.py")[1]
    (project / "app" / "base.py").write_text(
        "from capsys import Agent\n\n\nclass Base(Agent):\n    pass\n"
    )
    _, out, err = _run(capsys, "app/user.py")
    assert "app/user.py:9:5: CAP007" in out and "0 cache hit(s)" in err


def test_cache_follows_a_module_that_appears_or_starts_to_parse(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An import that did not resolve was not a dependency: the result stayed cached after
    # the module was written, and so did one made while the module did not parse.
    user = (
        "from capsys import Agent, behaviour\nfrom app.base import Base\n\n\n"
        "class User(Base):\n    pass\n\n\nu = User()\n"
    )
    _write(project, {"app/__init__.py": "", "app/user.py": user})
    assert "CAP007" not in _run(capsys, "app/user.py")[1]
    (project / "app" / "base.py").write_text("from capsys import Agent\n\n\nclass Base(Agent:\n")
    _, out, err = _run(capsys, "app/user.py")
    assert "CAP007" not in out and "0 cache hit(s)" in err
    assert "1 cache hit(s)" in _run(capsys, "app/user.py")[2]
    (project / "app" / "base.py").write_text(
        "from capsys import Agent\n\n\nclass Base(Agent):\n    pass\n"
    )
    _, out, err = _run(capsys, "app/user.py")
    assert "app/user.py:9:5: CAP007" in out and "0 cache hit(s)" in err


def test_a_file_importing_a_capsys_module_of_the_project_is_checked(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # user.py imports no capsys itself, but an agent class of the project: it is part
    # of a capsys program (as mypy with the plugin sees it). Whether it is depends on
    # agents.py, so editing agents.py either way updates the cached result.
    agents = "from capsys import Agent\n\n\nclass Counter(Agent):\n    pass\n"
    plain = "class Counter:\n    pass\n"
    _write(
        project,
        {
            "app/__init__.py": "",
            "app/agents.py": agents,
            "app/user.py": "from .agents import Counter\n\nc = Counter()\n",
            "app/alone.py": "from json import dumps\n\n\nclass Agent:\n    pass\n\n\na = Agent()\n",
        },
    )
    cap007 = "app/user.py:3:5: CAP007 agent Counter is instantiated directly"
    _, out, err = _run(capsys, "app/user.py", "app/alone.py")
    assert out.startswith(cap007) and len(out.splitlines()) == 1
    assert "0 cache hit(s)" in err
    _, again, err = _run(capsys, "app/user.py", "app/alone.py")
    assert again == out and "2 cache hit(s)" in err
    (project / "app" / "agents.py").write_text(plain)
    _, out, err = _run(capsys, "app/user.py")
    assert out == "" and "0 cache hit(s)" in err
    (project / "app" / "agents.py").write_text(agents)
    _, out, err = _run(capsys, "app/user.py")
    assert out.startswith(cap007) and "0 cache hit(s)" in err


def test_cap000_and_the_run_goes_on(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "app" / "broken.py").write_text("def broken(:\n    pass\n")
    (project / "app" / "binary.py").write_bytes(b"import capsys\nx = '\xff\xfe'\n")
    code, out, _ = _run(capsys, "--no-cache")
    lines = out.splitlines()
    assert lines[0].startswith("app/binary.py:2:6: CAP000 cannot check this file: not valid utf-8")
    assert lines[1].startswith("app/broken.py:1:12: CAP000 cannot check this file: syntax error")
    assert any("CAP011" in line for line in lines)
    assert code == 1


def test_parallel_output_is_identical(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(12):
        _write(project, {f"many/m{i:02}.py": BLOCKING, f"many/e{i:02}.py": ESCAPE})
    _, serial, _ = _run(capsys, "--no-cache", "--jobs", "1")
    monkeypatch.setattr(lint_runner, "PARALLEL_THRESHOLD", 4)
    _, parallel, _ = _run(capsys, "--no-cache", "--jobs", "2")
    assert parallel == serial and serial.count("\n") == 2 + 24


def test_cli_formats_are_the_rendered_ones() -> None:
    from capsys.lint import cli, output

    assert cli.FORMATS == output.FORMATS


def test_rules_command_does_not_import_the_linter() -> None:
    code = (
        "import sys; from capsys.cli import main; main(['rules']); print('libcst' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")


UNSAFE = """\
from capsys import Iso, consume, iso


def alias() -> Iso[list[int]]:
    data = iso([1, 2])
    other = data
    print(data)
    return other
"""


def test_unsafe_fixes_only_on_request(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = project / "app" / "alias.py"
    target.write_text(UNSAFE)
    assert _run(capsys, "--no-cache", "--fix", "app/alias.py")[0] == 1
    assert target.read_text() == UNSAFE  # never applied silently
    _, out, _ = _run(capsys, "--no-cache", "--diff", "--unsafe-fixes", "app/alias.py")
    assert "+    other = consume(data)\n" in out
    _run(capsys, "--no-cache", "--fix", "--unsafe-fixes", "app/alias.py")
    assert "other = consume(data)" in target.read_text()


def test_config_option_reads_that_file(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "custom.toml").write_text(
        '[tool.capsys]\nselect = ["CAP008", "CAP011"]\nexclude = ["app/poll.py"]\n'
    )
    (project / "app" / "pyproject.toml").write_text('[tool.capsys]\nselect = ["CAP001"]\n')
    monkeypatch.chdir(project / "app")
    code, out, err = _run(capsys, "--no-cache", "--config", "../custom.toml")
    # custom.toml's select, and its exclude relative to its own folder
    assert [line[:16] for line in out.splitlines()] == ["escape.py:13:34:"]
    assert "2 file(s) checked" in err and code == 1
    code, _, err = _run(capsys, "--config", "../missing.toml")
    assert code == 2 and "--config: no such file" in err
    (project / "custom.toml").write_text("[tool.capsys\n")
    code, _, err = _run(capsys, "--config", "../custom.toml")
    assert code == 2 and "cannot read" in err


def test_malformed_tool_table_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text("tool = 1\n")
    code, _, err = _run(capsys, "--no-cache")
    assert code == 2 and "[tool.capsys] must be a table" in err


@needs_symlinks
def test_symlink_loops_are_reported_and_the_run_goes_on(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "d").mkdir()
    (project / "d" / "l1.py").symlink_to("l2.py")
    (project / "d" / "l2.py").symlink_to("l1.py")
    (project / "d" / "poll.py").write_text(BLOCKING)
    (project / "app" / "up").symlink_to("..")  # a folder cycle
    loop = "CAP000 cannot check this file: cannot read it (Too many levels of symbolic links)"
    code, out, err = _run(capsys, "--no-cache", "d")
    assert out.splitlines()[:2] == [f"d/l1.py:1:1: {loop}", f"d/l2.py:1:1: {loop}"]
    assert out.splitlines()[2].startswith("d/poll.py:9:9: CAP011") and code == 1
    # named explicitly, and first (the configuration is looked up from it)
    code, out, _ = _run(capsys, "--no-cache", "d/l1.py", "d/poll.py")
    assert out.splitlines()[0] == f"d/l1.py:1:1: {loop}" and "d/poll.py:9:9" in out
    code, out, err = _run(capsys, "--no-cache", "--select", "CAP011")
    assert out.count("poll.py:9:9") == 2 and "6 file(s) checked" in err
    # CAP000 is never hidden: a file that was not checked must not pass as clean
    assert f"d/l1.py:1:1: {loop}" in out and code == 1
    code, out, _ = _run(capsys, "--no-cache", "--ignore", "CAP000,CAP011", "d")
    assert f"d/l1.py:1:1: {loop}" in out and code == 1


def test_an_unexpected_exception_is_an_internal_error(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(lint_runner, "lint_paths", crash)
    code, out, err = _run(capsys, "--no-cache")
    assert (code, out) == (2, "") and err == "capsys lint: internal error: RuntimeError('boom')\n"


def test_a_crash_on_one_file_spares_the_others(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = lint_engine.lint_source

    def crash_on_escape(path: Path, *args: object) -> lint_engine.FileResult:
        if path.name == "escape.py":
            raise RuntimeError("boom")
        return real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(lint_runner, "lint_source", crash_on_escape)
    code, out, err = _run(capsys, "--no-cache")
    assert code == 2 and out.startswith("app/poll.py:9:9: CAP011")
    assert "internal error: checking app/escape.py failed: RuntimeError('boom')" in err


@pytest.mark.skipif(
    lint_runner._pool_context().get_start_method() != "fork",
    reason="the crashing stand-in reaches the workers by fork",
)
def test_a_worker_process_that_dies_costs_only_its_own_file(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A native crash in a worker (libcst's parser overflowing the C stack did this) ended
    # the run with BrokenProcessPool, exit 2, and every other file's results lost.
    for i in range(12):
        _write(project, {f"many/m{i:02}.py": BLOCKING, f"many/e{i:02}.py": ESCAPE})
    _write(project, {"many/crash.py": CLEAN})
    _, serial, _ = _run(capsys, "--no-cache", "--jobs", "1")
    real = lint_runner.lint_file

    def die_on_crash(path: Path, *args: object) -> lint_engine.FileResult:
        if path.name == "crash.py":
            os._exit(70)  # as a segfault: no exception, no result, the process is gone
        return real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(lint_runner, "lint_file", die_on_crash)
    monkeypatch.setattr(lint_runner, "PARALLEL_THRESHOLD", 4)
    code, parallel, _ = _run(capsys, "--no-cache", "--jobs", "2")
    crashed = "many/crash.py:1:1: CAP000 cannot check this file: the process checking it crashed"
    assert code == 1 and crashed in parallel.splitlines()
    assert parallel.replace(crashed + "\n", "") == serial and serial.count("\n") == 2 + 24


def test_a_damaged_cache_is_a_miss(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, first, _ = _run(capsys)
    (results,) = (project / ".capsys_cache").glob("results-*.json")
    data = json.loads(results.read_text())
    for entry in data["files"].values():
        entry["diagnostics"] = [{"bogus": 1}]
    data["files"][str((project / "app" / "poll.py").resolve())]["deps"] = [1]
    results.write_text(json.dumps(data))
    code, out, err = _run(capsys)
    assert (code, out) == (1, first) and "0 cache hit(s)" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_named_explicitly_is_reported_not_read(project: Path) -> None:
    os.mkfifo(project / "f.py")
    run = subprocess.run(
        [sys.executable, "-m", "capsys", "lint", "--no-cache", "f.py", "app/poll.py"],
        capture_output=True,
        text=True,
        timeout=60,  # reading the FIFO would block forever
    )
    poll, fifo = run.stdout.splitlines()
    assert fifo == "f.py:1:1: CAP000 cannot check this file: cannot read it (not a regular file)"
    assert poll.startswith("app/poll.py:9:9: CAP011") and run.returncode == 1


@pytest.mark.parametrize(
    ("command", "status"), [(["lint", "--no-cache", "--format", "json"], 1), (["rules"], 0)]
)
def test_a_closed_pipe_ends_the_output_quietly(
    project: Path, command: list[str], status: int
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "capsys", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head` exiting: no reader is left, writes fail (EPIPE)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == status  # the status the output would have come with
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_a_closed_pipe_on_stderr_too(project: Path) -> None:
    command = [sys.executable, "-m", "capsys", "lint", "--no-cache", "--select", "CAP005"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    proc.stdout.close()  # `capsys lint 2>&1 | head` exiting: the summary line fails too
    assert proc.wait(timeout=60) == 0


def test_emit_redirects_to_devnull_after_a_broken_pipe() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    out = io.TextIOWrapper(os.fdopen(write_end, "wb"), encoding="utf-8")
    emit(out, lambda o: o.write("x" * 100_000))
    emit(out, lambda o: o.write("more\n"))  # and later writes too
    out.close()


@pytest.mark.skipif(sys.platform != "linux", reason="file names need not be UTF-8 on Linux only")
def test_a_file_name_that_is_not_utf8_is_printed(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = os.fsdecode(b"bad\xff.py")
    (project / name).write_text(BLOCKING)
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", out)
    code = main(["lint", "--no-cache", name])
    out.flush()
    assert code == 1 and raw.getvalue().startswith(b"bad\\udcff.py:9:9: CAP011")


def test_sarif_uris_are_percent_encoded() -> None:
    def uri(path: str) -> str:
        log = sarif([Diagnostic(path, 1, 1, "CAP008", "m")])
        location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
        return str(location["artifactLocation"]["uri"])

    assert uri("we,ird:na%me.py") == "we%2Cird%3Ana%25me.py"
    assert uri("sub dir/\u00fc.py") == "sub%20dir/%C3%BC.py"
    assert uri(str(Path("/tmp/a b.py").absolute())).startswith("file:")


def test_a_syntax_error_is_reported_whatever_select_says(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "broken.py").write_text("from capsys import iso\ndef f(:\n    pass\n")
    for option in (("--select", "CAP005"), ("--ignore", "CAP000")):
        code, out, _ = _run(capsys, "--no-cache", *option, "broken.py")
        assert out.startswith("broken.py:2:7: CAP000 cannot check this file") and code == 1


def test_a_folder_that_cannot_be_listed_is_cap000(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its files were skipped without a word, so the run passed as clean.
    _write(project, {"secret/inner.py": ESCAPE})
    real = os.scandir

    def refuse_secret(path: object) -> object:
        if Path(str(path)).name == "secret":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "scandir", refuse_secret)
    code, out, _ = _run(capsys, "--no-cache", ".")
    assert code == 1
    refused = "secret:1:1: CAP000 cannot check this file: a folder that cannot be listed"
    assert f"{refused} (Permission denied)" in out.splitlines()
    assert "secret/inner.py" not in out and "app/poll.py:9:9: CAP011" in out


def test_valid_python_that_libcst_cannot_parse_is_not_called_a_syntax_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "paren.py").write_text(
        "from capsys import Agent\nclass A(Agent):\n    (x): int = 1\n"
    )
    code, out, _ = _run(capsys, "--no-cache", "paren.py")
    assert code == 1
    assert out.startswith(
        "paren.py:3:1: CAP000 cannot check this file: libcst cannot parse this valid Python ("
    )


def test_a_file_nested_too_deeply_is_cap000_and_the_rest_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # libcst's parser overflowed the C stack on these (a segfault that lost every other
    # file's results). CPython's tokenizer refuses the brackets on every version; the
    # chain, CPython's parser on 3.11 and 3.12 (no position), the linter's own limit on
    # 3.10 and 3.13 (at the deepest node).
    (tmp_path / "deep.py").write_text("import capsys\nx = " + "[" * 3000 + "]" * 3000 + "\n")
    (tmp_path / "chain.py").write_text("import capsys\nx = " + " + ".join(["a"] * 8000) + "\n")
    (tmp_path / "agent.py").write_text(
        "from capsys import Agent, Iso, behaviour\n"
        "class A(Agent):\n"
        "    @behaviour\n"
        "    def go(self, x: Iso[list[int]]) -> None:\n"
        "        y = x\n"
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys, "--no-cache", "-j", "2", ".")
    assert code == 1
    agent, chain, deep = out.splitlines()
    assert agent == (
        "agent.py:5:13: CAP006 the Iso 'x' is copied by 'y = x' without consume(): two names "
        "now own one object graph; write 'y = consume(x)' to transfer ownership"
    )
    assert chain in (
        f"chain.py:{where}: CAP000 cannot check this file: nested more than 500 levels deep"
        for where in ("1:1", "2:5")
    )
    assert deep == "deep.py:2:205: CAP000 cannot check this file: too deeply nested to parse"


def test_each_file_follows_its_nearest_pyproject_whatever_the_order(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A nested project's own [tool.capsys] for its files, the outer one for the rest:
    # the first path on the command line used to choose one for every file.
    (project / "pyproject.toml").write_text('[tool.capsys]\nignore = ["CAP011", "CAP008"]\n')
    _write(
        project,
        {
            "inner/pyproject.toml": '[tool.capsys]\nselect = ["CAP011"]\nexclude = ["gen"]\n',
            "inner/poll.py": BLOCKING,
            "inner/gen/poll.py": BLOCKING,
        },
    )
    want = ["inner/poll.py:9:9: CAP011"]
    for args in (["inner/poll.py", "app/poll.py"], ["app/poll.py", "inner/poll.py"], ["."]):
        code, out, _ = _run(capsys, "--no-cache", *args)
        found = [line.split(" ", 2)[:2] for line in out.splitlines()]
        assert [" ".join(f) for f in found] == want, args
        assert code == 1
    # the nested exclude applies to the files found in its folders, named ones are checked
    code, out, _ = _run(capsys, "--no-cache", "inner/gen/poll.py")
    assert out.startswith("inner/gen/poll.py:9:9: CAP011")


def test_diff_still_reports_files_it_could_not_check(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "app" / "broken.py").write_text("import capsys\ndef broken(:\n    pass\n")
    code, out, err = _run(capsys, "--no-cache", "--diff", "app/broken.py", "app/fine.py")
    assert out == ""  # stdout stays a patch
    assert err.splitlines()[0].startswith(
        "app/broken.py:2:12: CAP000 cannot check this file: syntax error"
    )
    assert code == 1
    code, out, err = _run(capsys, "--no-cache", "--diff", "app/fine.py")
    assert (code, out) == (0, "")


def test_a_path_that_does_not_exist_is_cap000_and_the_rest_are_checked(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As ruff reports E902: a typo in one path does not hide the others' findings.
    code, out, _ = _run(capsys, "--no-cache", "app/missing.py", "app/poll.py")
    assert out.splitlines() == [
        "app/missing.py:1:1: CAP000 cannot check this file: cannot read it (No such file or "
        "directory)",
        "app/poll.py:9:9: CAP011 time.sleep() blocks the worker thread inside async "
        "behaviour Poller.poll; use await anyio.sleep(...)",
    ]
    assert code == 1
