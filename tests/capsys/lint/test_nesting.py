"""Deeply nested files (``capsys.lint.nesting``): checked up to MAX_DEPTH levels on every
Python version, reported as not checked (CAP000) past it, and never a crash."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from capsys.config import Config
from capsys.lint.engine import fix_source, lint_source
from capsys.lint.index import ProjectIndex
from capsys.lint.nesting import MAX_DEPTH, deepest, on_deep_stack

HEAD = (
    "from capsys import Agent, Iso, behaviour, consume\n"
    "class A(Agent):\n"
    "    @behaviour\n"
    "    def go(self, x: Iso[list[int]], a: int, b: int) -> None:\n"
)
# Module, ClassDef, FunctionDef, Assign: the levels above the expression on line 5.
ABOVE = 4

# Expressions whose syntax tree is about n levels deep, without brackets (CPython's
# tokenizer refuses 200 nested brackets by itself).
CHAINS = {
    "plus": lambda n: " + ".join(["a"] * n),
    "attribute": lambda n: "a" + ".b" * n,
    "call": lambda n: "a" + "()" * n,
    "subscript": lambda n: "a" + "[0]" * n,
    "not": lambda n: "not " * n + "a",
    "minus": lambda n: "-" * n + "a",
    "conditional": lambda n: "a if b else " * n + "a",
    "lambda": lambda n: "lambda: " * n + "a",
}


def _lint(tmp_path: Path, source: str) -> list[tuple[str, int, int, str]]:
    path = tmp_path / "deep.py"
    data = source.encode()
    result = lint_source(path, data, Config(root=tmp_path), ProjectIndex([tmp_path]), "deep.py")
    assert result.error is None
    return [(d.code, d.line, d.column, d.message) for d in result.diagnostics]


@pytest.mark.parametrize("kind", sorted(CHAINS))
def test_code_just_under_the_limit_is_checked(kind: str, tmp_path: Path) -> None:
    # 400 levels exhausted the recursion limit (a crash of the whole file's check), and on
    # 3.12.1 800 levels passed its fixed limit of C recursion.
    expression = CHAINS[kind](MAX_DEPTH - ABOVE - 4)
    source = HEAD + f"        z = {expression}\n        y = x\n"
    assert [f[:3] for f in _lint(tmp_path, source)] == [("CAP006", 6, 13)]


@pytest.mark.parametrize("kind", sorted(CHAINS))
def test_code_over_the_limit_is_cap000_where_it_is_too_deep(kind: str, tmp_path: Path) -> None:
    source = HEAD + f"        z = {CHAINS[kind](MAX_DEPTH + 10)}\n        y = x\n"
    ((code, line, _, message),) = _lint(tmp_path, source)
    assert (code, line) == ("CAP000", 5)
    assert message == f"cannot check this file: nested more than {MAX_DEPTH} levels deep"


def test_a_chain_that_overflowed_libcst_is_cap000(tmp_path: Path) -> None:
    # 8,000 ``+``: a segfault in libcst's parser on 3.13 (which parses it itself), a
    # RecursionError in CPython's parser on 3.11 and 3.12.
    source = "import capsys\nx = " + " + ".join(["a"] * 8000) + "\n"
    ((code, line, _, message),) = _lint(tmp_path, source)
    assert code == "CAP000" and line in (1, 2)
    assert message == f"cannot check this file: nested more than {MAX_DEPTH} levels deep"


def test_a_deep_file_that_does_not_import_capsys_is_skipped(tmp_path: Path) -> None:
    assert _lint(tmp_path, "x = " + " + ".join(["a"] * 8000) + "\n") == []


def test_fix_leaves_a_file_too_deep_to_check_as_it_is(tmp_path: Path) -> None:
    source = HEAD + f"        z = {CHAINS['plus'](MAX_DEPTH)}\n        y = x\n"
    data = source.encode()
    assert fix_source(tmp_path / "deep.py", data, Config(root=tmp_path), ProjectIndex([])) == data
    # Under the limit the fix applies (CAP006's fix is consume()).
    shallow = (HEAD + "        z = a + b\n        y = x\n").encode()
    fixed = fix_source(tmp_path / "ok.py", shallow, Config(root=tmp_path), ProjectIndex([]))
    assert b"y = consume(x)" in fixed


def test_deepest_finds_a_node_past_the_limit_and_none_within() -> None:
    tree = ast.parse("x = " + " + ".join(["a"] * 50))
    assert deepest(tree, limit=60) is None
    node = deepest(tree, limit=40)
    assert isinstance(node, ast.AST) and getattr(node, "lineno", None) == 1


def test_the_deep_stack_returns_raises_and_puts_the_recursion_limit_back() -> None:
    before = sys.getrecursionlimit()

    def frames(n: int) -> int:
        return 0 if n == 0 else 1 + frames(n - 1)

    assert on_deep_stack(lambda: frames(8 * MAX_DEPTH)) == 8 * MAX_DEPTH
    with pytest.raises(KeyError, match="inside"):
        on_deep_stack(lambda: {}["inside"])
    assert sys.getrecursionlimit() == before
