"""The engine's cheap "does this file import capsys?" pre-check (``capsys.lint.engine``):
a file it wrongly skips is never checked at all."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from capsys.config import Config
from capsys.lint.engine import imports_capsys, lint_source
from capsys.lint.index import ProjectIndex

BODY = b"""\


class A(%sAgent):
    @%sbehaviour
    def b(self, x: list[int]) -> None:
        pass
"""


@pytest.mark.parametrize(
    "head",
    [
        b"from capsys import Agent, behaviour\n",
        codecs.BOM_UTF8 + b"from capsys import Agent, behaviour\n",
        codecs.BOM_UTF8 + b"import capsys\nfrom capsys import Agent, behaviour\n",
        b"import os; from capsys import Agent, behaviour\n",
        b"if True: from capsys import Agent, behaviour\n",
        b"from \\\n    capsys import Agent, behaviour\n",
        b"import os, \\\n    capsys\n",
        b"\x0cfrom capsys import Agent, behaviour\n",  # a form feed is indentation
    ],
)
def test_every_way_of_importing_capsys_is_checked(head: bytes, tmp_path: Path) -> None:
    prefix = b"" if b" import Agent" in head else b"capsys."
    data = head + BODY % (prefix, prefix)
    assert imports_capsys(data)
    path = tmp_path / "mod.py"
    path.write_bytes(data)
    result = lint_source(path, data, Config(root=tmp_path), ProjectIndex([tmp_path]), "mod.py")
    line = head.count(b"\n") + 5  # the `def` line
    assert [(d.code, d.line, d.column) for d in result.diagnostics] == [("CAP002", line, 17)]


@pytest.mark.parametrize(
    "data",
    [
        b"import capsysx\n",
        b"from capsys_extra import Agent\n",
        b"x = 'capsys'\n",
        codecs.BOM_UTF8 + b"import os\n",
        b"from .capsys import Agent\n",
    ],
)
def test_other_files_are_skipped(data: bytes) -> None:
    assert not imports_capsys(data)
