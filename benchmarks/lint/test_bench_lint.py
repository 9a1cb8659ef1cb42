"""``capsys lint`` throughput on a generated capsys-heavy corpus (300 agent modules).

Targets (issue 6): a cold run <= 2x the time libcst takes just to parse the same corpus;
a warm run (every result cached) <= 0.1x the cold run. Times are process CPU times
(robust on a shared, noisy machine), measured in this process with one worker, so the
parse and the lint do exactly the same amount of work per file; pytest-benchmark also
records the wall-clock times, including the default parallel run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import libcst as cst
import pytest

from benchmarks.conftest import RATIOS
from benchmarks.lint.corpus import write_corpus
from capsys.config import Config
from capsys.lint.runner import lint_paths

MODULES = 300
ROUNDS = 3
TARGETS = {"cold": 2.0, "warm": 0.1}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("lint_corpus")
    (root / "pyproject.toml").write_text("[tool.capsys]\n")
    paths = write_corpus(root, MODULES)
    lines = sum(len(p.read_text().splitlines()) for p in paths)
    RATIOS.append(("lint corpus", f"{lines} lines ({MODULES} capsys modules)"))
    return root, paths


def _cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def _parse(paths: list[Path]) -> None:
    for path in paths:
        cst.parse_module(path.read_bytes())


def _lint(root: Path, paths: list[Path], cache: bool, jobs: int = 1) -> None:
    result = lint_paths(
        paths, Config(root=root), use_cache=cache, cache_dir=root / "cache", jobs=jobs
    )
    assert result.errors == [] and result.diagnostics == []


def test_lint_cold_and_warm_against_parse(
    corpus: tuple[Path, list[Path]], benchmark: pytest.FixtureRequest
) -> None:
    root, paths = corpus
    parse = statistics.median(_cpu(lambda: _parse(paths)) for _ in range(ROUNDS))
    cold = statistics.median(_cpu(lambda: _lint(root, paths, cache=False)) for _ in range(ROUNDS))
    _lint(root, paths, cache=True)  # fill the cache
    warm = statistics.median(_cpu(lambda: _lint(root, paths, cache=True)) for _ in range(ROUNDS))
    RATIOS.append(
        (
            "lint cold / parse",
            f"{cold / parse:.2f}x (target <= {TARGETS['cold']}x; {cold:.2f}s vs {parse:.2f}s CPU)",
        )
    )
    RATIOS.append(
        (
            "lint warm / cold",
            f"{warm / cold:.3f}x (target <= {TARGETS['warm']}x; {warm:.3f}s vs {cold:.2f}s CPU)",
        )
    )
    benchmark.pedantic(_lint, args=(root, paths, True), rounds=ROUNDS, iterations=1)  # type: ignore[attr-defined]


def test_lint_parse_wall_clock(
    corpus: tuple[Path, list[Path]], benchmark: pytest.FixtureRequest
) -> None:
    _, paths = corpus
    benchmark.pedantic(_parse, args=(paths,), rounds=ROUNDS, iterations=1)  # type: ignore[attr-defined]


def test_lint_cold_parallel_wall_clock(
    corpus: tuple[Path, list[Path]], benchmark: pytest.FixtureRequest
) -> None:
    root, paths = corpus
    benchmark.pedantic(_lint, args=(root, paths, False, 2), rounds=ROUNDS, iterations=1)  # type: ignore[attr-defined]
