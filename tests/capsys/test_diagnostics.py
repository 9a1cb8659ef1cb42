"""The rule catalogue and the `capsys rules` / `capsys explain` commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api as mypy_api

from capsys.cli import main
from capsys.diagnostics import CODES, RULES, Checker, Severity, get_rule


def test_catalogue_has_every_spec_code_in_order() -> None:
    assert tuple(f"CAP{n:03d}" for n in range(13)) == CODES
    names = [r.name for r in RULES]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_every_rule_is_complete(rule: object) -> None:
    from capsys.diagnostics import Rule

    assert isinstance(rule, Rule)
    assert rule.summary and rule.rationale and rule.bad and rule.good
    assert rule.checkers and rule.severity in (Severity.ERROR, Severity.WARNING)
    assert rule.fields, "a message template names what crossed which boundary"
    filled = rule.format(**{f: f"<{f}>" for f in rule.fields})
    assert all(f"<{f}>" in filled for f in rule.fields)


def test_which_checker_reports_what_follows_the_spec_table() -> None:
    mypy_codes = {r.code for r in RULES if Checker.MYPY in r.checkers}
    lint_codes = {r.code for r in RULES if Checker.LINT in r.checkers}
    assert mypy_codes == {"CAP001", "CAP002", "CAP003", "CAP004", "CAP007", "CAP008", "CAP012"}
    assert lint_codes == {f"CAP{n:03d}" for n in range(12)}
    assert get_rule("CAP011") is not None and get_rule("CAP011").severity is Severity.WARNING  # type: ignore[union-attr]


def test_get_rule_is_case_insensitive() -> None:
    assert get_rule("cap005") is get_rule("CAP005")
    assert get_rule("CAP999") is None


def test_good_examples_pass_mypy_strict(tmp_path: Path) -> None:
    files = []
    for rule in RULES:
        path = tmp_path / f"{rule.code.lower()}_good.py"
        path.write_text(rule.good)
        files.append(str(path))
    out, err, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / ".cache"), *files]
    )
    assert status == 0, out + err


def test_rules_prints_a_table_with_every_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["code", "name", "severity"]
    for rule in RULES:
        assert re.search(rf"^{rule.code}\s+{rule.name}\s+{rule.severity.value}", out, re.M)


def test_rules_json_lists_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in data] == list(CODES)
    assert data[5]["name"] == "use-after-move"
    assert set(data[0]) >= {
        "code",
        "name",
        "summary",
        "message",
        "severity",
        "checkers",
        "rationale",
        "bad",
        "good",
    }


def test_explain_prints_rationale_and_both_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "cap005"]) == 0
    out = capsys.readouterr().out
    rule = get_rule("CAP005")
    assert rule is not None
    assert out.startswith("CAP005 use-after-move")
    assert rule.rationale in out
    assert "Example (bad):" in out and "Use instead:" in out
    assert "    sink.send(Sink.put, data)" in out


def test_explain_unknown_code_exits_2_and_lists_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "CAP999"]) == 2
    err = capsys.readouterr().err
    assert "unknown code 'CAP999'" in err
    assert all(code in err for code in CODES)


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["rules", "--format", "yaml"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_entry_points() -> None:
    for cmd in ([sys.executable, "-m", "capsys", "explain", "CAP001"],):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("CAP001 not-sendable")
    done = subprocess.run(
        [sys.executable, "-m", "capsys", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("capsys ")
