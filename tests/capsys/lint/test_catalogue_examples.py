"""The catalogue's examples: each bad example of a code the linter implements produces
that code; each good example produces nothing at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from capsys.diagnostics import RULES, Rule
from capsys.lint.rules import implemented_codes

from .helpers import lint_code

LINTED = [r for r in RULES if r.code in implemented_codes()]


def test_the_linter_implements_its_codes() -> None:
    assert {r.code for r in LINTED} == {
        "CAP000",
        "CAP001",
        "CAP002",
        "CAP003",
        "CAP004",
        "CAP005",
        "CAP006",
        "CAP007",
        "CAP008",
        "CAP009",
        "CAP010",
        "CAP011",
    }


@pytest.mark.parametrize("rule", LINTED, ids=[r.code for r in LINTED])
def test_bad_example_is_reported(rule: Rule, tmp_path: Path) -> None:
    codes = {d.code for d in lint_code(rule.bad, tmp_path)}
    assert rule.code in codes


@pytest.mark.parametrize("rule", LINTED, ids=[r.code for r in LINTED])
def test_good_example_is_clean(rule: Rule, tmp_path: Path) -> None:
    assert [d.text() for d in lint_code(rule.good, tmp_path)] == []
