"""``[tool.capsys]`` in ``pyproject.toml``: the one configuration both checkers read.

Keys (all optional)::

    [tool.capsys]
    include = ["src"]               # when walking folders, check only files under these
    exclude = ["examples/violations"]
    select = ["CAP001", "CAP005"]   # only these codes (default: all)
    ignore = ["CAP012"]             # never these codes
    check-any = true                # CAP012: report Any/unknown crossing a boundary

    [tool.capsys.severity]
    CAP011 = "error"                # per-rule severity: "error" | "warning"
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capsys.diagnostics import CODES, Severity, get_rule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "Config",
    "ConfigError",
    "find_pyproject",
    "load_config",
    "load_config_file",
    "parse_config",
]


class ConfigError(ValueError):
    """``[tool.capsys]`` is malformed; the message names the key and what is allowed."""


@dataclass(frozen=True)
class Config:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    select: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    check_any: bool = True
    severity: dict[str, Severity] = field(default_factory=dict)
    root: Path | None = None  # the folder holding the pyproject.toml it came from

    def enabled(self, code: str) -> bool:
        """Whether findings with ``code`` are reported."""
        if code == "CAP012" and not self.check_any:
            return False
        if code in self.ignore:
            return False
        return self.select is None or code in self.select

    def severity_of(self, code: str) -> Severity:
        rule = get_rule(code)
        return self.severity.get(code, rule.severity if rule else Severity.ERROR)

    def with_overrides(
        self, select: frozenset[str] | None = None, ignore: frozenset[str] = frozenset()
    ) -> Config:
        """The command line's ``--select`` / ``--ignore`` on top of the file's."""
        return Config(
            self.include,
            self.exclude,
            select if select is not None else self.select,
            self.ignore | ignore,
            self.check_any,
            self.severity,
            self.root,
        )

    def fingerprint(self) -> str:
        """A stable text that changes whenever a setting that affects findings does."""
        sel = ",".join(sorted(self.select)) if self.select is not None else "*"
        sev = ",".join(f"{k}={v.value}" for k, v in sorted(self.severity.items()))
        return f"select={sel};ignore={','.join(sorted(self.ignore))};any={self.check_any};sev={sev}"


def _codes(value: Any, key: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'[tool.capsys] {key} must be a list of codes, e.g. ["CAP001"]')
    codes = frozenset(v.strip().upper() for v in value)
    unknown = sorted(c for c in codes if c not in CODES)
    if unknown:
        raise ConfigError(
            f"[tool.capsys] {key}: unknown code(s) {', '.join(unknown)}; known: {', '.join(CODES)}"
        )
    return codes


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[tool.capsys] {key} must be a list of paths or globs")
    return tuple(value)


def parse_config(table: dict[str, Any], root: Path | None = None) -> Config:
    """Build a ``Config`` from the ``[tool.capsys]`` table."""
    known = {"include", "exclude", "select", "ignore", "check-any", "severity"}
    extra = sorted(set(table) - known)
    if extra:
        raise ConfigError(
            f"[tool.capsys]: unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(known))}"
        )
    check_any = table.get("check-any", True)
    if not isinstance(check_any, bool):
        raise ConfigError("[tool.capsys] check-any must be true or false")
    severity: dict[str, Severity] = {}
    raw_severity = table.get("severity", {})
    if not isinstance(raw_severity, dict):
        raise ConfigError('[tool.capsys.severity] must be a table of CODE = "error"|"warning"')
    for code, level in raw_severity.items():
        (norm,) = _codes([code], "severity")
        try:
            severity[norm] = Severity(level)
        except ValueError:
            raise ConfigError(
                f'[tool.capsys.severity] {code} = {level!r}: use "error" or "warning"'
            ) from None
    return Config(
        include=_strings(table.get("include", []), "include"),
        exclude=_strings(table.get("exclude", []), "exclude"),
        select=_codes(table["select"], "select") if "select" in table else None,
        ignore=_codes(table.get("ignore", []), "ignore"),
        check_any=check_any,
        severity=severity,
        root=root,
    )


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    # os.path.realpath, not Path.resolve: the latter raises on a symlink loop (< 3.13).
    here = Path(os.path.realpath(start))
    if not here.is_dir():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(start: Path | None = None) -> Config:
    """Read ``[tool.capsys]`` from the nearest ``pyproject.toml`` (defaults if none)."""
    path = find_pyproject(start or Path.cwd())
    return Config() if path is None else load_config_file(path)


def load_config_file(path: Path) -> Config:
    """Read ``[tool.capsys]`` from this file (any name); its folder is the root that
    relative ``include``/``exclude`` entries are resolved against."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    tool = data.get("tool", {})
    table = tool.get("capsys", {}) if isinstance(tool, dict) else None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.capsys] must be a table")
    return parse_config(table, root=Path(os.path.realpath(path.parent)))
