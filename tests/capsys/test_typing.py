"""The DSL type-checks without any plugin: mypy --strict sees the argument types of a
send/ask, the reply type of an ask, frozen messages and the capabilities.

Each `# E: <text>` comment in a case file states what mypy must say on that line: a
revealed type, or an error code in brackets. Lines without one must be clean.
"""

from __future__ import annotations

import re
from pathlib import Path

from mypy import api as mypy_api

CASES = Path(__file__).parent / "typing_cases"
EXPECT = re.compile(r"#\s*E:\s*(.+)$")
REPORT = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<kind>error|note): (?P<text>.*)$")


def _expected(path: Path) -> dict[int, str]:
    out = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            out[number] = match.group(1).strip()
    return out


def test_mypy_strict_without_plugin_checks_the_dsl(tmp_path: Path) -> None:
    case = CASES / "tag_typing.py"
    out, err, _ = mypy_api.run(
        [
            "--strict",
            "--no-incremental",
            "--config-file",
            "/dev/null",
            "--cache-dir",
            str(tmp_path),
            str(case),
        ]
    )
    got: dict[int, list[str]] = {}
    for line in out.splitlines():
        m = REPORT.match(line)
        if m and m.group("file").endswith(case.name):
            got.setdefault(int(m.group("line")), []).append(m.group("text"))
    expected = _expected(case)
    for number, what in expected.items():
        texts = got.pop(number, [])
        if what.startswith("["):
            assert any(t.endswith(what) for t in texts), (number, what, texts)
        else:
            assert f'Revealed type is "{what}"' in map(_unqualified, texts), (number, texts)
    assert not got, f"unexpected mypy output: {got}\n{err}"


def _unqualified(text: str) -> str:
    """mypy versions differ in how they print names: compare without module prefixes."""
    return re.sub(r"\b(?:[a-z_]\w*\.)+(?=[A-Za-z_])", "", text)


def test_pyright_checks_the_dsl_too() -> None:
    """pyright (no plugin) reports the same lines: errors where marked, nothing else."""
    import json
    import subprocess
    import sys

    case = CASES / "tag_typing.py"
    done = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", str(case)],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(done.stdout)
    errors = {
        d["range"]["start"]["line"] + 1
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    }
    expected = {n for n, what in _expected(case).items() if what.startswith("[")}
    assert errors == expected, report["generalDiagnostics"]
