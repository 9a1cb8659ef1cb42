"""What a rule returns and what the engine reports.

A rule yields ``Finding``s that point at nodes of the file's ``cst.Module``; the engine
turns only those nodes into line/column positions (computing positions for every node
of every file is what makes libcst-based linters slow) and produces ``Diagnostic``s,
which are plain, picklable, cacheable records.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

__all__ = ["Diagnostic", "Finding", "Fix", "Replacement"]


@dataclass(frozen=True)
class Replacement:
    """Replace ``old`` (a node of the module) by ``new`` (any node of the same role)."""

    old: cst.CSTNode
    new: cst.CSTNode


@dataclass(frozen=True)
class Fix:
    """An autofix: one or more node replacements applied together by a libcst transformer.

    ``unsafe`` fixes may change behaviour; ``--fix`` never applies them and ``--diff``
    only shows them, so a user reviews them first.
    """

    replacements: tuple[Replacement, ...]
    description: str
    unsafe: bool = False

    @classmethod
    def replace(
        cls, old: cst.CSTNode, new: cst.CSTNode, description: str, *, unsafe: bool = False
    ) -> Fix:
        return cls((Replacement(old, new),), description, unsafe)


@dataclass(frozen=True, eq=False)
class Finding:
    """One problem found by a rule, at ``node`` (a node of the checked module's tree).

    ``message`` always comes from ``capsys.diagnostics.format_message``.
    """

    code: str
    node: cst.CSTNode
    message: str
    fix: Fix | None = None


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A located finding, as reported. Ordered by path, line, column, code, message."""

    path: str
    line: int  # 1-based
    column: int  # 1-based, like ruff
    code: str
    message: str
    severity: str = "error"
    end_line: int = 0
    end_column: int = 0
    fixable: bool = False

    def text(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.code} {self.message}"
