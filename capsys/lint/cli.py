"""``capsys lint [PATH ...]``: the command-line front end of the linter (SPEC §5).

Exit status: 0 no findings, 1 findings, 2 usage error or internal failure. The summary
line goes to stderr so that stdout holds only the chosen format.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import io
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from capsys.config import Config, ConfigError, find_pyproject, load_config_file
from capsys.diagnostics import CODES
from capsys.lint.files import config_excludes, config_includes, discover, kept, real_path

if TYPE_CHECKING:
    from capsys.lint.files import Pattern
    from capsys.lint.model import Diagnostic

# The linter itself (libcst and the rules) is imported only when ``lint`` runs, so that
# ``capsys rules`` / ``capsys explain`` start fast.

__all__ = ["FORMATS", "add_arguments", "emit", "run"]

FORMATS = ("text", "json", "sarif", "github")  # capsys.lint.output renders each

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input: exit status 2 with this message."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``lint`` subcommand's options (shared by ``capsys lint`` and ``python -m``)."""
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: .)")
    parser.add_argument(
        "--select",
        metavar="CODES",
        help="only these codes (comma-separated); CAP000 (unreadable file) is always shown",
    )
    parser.add_argument(
        "--ignore",
        metavar="CODES",
        help="never these codes (comma-separated); CAP000 cannot be ignored",
    )
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
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="read [tool.capsys] from this file, not the nearest pyproject.toml",
    )
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


class _Configs:
    """The configuration of each file: ``--config``'s for every file, else the nearest
    ``pyproject.toml``'s (a nested project's own, whatever the order of the paths on the
    command line), with ``--select``/``--ignore`` on top; each file read once."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.select = _codes(args.select, "--select")
        self.ignore = _codes(args.ignore, "--ignore") or frozenset()
        self.fixed: Config | None = None
        if args.config is not None:
            config_file = Path(args.config)
            if not config_file.is_file():
                raise UsageError(f"--config: no such file {args.config}")
            self.fixed = self._overridden(load_config_file(config_file))
        self._by_file: dict[Path | None, Config] = {}
        self._by_folder: dict[Path, Config] = {}

    def _overridden(self, config: Config) -> Config:
        if self.select is not None:  # as in ruff: --select replaces select and ignore
            config = dataclasses.replace(config, ignore=frozenset())
        return config.with_overrides(self.select, self.ignore)

    def near(self, path: Path) -> Config:
        """The configuration for the file or folder ``path``."""
        if self.fixed is not None:
            return self.fixed
        folder = path if path.is_dir() else path.parent
        found = self._by_folder.get(folder)
        if found is None:
            pyproject = find_pyproject(folder)
            found = self._by_file.get(pyproject)
            if found is None:
                plain = Config() if pyproject is None else load_config_file(pyproject)
                found = self._by_file[pyproject] = self._overridden(plain)
            self._by_folder[folder] = found
        return found


def _filters(config: Config) -> tuple[list[Pattern], list[Pattern]]:
    """A configuration's excludes and includes, anchored at its folder."""
    root = config.root if config.root is not None else Path.cwd()
    return config_excludes(config.exclude, root), config_includes(config.include, root)


def _grouped(
    args: argparse.Namespace,
    paths: Sequence[Path],
    configs: _Configs,
    unreadable: list[tuple[Path, OSError]],
) -> list[tuple[Config, list[Path]]]:
    """The files to check, grouped by configuration. A folder is walked with its own
    configuration's excludes; a file found there under a nested ``pyproject.toml`` is
    then also subject to that one's excludes and includes."""
    groups: dict[int, tuple[Config, list[Path]]] = {}
    seen: set[Path] = set()
    for given in paths:
        config = configs.near(given)
        excludes, includes = _filters(config)
        found = discover(
            [given],
            excludes,
            includes=includes,
            force_exclude=args.force_exclude,
            unreadable=unreadable,
        )
        walked = real_path(given).is_dir()
        for path in found:
            real = real_path(path)
            if real in seen:
                continue
            seen.add(real)
            own = configs.near(path) if walked else config
            if own is not config and not kept(real, *_filters(own)):
                continue
            groups.setdefault(id(own), (own, []))[1].append(path)
    return list(groups.values())


def emit(out: TextIO, write: Callable[[TextIO], object]) -> None:
    """Write to ``out`` and flush. A reader that stopped reading (``capsys lint | head``)
    is not an error: the rest of the output goes to devnull, as the Python docs on
    SIGPIPE advise, so neither a traceback nor the flush at exit complains."""
    try:
        write(out)
        out.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


def _say(err: TextIO, text: str) -> None:
    """A message on stderr, which may be a closed pipe too (``capsys lint 2>&1 | head``)."""
    emit(err, lambda e: e.write(text))


def _tolerant(stream: TextIO) -> TextIO:
    """A file name with bytes that are not UTF-8 (they arrive as lone surrogates) or a
    character the output encoding lacks must not abort the report: such characters are
    backslash-escaped instead of raising (Python already picks a tolerant handler in a
    POSIX locale; that one is kept)."""
    if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
        stream.reconfigure(errors="backslashreplace")
    return stream


def _fix(files: Sequence[Path], config: Config, *, unsafe: bool, diff: TextIO | None = None) -> int:
    """Apply the fixes, or only write them to ``diff`` as a unified diff; returns the
    number of files changed."""
    from capsys.lint.engine import fix_source
    from capsys.lint.files import read_source
    from capsys.lint.index import ProjectIndex

    index = ProjectIndex([config.root] if config.root is not None else [Path.cwd()])
    changed = 0
    for path in files:
        try:
            data = read_source(path)
        except OSError:
            continue  # reported as CAP000 by the run that follows --fix
        fixed = fix_source(real_path(path), data, config, index, unsafe=unsafe)
        if fixed == data:
            continue
        changed += 1
        if diff is None:
            path.write_bytes(fixed)
        else:
            before = data.decode("utf-8", errors="replace").splitlines(keepends=True)
            after = fixed.decode("utf-8", errors="replace").splitlines(keepends=True)
            diff.writelines(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}"))
    return changed


def _unlisted(unreadable: list[tuple[Path, OSError]], configs: _Configs) -> list[Diagnostic]:
    """CAP000 for each folder that could not be listed."""
    from capsys.lint.engine import cannot_check

    return [
        cannot_check(
            str(folder),
            configs.near(folder),
            1,
            1,
            f"a folder that cannot be listed ({exc.strerror or exc})",
        )
        for folder, exc in unreadable
    ]


def _unchecked(
    groups: list[tuple[Config, list[Path]]],
    configs: _Configs,
    unreadable: list[tuple[Path, OSError]],
    jobs: int | None,
) -> list[str]:
    """For ``--diff``: the CAP000 findings (files that cannot be read or parsed, folders
    that cannot be listed) as text lines."""
    from capsys.lint.runner import lint_paths

    found = _unlisted(unreadable, configs)
    for config, files in groups:
        only = dataclasses.replace(config, select=frozenset({"CAP000"}), ignore=frozenset())
        found.extend(lint_paths(files, only, use_cache=False, jobs=jobs).diagnostics)
    return [d.text() for d in sorted(found)]


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``capsys lint`` with parsed arguments; returns the exit status."""
    from capsys.lint.engine import InternalError

    out = out if out is not None else _tolerant(sys.stdout)
    err = err if err is not None else sys.stderr
    try:
        return _run(args, out, err)
    except (UsageError, ConfigError) as exc:
        _say(err, f"capsys lint: {exc}\n")
    except InternalError as exc:
        _say(err, f"capsys lint: internal error: {exc}\n")
    except Exception as exc:  # a linter bug: exit status 1 would read as "findings"
        _say(err, f"capsys lint: internal error: {exc!r}\n")
    return EXIT_ERROR


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The command proper; ``run`` turns whatever it raises into exit status 2."""
    from capsys.lint.output import render
    from capsys.lint.runner import RunResult, lint_paths

    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    paths = [Path(p) for p in args.paths] or [Path(".")]
    configs = _Configs(args)
    unreadable: list[tuple[Path, OSError]] = []
    groups = _grouped(args, paths, configs, unreadable)
    if args.diff:
        diff = io.StringIO()
        changed = sum(
            _fix(files, config, unsafe=args.unsafe_fixes, diff=diff) for config, files in groups
        )
        emit(out, lambda o: o.write(diff.getvalue()))
        # What could not be read or parsed has no diff: never passed over as clean.
        unchecked = _unchecked(groups, configs, unreadable, args.jobs)
        for line in unchecked:
            _say(err, f"{line}\n")
        if not args.quiet:
            _say(err, f"capsys lint: {changed} file(s) would be changed by --fix\n")
        return EXIT_FINDINGS if changed or unchecked else EXIT_OK
    fixed_files = 0
    if args.fix:
        fixed_files = sum(_fix(files, c, unsafe=args.unsafe_fixes) for c, files in groups)
    result = RunResult()
    for config, files in groups:
        part = lint_paths(files, config, use_cache=not args.no_cache, jobs=args.jobs)
        result.diagnostics.extend(part.diagnostics)
        result.files_checked += part.files_checked
        result.cache_hits += part.cache_hits
        result.errors.extend(part.errors)
        result.seconds += part.seconds
    # Its files were not checked: never passed over as clean.
    result.diagnostics.extend(_unlisted(unreadable, configs))
    result.diagnostics.sort()
    emit(
        out,
        lambda o: render(
            args.format, result.diagnostics, o, result.files_checked, result.cache_hits
        ),
    )
    for error in result.errors:
        _say(err, f"capsys lint: internal error: {error}\n")
    if not args.quiet:
        fixed = f", {fixed_files} file(s) fixed" if args.fix else ""
        _say(
            err,
            f"capsys lint: {result.files_checked} file(s) checked, "
            f"{len(result.diagnostics)} finding(s){fixed}, {result.cache_hits} cache hit(s), "
            f"{result.seconds:.2f}s\n",
        )
    if result.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if result.diagnostics else EXIT_OK
