"""The whole standard library of every pyenv Python: no crash and no finding.

The only findings allowed are CAP000 on the files the library ships broken on purpose
(lib2to3's Python 2 test data, ``badsyntax_*`` modules...), and each of those must be
rejected by that Python's own compiler too: the linter calls nothing else unparsable.
Two exceptions, where this interpreter must reject the file as well: syntax removed
before 3.10, the oldest Python capsys supports (3.6's ``asyncio.async``, where ``async``
was still a name), and, when the linter runs on an older Python than the file's, syntax
newer than both this interpreter's parser and libcst's (3.11's ``test_grammar.py`` seen
from 3.10).
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from capsys.config import Config
from capsys.lint.runner import lint_paths

pytestmark = pytest.mark.slow

_CHECK = """
import sys, warnings
warnings.simplefilter("ignore")
accepted = []
for name in sys.argv[1:]:
    try:
        with open(name, "rb") as fh:
            compile(fh.read(), name, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        continue
    accepted.append(name)
print("\\n".join(accepted))
"""


def _pyenv_root() -> Path | None:
    if shutil.which("pyenv") is None:
        return None
    return Path(subprocess.check_output(["pyenv", "root"], text=True).strip())


def test_stdlib_has_no_crash_and_no_finding() -> None:
    root = _pyenv_root()
    if root is None:
        pytest.skip("pyenv is not installed")
    files = [
        Path(p)
        for p in sorted(glob.glob(f"{root}/versions/*/lib/python3.*/**/*.py", recursive=True))
        if "site-packages" not in p
    ]
    if not files:
        pytest.skip("no pyenv Python 3 found")
    result = lint_paths(files, Config(), use_cache=False, jobs=2)
    assert result.errors == []
    assert [d.text() for d in result.diagnostics if d.code != "CAP000"] == []
    broken: dict[Path, list[str]] = defaultdict(list)
    for d in result.diagnostics:
        version = Path(d.path).relative_to(root / "versions").parts[0]
        broken[root / "versions" / version / "bin" / "python"].append(d.path)
    for python, paths in broken.items():
        accepted = _accepted(python, paths)
        version = _version(python)
        if accepted and (version < (3, 10) or version > sys.version_info[:2]):
            accepted = _accepted(Path(sys.executable), accepted)
        assert accepted == [], f"{python} compiles files reported as CAP000: {accepted}"


def _accepted(python: Path, paths: list[str]) -> list[str]:
    return subprocess.run(
        [str(python), "-c", _CHECK, *paths], capture_output=True, text=True, check=True
    ).stdout.split()


def _version(python: Path) -> tuple[int, ...]:
    out = subprocess.run(
        [str(python), "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return tuple(int(part) for part in out)
