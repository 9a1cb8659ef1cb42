"""The ``capsys`` package: its public names load on first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import capsys

REPO = Path(__file__).resolve().parents[2]


def test_the_dsl_loads_on_first_use_and_rejects_unknown_names() -> None:
    probe = (
        "import capsys\n"
        "from capsys import *\n"
        "print(Agent.__module__, Iso.__module__, capsys.__version__)\n"
        "try:\n"
        "    capsys.Agnet\n"
        "except AttributeError as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert done.stdout.splitlines() == [
        f"capsys.agent capsys.capabilities {capsys.__version__}",
        "module 'capsys' has no attribute 'Agnet'",
    ], done.stderr


def test_mypy_outside_the_checkout_finds_the_installed_packages(tmp_path: Path) -> None:
    """mypy resolves imports through paths only, never import hooks: an editable install
    must put a plain path in its .pth file, or every user outside the checkout would get
    import-not-found for capsys and runtime (see [tool.setuptools] in pyproject.toml)."""
    (tmp_path / "prog.py").write_text(
        "from capsys import Agent, behaviour\n"
        "from runtime import Runtime\n"
        "class A(Agent):\n"
        "    @behaviour\n"
        "    def b(self, x: int) -> None: ...\n"
        "async def main() -> None:\n"
        "    async with Runtime() as rt:\n"
        "        rt.spawn(A).send(A.b, 'one')\n"
    )
    (tmp_path / "mypy.ini").write_text("[mypy]\nplugins = mypy_plugin\n")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "prog.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    # the one error is the wrong argument type: the imports resolved and were checked
    assert "import-not-found" not in done.stdout, done.stdout
    assert done.stdout.splitlines()[:-1] == [
        'prog.py:8: error: Argument 2 to "send" of "Tag" has incompatible type "str"; '
        'expected "int"  [arg-type]'
    ], done.stdout
