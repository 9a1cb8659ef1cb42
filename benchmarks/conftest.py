"""Benchmarks run only with ``--benchmarks`` (pytest-benchmark); never in the test run.

Each workload also runs on an in-run baseline, so results are reported as ratios (see
the summary printed at the end), which stay meaningful on a noisy, shared machine.
"""

from __future__ import annotations

import pytest

RATIOS: list[tuple[str, str]] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--benchmarks", action="store_true", default=False, help="run the benchmarks")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--benchmarks"):
        return
    skip = pytest.mark.skip(reason="benchmarks run only with --benchmarks")
    for item in items:
        if "benchmarks" in item.nodeid.split("/")[0:1] or "/benchmarks/" in str(item.path):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RATIOS:
        terminalreporter.section("capsys benchmark summary (against the in-run baseline)")
        for name, line in RATIOS:
            terminalreporter.write_line(f"{name:<28} {line}")
