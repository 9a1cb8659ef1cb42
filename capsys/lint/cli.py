"""``capsys lint [PATH ...]``: the command-line front end of the linter (SPEC §5).

Exit status: 0 no findings, 1 findings, 2 usage error or internal failure. The summary
line goes to stderr so that stdout holds only the chosen format.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from capsys.config import Config, ConfigError, load_config
from capsys.diagnostics import CODES

# The linter itself (libcst and the rules) is imported only when ``lint`` runs, so that
# ``capsys rules`` / ``capsys explain`` start fast.

__all__ = ["FORMATS", "add_arguments", "run"]

FORMATS = ("text", "json", "sarif", "github")  # capsys.lint.output renders each

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input: exit status 2 with this message."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``lint`` subcommand's options (shared by ``capsys lint`` and ``python -m``)."""
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: .)")
    parser.add_argument("--select", metavar="CODES", help="only these codes (comma-separated)")
    parser.add_argument("--ignore", metavar="CODES", help="never these codes (comma-separated)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
    parser.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    parser.add_argument(
        "--diff", action="store_true", help="show the fixes as a diff; change nothing"
    )
    parser.add_argument(
        "--unsafe-fixes", action="store_true", help="with --fix/--diff: also unsafe fixes"
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument(
        "--force-exclude",
        action="store_true",
        help="apply excludes to files named on the command line too (for pre-commit)",
    )
    parser.add_argument("--config", metavar="PYPROJECT", help="read [tool.capsys] from this file")
    parser.add_argument("-j", "--jobs", type=int, metavar="N", help="worker processes")
    parser.add_argument("--quiet", action="store_true", help="no summary line on stderr")


def _codes(text: str | None, option: str) -> frozenset[str] | None:
    if text is None:
        return None
    codes = frozenset(c.strip().upper() for c in text.split(",") if c.strip())
    unknown = sorted(c for c in codes if c not in CODES)
    if unknown:
        raise UsageError(
            f"{option}: unknown code(s) {', '.join(unknown)}; known: {', '.join(CODES)}"
        )
    return codes


def _load_config(args: argparse.Namespace, paths: Sequence[Path]) -> Config:
    if args.config is not None:
        pyproject = Path(args.config)
        if not pyproject.is_file():
            raise UsageError(f"--config: no such file {args.config}")
        config = load_config(pyproject)
    else:
        config = load_config(paths[0] if paths else Path.cwd())
    select = _codes(args.select, "--select")
    ignore = _codes(args.ignore, "--ignore") or frozenset()
    return config.with_overrides(select, ignore)


def _default_paths(config: Config) -> list[Path]:
    if config.include and config.root is not None:
        found: list[Path] = []
        for pattern in config.include:
            matches = sorted(config.root.glob(pattern))
            found.extend(matches)
        return [_relative(p) for p in found]
    return [Path(".")]


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _fix(files: Sequence[Path], config: Config, *, write: bool, unsafe: bool, out: TextIO) -> int:
    """Apply (``write``) or show the fixes; returns the number of files changed."""
    from capsys.lint.engine import fix_source
    from capsys.lint.index import ProjectIndex

    index = ProjectIndex([config.root] if config.root is not None else [Path.cwd()])
    changed = 0
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        fixed = fix_source(path.resolve(), data, config, index, unsafe=unsafe)
        if fixed == data:
            continue
        changed += 1
        if write:
            path.write_bytes(fixed)
        else:
            before = data.decode("utf-8", errors="replace").splitlines(keepends=True)
            after = fixed.decode("utf-8", errors="replace").splitlines(keepends=True)
            out.writelines(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}"))
    return changed


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``capsys lint`` with parsed arguments; returns the exit status."""
    from capsys.lint.engine import InternalError
    from capsys.lint.files import config_excludes, discover
    from capsys.lint.output import render
    from capsys.lint.runner import lint_paths

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        if args.jobs is not None and args.jobs < 1:
            raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
        given = [Path(p) for p in args.paths]
        config = _load_config(args, given)
        paths = given or _default_paths(config)
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise UsageError(f"no such file or folder: {', '.join(missing)}")
        root = config.root if config.root is not None else Path.cwd()
        excludes = config_excludes(config.exclude, root)
        files = list(discover(paths, excludes, force_exclude=args.force_exclude))
        fixed_files = 0
        if args.diff:
            fixed_files = _fix(files, config, write=False, unsafe=args.unsafe_fixes, out=out)
            if not args.quiet:
                err.write(f"capsys lint: {fixed_files} file(s) would be changed by --fix\n")
            return EXIT_FINDINGS if fixed_files else EXIT_OK
        if args.fix:
            fixed_files = _fix(files, config, write=True, unsafe=args.unsafe_fixes, out=out)
        result = lint_paths(files, config, use_cache=not args.no_cache, jobs=args.jobs)
    except (UsageError, ConfigError) as exc:
        err.write(f"capsys lint: {exc}\n")
        return EXIT_ERROR
    except InternalError as exc:
        err.write(f"capsys lint: internal error: {exc}\n")
        return EXIT_ERROR
    render(args.format, result.diagnostics, out, result.files_checked, result.cache_hits)
    for error in result.errors:
        err.write(f"capsys lint: internal error: {error}\n")
    if not args.quiet:
        fixed = f", {fixed_files} file(s) fixed" if args.fix else ""
        err.write(
            f"capsys lint: {result.files_checked} file(s) checked, "
            f"{len(result.diagnostics)} finding(s){fixed}, {result.cache_hits} cache hit(s), "
            f"{result.seconds:.2f}s\n"
        )
    if result.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if result.diagnostics else EXIT_OK
