"""Each rule and variant on real snippets, all checked by one real mypy run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mypy_plugin.cases import CASES, HEADER
from tests.mypy_plugin.harness import Result, expected_markers, run_mypy, write_files


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory, mypy_cache: Path) -> Result:
    folder = tmp_path_factory.mktemp("rules")
    files = {f"case_{name}.py": HEADER + text for name, text in CASES.items()}
    return run_mypy(folder, write_files(folder, files), cache_dir=mypy_cache)


def test_no_internal_error(result: Result) -> None:
    assert not result.internal_error, result.stdout + result.stderr


def test_type_ignore_with_a_capsys_code_is_used(result: Result) -> None:
    # The "suppressed" case's markers show the findings are gone; --strict would also
    # warn about an ignore that suppressed nothing.
    unused = [
        f for f in result.findings if f.code == "unused-ignore" and f.path.startswith("case_")
    ]
    assert unused == [], result.stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_findings_match_markers(result: Result, name: str) -> None:
    path = f"case_{name}.py"
    expected = expected_markers(HEADER + CASES[name])
    assert result.cap(path) == expected, result.messages(path)
