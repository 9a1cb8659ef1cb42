"""The linter's framework: import resolution, the project index, the registry."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from capsys.config import Config
from capsys.lint.context import FileContext
from capsys.lint.index import ClassKind, ProjectIndex
from capsys.lint.rules import all_rules, implemented_codes


def _ctx(tmp_path: Path, code: str, files: dict[str, str] | None = None) -> FileContext:
    for rel, text in (files or {}).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "mod.py").write_text(code)
    index = ProjectIndex([tmp_path])
    return FileContext(tmp_path / "mod.py", cst.parse_module(code), Config(), index, "mod")


def _expr(text: str) -> cst.BaseExpression:
    return cst.parse_expression(text)


@pytest.mark.parametrize(
    ("imports", "expr", "name"),
    [
        ("import capsys as c", "c.iso", "iso"),
        ("import capsys", "capsys.consume", "consume"),
        ("from capsys import iso as i", "i", "iso"),
        ("from capsys.capabilities import iso", "iso", "iso"),
        ("from capsys import Iso as I", "I", "Iso"),
        ("from capsys.tag import Tag", "Tag", "Tag"),
        ("from runtime import Runtime", "Runtime", "Runtime"),
        ("from capsys import *", "val", "val"),
        ("import capsys.capabilities as caps", "caps.Val", "Val"),
    ],
)
def test_capsys_name_resolves_import_forms(
    tmp_path: Path, imports: str, expr: str, name: str
) -> None:
    ctx = _ctx(tmp_path, f"{imports}\n")
    assert ctx.names.capsys_name(_expr(expr)) == name


@pytest.mark.parametrize(
    ("code", "expr"),
    [
        ("import capsys\n", "iso"),  # not imported by that name
        ("from capsys import iso\niso = 3\n", "iso"),  # rebound at module level
        ("import numpy as np\n", "np.iso"),
        ("from capsys import iso\n", "x.iso"),
    ],
)
def test_capsys_name_is_none_when_not_capsys(tmp_path: Path, code: str, expr: str) -> None:
    assert _ctx(tmp_path, code).names.capsys_name(_expr(expr)) is None


def test_function_level_import_is_resolved(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "def f():\n    from capsys import consume as take\n    take(x)\n")
    assert ctx.names.capsys_name(_expr("take")) == "consume"


def test_builtins_resolve_unless_shadowed(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "import capsys\n")
    assert ctx.names.qualified(_expr("open")) == "builtins.open"
    shadowed = _ctx(tmp_path, "import capsys\ndef f(open):\n    pass\n")
    assert shadowed.names.qualified(_expr("open")) is None


def test_index_finds_agents_and_messages_across_files_and_inheritance(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "from .base import Base as Exported\n",
        "pkg/base.py": "import capsys\n\nclass Base(capsys.Agent):\n    pass\n",
        "pkg/msgs.py": (
            "from capsys import message\nfrom dataclasses import dataclass\n"
            "@message\nclass Order:\n    qty: int\n"
            "@dataclass(frozen=True)\nclass Point:\n    x: int\n"
            "@dataclass\nclass Box:\n    x: int\n"
        ),
    }
    code = (
        "from pkg import Exported\nfrom pkg.msgs import Order, Point, Box\nimport enum\n"
        "class Child(Exported):\n    pass\n"
        "class Color(enum.Enum):\n    RED = 1\n"
        "class Plain:\n    pass\n"
    )
    ctx = _ctx(tmp_path, code, files)
    assert ctx.class_kind(_expr("Exported")) is ClassKind.AGENT
    assert ctx.class_kind(_expr("Child")) is ClassKind.AGENT
    assert ctx.class_kind(_expr("Order")) is ClassKind.MESSAGE
    assert ctx.class_kind(_expr("Point")) is ClassKind.FROZEN_RECORD
    assert ctx.class_kind(_expr("Box")) is ClassKind.MUTABLE_RECORD
    assert ctx.class_kind(_expr("Color")) is ClassKind.ENUM
    assert ctx.class_kind(_expr("Plain")) is ClassKind.PLAIN
    assert ctx.class_kind(_expr("Unknown")) is ClassKind.UNKNOWN
    assert [a.name for a in ctx.agent_classes] == ["Child"]


def test_agent_classes_list_behaviours_and_init(tmp_path: Path) -> None:
    code = (
        "from capsys import Agent, behaviour as bh\n"
        "class A(Agent):\n"
        "    def __init__(self, n: int) -> None:\n        self.n = n\n"
        "    @bh\n    def f(self) -> None: ...\n"
        "    @bh\n    async def g(self) -> None: ...\n"
        "    def helper(self) -> None: ...\n"
    )
    (agent,) = _ctx(tmp_path, code).agent_classes
    assert [(b.name, b.is_async) for b in agent.behaviours] == [("f", False), ("g", True)]
    assert agent.init is not None and agent.init.name.value == "__init__"
    assert len(agent.methods) == 4


def test_mutable_globals(tmp_path: Path) -> None:
    code = (
        "import capsys, collections\nA = []\nB: dict[str, int] = {}\nC = (1, 2)\n"
        "D = collections.deque()\nE = set()\n"
        "def f():\n    global G\n    G = 1\n"
    )
    assert _ctx(tmp_path, code).mutable_globals == {"A", "B", "D", "E", "G"}


def test_registry_discovers_rule_modules() -> None:
    rules = all_rules()
    assert all(r.code.startswith("CAP") and r.doc for r in rules)
    assert "CAP008" in implemented_codes()
    assert "CAP000" in implemented_codes()
