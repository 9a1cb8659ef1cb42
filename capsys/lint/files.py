"""Which files ``capsys lint`` checks: recursion, ``[tool.capsys]`` excludes, ``.gitignore``.

Patterns follow gitignore semantics (implemented here so the linter needs no extra
dependency): a pattern without a slash matches a file or folder name at any depth; one
with a slash matches the path relative to the folder that declares it; ``**`` spans
folders; a trailing ``/`` matches folders only; ``!`` re-includes (gitignore files only).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_EXCLUDES",
    "Pattern",
    "PatternSet",
    "config_excludes",
    "config_includes",
    "discover",
    "kept",
    "read_source",
    "real_path",
    "translate",
]

# Folders nobody wants linted (ruff's defaults, plus the linter's own cache).
DEFAULT_EXCLUDES = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".hg",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    ".capsys_cache",
    "__pypackages__",
    "__pycache__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)


def translate(pattern: str) -> str:
    """A gitignore glob (without ``!``, leading or trailing ``/``) as a regex body."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    out.append("(?:.*/)?")  # `**/`: zero or more folders
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find(
                "]", i + 2 if pattern.startswith("[!", i) or pattern.startswith("[]", i) else i + 1
            )
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Pattern:
    """One gitignore-style pattern, relative to ``base`` (a folder)."""

    base: Path
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool

    @classmethod
    def parse(cls, line: str, base: Path, allow_negation: bool = True) -> Pattern | None:
        line = line.rstrip("\n").rstrip("\r")
        if not line.strip() or line.startswith("#"):
            return None
        if not line.endswith("\\ "):
            line = line.rstrip(" ")
        negated = False
        if allow_negation and line.startswith("!"):
            negated, line = True, line[1:]
        elif line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if line.startswith("./"):
            line = line[2:]
        if not line:
            return None
        anchored = "/" in line
        body = translate(line.lstrip("/"))
        regex = f"^{body}$" if anchored else f"^(?:.*/)?{body}$"
        return cls(base, re.compile(regex), negated, dir_only)

    def matches(self, path: Path, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        try:
            rel = path.relative_to(self.base).as_posix()
        except ValueError:
            return False
        return bool(self.regex.match(rel))


class PatternSet:
    """Ordered patterns; the last one that matches decides (gitignore semantics)."""

    def __init__(self, patterns: Iterable[Pattern] = ()) -> None:
        self.patterns = list(patterns)

    def extend(self, patterns: Iterable[Pattern]) -> PatternSet:
        return PatternSet([*self.patterns, *patterns])

    def ignored(self, path: Path, is_dir: bool) -> bool:
        verdict = False
        for pattern in self.patterns:
            if pattern.matches(path, is_dir):
                verdict = not pattern.negated
        return verdict


def _gitignore(folder: Path) -> list[Pattern]:
    try:
        text = (folder / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [p for line in text.splitlines() if (p := Pattern.parse(line, folder)) is not None]


def _git_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _inherited_gitignores(folder: Path) -> list[Pattern]:
    """The .gitignore patterns of the folders from the git root down to ``folder``."""
    root = _git_root(folder)
    if root is None:
        return _gitignore(folder)
    chain = [folder, *folder.parents]
    chain = chain[: chain.index(root) + 1] if root in chain else [folder]
    patterns: list[Pattern] = []
    for f in reversed(chain):
        patterns.extend(_gitignore(f))
    return patterns


def config_excludes(excludes: Sequence[str], root: Path) -> list[Pattern]:
    """``[tool.capsys] exclude`` entries, relative to the folder of pyproject.toml."""
    patterns = [Pattern.parse(e, root, allow_negation=False) for e in excludes]
    return [p for p in patterns if p is not None]


def config_includes(includes: Sequence[str], root: Path) -> list[Pattern]:
    """``[tool.capsys] include`` entries: globs anchored at the folder of pyproject.toml
    (``src`` is ``<root>/src``, not any folder named src), as ``Path.glob`` reads them."""
    patterns = []
    for entry in includes:
        entry = entry.strip()
        while entry.startswith("./"):
            entry = entry[2:]
        patterns.append(Pattern.parse("/" + entry.lstrip("/"), root, allow_negation=False))
    return [p for p in patterns if p is not None]


def real_path(path: Path) -> Path:
    """The absolute path with symlinks resolved as far as they go; unlike ``Path.resolve``
    (Python < 3.13) it does not raise on a symlink loop, which is then reported as
    unreadable instead of crashing the run."""
    return Path(os.path.realpath(path))


def read_source(path: Path) -> bytes:
    """The bytes of a regular file. Anything else is refused without opening it: reading
    a FIFO blocks forever, a device may never end."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return path.read_bytes()


def _included(path: Path, includes: Sequence[Pattern]) -> bool:
    """Whether the file, or a folder above it, matches an ``include`` pattern."""
    if not includes:
        return True
    rules = PatternSet(includes)
    if rules.ignored(path, False):
        return True
    return any(rules.ignored(folder, True) for folder in path.parents)


def kept(
    path: Path,
    excludes: Sequence[Pattern],
    includes: Sequence[Pattern] = (),
    use_gitignore: bool = True,
) -> bool:
    """Whether the file ``path`` (real) is neither excluded (nor any folder above it) nor
    left out by ``includes``."""
    rules = PatternSet(
        [*excludes, *_inherited_gitignores(path.parent)] if use_gitignore else excludes
    )
    if any(rules.ignored(p, p.is_dir()) for p in (path, *path.parents)):
        return False
    return _included(path, includes)


def discover(
    paths: Sequence[Path],
    excludes: Sequence[Pattern] = (),
    *,
    includes: Sequence[Pattern] = (),
    use_gitignore: bool = True,
    force_exclude: bool = False,
    unreadable: list[tuple[Path, OSError]] | None = None,
) -> Iterator[Path]:
    """The ``.py`` files under ``paths``, sorted per folder, without duplicates.

    Walking a folder keeps only the files that ``includes`` (if any) match and drops the
    excluded ones. A file named explicitly is checked regardless, unless ``force_exclude``
    (for pre-commit, which passes every staged file by name). A ``.py`` entry that is not
    a readable regular file (a dangling or looping symlink, a FIFO) is yielded too: the
    engine reports it as CAP000. A folder that cannot be listed goes to ``unreadable``
    with its error (the caller reports it: its files were not checked). Each folder is
    walked once, so symlink cycles end.
    """
    seen: set[Path] = set()
    visited: set[tuple[int, int]] = set()
    defaults = [p for name in DEFAULT_EXCLUDES if (p := Pattern.parse(name, Path("/"))) is not None]
    for given in paths:
        path = real_path(given)
        if path.is_dir():
            base = PatternSet([*defaults, *excludes])
            if use_gitignore:
                base = base.extend(_inherited_gitignores(path))
            walk = _walk(given, path, base, includes, use_gitignore, seen, visited, unreadable)
            yield from walk
            continue
        if force_exclude and not kept(path, excludes, includes, use_gitignore):
            continue
        if path not in seen:
            seen.add(path)
            yield given  # if it cannot be read, the engine reports it


def _walk(
    shown: Path,
    top: Path,
    rules: PatternSet,
    includes: Sequence[Pattern],
    use_gitignore: bool,
    seen: set[Path],
    visited: set[tuple[int, int]],
    unreadable: list[tuple[Path, OSError]] | None,
) -> Iterator[Path]:
    """Depth first, a folder's files before its subfolders; iterative, so that no depth of
    folders exhausts the recursion limit. ``visited`` holds the identity of every folder
    walked: one reached again through a symlink (a cycle, an alias) is not walked twice."""
    stack = [(shown, top, rules)]
    while stack:
        shown, folder, rules = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in visited:
                continue
            visited.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            if unreadable is not None:
                unreadable.append((shown, exc))
            continue
        subfolders: list[tuple[Path, Path, PatternSet]] = []
        for entry in entries:
            real = folder / entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:  # a symlink loop: reported when it is a .py file
                is_dir = False
            if rules.ignored(real, is_dir):
                continue
            if is_dir:
                sub_rules = rules.extend(_gitignore(real)) if use_gitignore else rules
                subfolders.append((shown / entry.name, real, sub_rules))
            elif entry.name.endswith(".py") and _included(real, includes) and real not in seen:
                seen.add(real)
                yield shown / entry.name
        stack.extend(reversed(subfolders))
