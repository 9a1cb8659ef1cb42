"""Which files ``capsys lint`` checks: symlink loops and cycles, non-regular files,
``include`` as a filter (``capsys.lint.files``)."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

import pytest

from capsys.lint.files import config_includes, discover, read_source
from tests.capsys.lint.helpers import needs_symlinks


def _files(root: Path, *paths: str, **kwargs: object) -> list[str]:
    found = discover([root / p for p in paths], **kwargs)  # type: ignore[arg-type]
    return [p.relative_to(root).as_posix() for p in found]


@needs_symlinks
def test_a_symlink_loop_is_yielded_for_the_engine_to_report(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "ok.py").write_text("x = 1\n")
    (tmp_path / "d" / "l1.py").symlink_to("l2.py")
    (tmp_path / "d" / "l2.py").symlink_to("l1.py")
    (tmp_path / "d" / "gone.py").symlink_to("nowhere.py")
    assert _files(tmp_path, "d") == ["d/gone.py", "d/l1.py", "d/l2.py", "d/ok.py"]
    assert _files(tmp_path, "d/l1.py", "d/ok.py") == ["d/l1.py", "d/ok.py"]
    with pytest.raises(OSError):
        read_source(tmp_path / "d" / "l1.py")


@needs_symlinks
def test_a_folder_cycle_is_walked_once(tmp_path: Path) -> None:
    (tmp_path / "x" / "a").mkdir(parents=True)
    (tmp_path / "x" / "a" / "m.py").write_text("x = 1\n")
    (tmp_path / "x" / "a" / "up").symlink_to("..")
    (tmp_path / "x" / "alias").symlink_to("a")
    assert _files(tmp_path, "x") == ["x/a/m.py"]


def test_a_deep_tree_does_not_exhaust_the_recursion_limit(tmp_path: Path) -> None:
    depth = 300
    folder = tmp_path
    for _ in range(depth):
        folder = folder / "d"
        folder.mkdir()
    (folder / "deep.py").write_text("x = 1\n")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + depth // 2)  # fewer frames than folders
    try:
        (found,) = discover([tmp_path])
    finally:
        sys.setrecursionlimit(limit)
    assert found.name == "deep.py" and len(found.parts) - len(tmp_path.parts) == depth + 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "f.py"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        read_source(fifo)  # would block forever if it were opened for reading
    assert read_source(Path(__file__)).startswith(b'"""')


def test_include_filters_the_walk_and_is_anchored_at_the_root(tmp_path: Path) -> None:
    for rel in ("src/pkg/a.py", "lib/src/b.py", "top.py", "tools/gen.py", "tools/x.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    includes = config_includes(["./src", "tools/g*.py"], tmp_path)
    assert _files(tmp_path, ".", includes=includes) == ["src/pkg/a.py", "tools/gen.py"]
    assert _files(tmp_path, "src/pkg", includes=includes) == ["src/pkg/a.py"]
    # a file named explicitly is checked anyway, unless --force-exclude
    assert _files(tmp_path, "top.py", includes=includes) == ["top.py"]
    assert _files(tmp_path, "top.py", includes=includes, force_exclude=True) == []
    assert _files(tmp_path, ".") == [
        "top.py",
        "lib/src/b.py",
        "src/pkg/a.py",
        *["tools/gen.py", "tools/x.py"],
    ]
