"""Run real mypy with the plugin on real files and read back its findings."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from mypy import api as mypy_api

from mypy_plugin.hooks import STRICT_ENV

REPO = Path(__file__).resolve().parents[2]
PLUGIN_CODES = frozenset({"CAP001", "CAP002", "CAP003", "CAP004", "CAP007", "CAP008", "CAP012"})
_LINE = re.compile(
    r"^(?P<path>[^:\n]+):(?P<line>\d+)(?::\d+)?: (?P<sev>error|note): (?P<msg>.*?)(?:  \[(?P<code>[\w-]+)\])?$"
)
_EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>CAP\d{3}(?:\s*,\s*CAP\d{3})*)")


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the run's folder, with "/" separators
    line: int
    code: str
    message: str


@dataclass(frozen=True)
class Result:
    stdout: str
    stderr: str
    status: int
    findings: tuple[Finding, ...]

    def cap(self, path: str | None = None) -> set[tuple[int, str]]:
        """(line, code) of the capsys findings, for one file or all."""
        return {
            (f.line, f.code)
            for f in self.findings
            if f.code in PLUGIN_CODES and (path is None or f.path == path)
        }

    def messages(self, path: str, code: str | None = None) -> list[tuple[int, str]]:
        return sorted(
            (f.line, f.message)
            for f in self.findings
            if f.path == path and (code is None or f.code == code)
        )

    @property
    def internal_error(self) -> bool:
        text = self.stdout + self.stderr
        return "INTERNAL ERROR" in text or "Traceback" in text


def expected_markers(source: str, codes: Iterable[str] = PLUGIN_CODES) -> set[tuple[int, str]]:
    """(line, code) for every ``# expect: CAPNNN`` marker naming one of ``codes``."""
    wanted = set(codes)
    out: set[tuple[int, str]] = set()
    for number, text in enumerate(source.splitlines(), start=1):
        match = _EXPECT.search(text)
        if match:
            for code in re.split(r"\s*,\s*", match["codes"]):
                if code in wanted:
                    out.add((number, code))
    return out


def parse(stdout: str, root: Path) -> tuple[Finding, ...]:
    findings = []
    for text in stdout.splitlines():
        match = _LINE.match(text)
        if match is None or match["sev"] != "error":
            continue
        path = Path(match["path"])
        if path.is_absolute():
            with suppress(ValueError):
                path = path.relative_to(root)
        findings.append(
            Finding(path.as_posix(), int(match["line"]), match["code"] or "", match["msg"])
        )
    return tuple(findings)


@contextmanager
def _cwd(folder: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


def write_files(folder: Path, files: Mapping[str, str]) -> list[str]:
    names = []
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        names.append(name)
    return names


def run_mypy(
    folder: Path,
    targets: Iterable[str],
    *,
    ini: str = "",
    pyproject: str | None = None,
    cache_dir: Path | None = None,
    strict: bool = True,
    toml_config: bool = False,
    extra_args: Iterable[str] = (),
) -> Result:
    """mypy --strict with the plugin on ``targets`` (paths relative to ``folder``).

    The mypy configuration goes to ``mypy.ini`` (``ini`` is appended to it), or with
    ``toml_config`` to ``[tool.mypy]`` of the same ``pyproject.toml`` that holds
    ``pyproject``. ``cache_dir`` None means ``--no-incremental``; the plugin re-raises
    its own errors (``CAPSYS_PLUGIN_STRICT``) so a bug fails the test instead of hiding.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if toml_config:
        config = folder / "pyproject.toml"
        config.write_text(
            f'[tool.mypy]\nstrict = {str(strict).lower()}\nplugins = ["mypy_plugin"]\n'
            f'mypy_path = "{REPO}"\n\n{pyproject or ""}'
        )
    else:
        config = folder / "mypy.ini"
        config.write_text(
            f"[mypy]\nstrict = {strict}\nplugins = mypy_plugin\nmypy_path = {REPO}\n{ini}"
        )
        if pyproject is not None:
            (folder / "pyproject.toml").write_text(pyproject)
    args = ["--config-file", str(config), "--no-error-summary", "--hide-error-context"]
    if cache_dir is None:
        args.append("--no-incremental")
    else:
        args += ["--cache-dir", str(cache_dir)]
    old = os.environ.get(STRICT_ENV)
    os.environ[STRICT_ENV] = "1"
    try:
        with _cwd(folder):
            out, err, status = mypy_api.run([*args, *extra_args, *targets])
    finally:
        if old is None:
            del os.environ[STRICT_ENV]
        else:
            os.environ[STRICT_ENV] = old
    if "usage: mypy" in err or "While reading from" in err:
        raise AssertionError(f"mypy was not run as intended: {err}")
    return Result(out, err, status, parse(out, folder))
