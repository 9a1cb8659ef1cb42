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
