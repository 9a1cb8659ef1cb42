"""The catalogue's examples under the plugin: every bad example of a rule the plugin
implements produces that code, every good example produces nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from capsys.diagnostics import RULES, Checker
from tests.mypy_plugin.harness import Result, run_mypy, write_files


def _catalogue_files() -> dict[str, str]:
    files = {}
    for rule in RULES:
        if Checker.MYPY in rule.checkers:
            files[f"{rule.code.lower()}_bad.py"] = rule.bad
            files[f"{rule.code.lower()}_good.py"] = rule.good
    return files


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory, mypy_cache: Path) -> Result:
    folder = tmp_path_factory.mktemp("catalogue")
    return run_mypy(folder, write_files(folder, _catalogue_files()), cache_dir=mypy_cache)


@pytest.mark.parametrize(
    "code", sorted(r.code for r in RULES if Checker.MYPY in r.checkers), ids=str
)
def test_catalogue_examples(catalogue: Result, code: str) -> None:
    bad = {c for _, c in catalogue.cap(f"{code.lower()}_bad.py")}
    assert code in bad, catalogue.messages(f"{code.lower()}_bad.py")
    assert catalogue.cap(f"{code.lower()}_good.py") == set()
