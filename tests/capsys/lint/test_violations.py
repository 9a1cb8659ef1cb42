"""examples/violations/: every ``# expect: CAPNNN`` marker of the definition rules is
reported at its line, and nothing else is (for the codes these rules implement)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from capsys.config import Config
from capsys.lint.engine import lint_source
from capsys.lint.index import ProjectIndex

VIOLATIONS = Path(__file__).resolve().parents[3] / "examples" / "violations"
# The codes of the engine and of L-core's rules (L-flow tests CAP005/6/9/10 the same way).
CODES = frozenset({"CAP000", "CAP001", "CAP002", "CAP003", "CAP004", "CAP007", "CAP008", "CAP011"})
_EXPECT = re.compile(r"#\s*expect:\s*(CAP\d{3}(?:\s*,\s*CAP\d{3})*)")


def _expected(path: Path) -> set[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = _EXPECT.search(line)
        if match:
            found.update((c.strip(), number) for c in match.group(1).split(","))
    return {(code, line) for code, line in found if code in CODES}


FILES = sorted(VIOLATIONS.glob("cap*.py"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_markers_match_findings(path: Path) -> None:
    config = Config(root=VIOLATIONS).with_overrides(CODES)
    result = lint_source(path, path.read_bytes(), config, ProjectIndex([VIOLATIONS]), path.name)
    assert result.error is None
    reported = {(d.code, d.line) for d in result.diagnostics}
    assert reported == _expected(path)


def test_there_are_violation_files_for_every_code() -> None:
    names = {p.name[:6].upper() for p in FILES}
    assert names >= CODES
