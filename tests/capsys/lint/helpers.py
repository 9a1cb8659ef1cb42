"""Helpers for the linter's tests: lint a snippet written to a temporary project."""

from __future__ import annotations

import textwrap
from pathlib import Path

from capsys.config import Config
from capsys.lint.engine import lint_source
from capsys.lint.index import ProjectIndex
from capsys.lint.model import Diagnostic

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
