"""Helpers for the linter's tests: lint a snippet written to a temporary project."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

from capsys.config import Config
from capsys.lint.engine import lint_source
from capsys.lint.index import ProjectIndex
from capsys.lint.model import Diagnostic

# Windows needs privileges to create symlinks; the CI runs on Linux, where these run.
needs_symlinks = pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges")

HEADER = "from capsys import Agent, Iso, Ref, Tag, Val, behaviour, consume, iso, message, val\n"


def lint_code(
    code: str,
    tmp_path: Path,
    *,
    select: set[str] | None = None,
    files: dict[str, str] | None = None,
    name: str = "mod.py",
    config: Config | None = None,
) -> list[Diagnostic]:
    """Lint ``code`` (dedented) as ``tmp_path/name``; ``files`` are other project files."""
    for rel, text in (files or {}).items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = textwrap.dedent(code).encode("utf-8")
    path.write_bytes(data)
    cfg = config if config is not None else Config(root=tmp_path)
    if select is not None:
        cfg = cfg.with_overrides(frozenset(select))
    result = lint_source(path, data, cfg, ProjectIndex([tmp_path]), name)
    assert result.error is None, result.error
    return result.diagnostics


def found(code: str, tmp_path: Path, rule: str, **kwargs: object) -> list[tuple[int, int]]:
    """(line, column) of every ``rule`` finding in ``code``."""
    diagnostics = lint_code(code, tmp_path, select={rule}, **kwargs)  # type: ignore[arg-type]
    return [(d.line, d.column) for d in diagnostics if d.code == rule]


def where(code: str, needle: str, nth: int = 0, *, header: bool = True) -> tuple[int, int]:
    """(line, 1-based column) of the ``nth`` occurrence of ``needle`` in the linted text
    (``HEADER`` + dedented ``code`` when ``header``)."""
    text = (HEADER if header else "") + textwrap.dedent(code)
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return line, column


# The violations programs and the valid examples, shared by the per-rule test modules.
ROOT = Path(__file__).resolve().parents[3]
VIOLATIONS = sorted((ROOT / "examples" / "violations").glob("cap*.py"))
VALID = sorted((ROOT / "examples").glob("*.py"))
MARKER = re.compile(r"#\s*expect:\s*(CAP\d{3}(?:\s*,\s*CAP\d{3})*)")

SPEC_EXAMPLE = """
from capsys import Agent, behaviour, message, Iso, Val, Ref, Tag, iso, val, consume
from runtime import Runtime

@message
class Order:
    symbol: str
    qty: int

class Book(Agent):
    def __init__(self, owner: Tag["Desk"]) -> None:
        self.owner = owner
        self.orders: list[Order] = []

    @behaviour
    def add(self, order: Order) -> None:
        self.orders.append(order)

    @behaviour
    async def bulk(self, batch: Iso[list[Order]]) -> int:
        items = batch.take()
        self.orders.extend(items)
        return len(self.orders)

async def main() -> None:
    async with Runtime() as rt:
        desk = rt.spawn(Desk)
        book = rt.spawn(Book, desk)
        book.send(Book.add, Order("AAPL", 10))
        n = await book.ask(Book.bulk, iso([Order("MSFT", 5)]))
"""


def expected_lines(path: Path, code: str) -> set[int]:
    lines = set()
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = MARKER.search(text)
        if match and code in {c.strip() for c in match.group(1).split(",")}:
            lines.add(number)
    return lines


def reported_lines(path: Path, code: str, tmp_path: Path) -> set[int]:
    text = path.read_text(encoding="utf-8")
    diagnostics = lint_code(text, tmp_path, select={code}, name=path.name)
    return {d.line for d in diagnostics if d.code == code}


def check_violations(code: str, path: Path, tmp_path: Path) -> None:
    assert reported_lines(path, code, tmp_path) == expected_lines(path, code)


def check_valid(code: str, path: Path, tmp_path: Path) -> None:
    assert reported_lines(path, code, tmp_path) == set()
