"""The result cache: ``.capsys_cache/`` next to ``pyproject.toml`` (like ``.ruff_cache``).

One file per tool version and configuration fingerprint holds, for each checked path,
the content hash it was computed from, its diagnostics and the content hashes of the
project modules its rules consulted (an agent class imported from another file). An
entry is used only when all of them still match, so editing a file, a file it depends
on, the configuration or upgrading capsys invalidates exactly what it must.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from capsys import __version__
from capsys.lint.files import read_source
from capsys.lint.index import file_hash
from capsys.lint.model import Diagnostic
from capsys.lint.rules import all_rules

__all__ = ["CACHE_DIR", "Cache", "cache_key"]

CACHE_DIR = ".capsys_cache"
_FORMAT = 1


def cache_key(config_fingerprint: str, version: str | None = None) -> str:
    """What a cached result depends on besides the files: the tool and its settings."""
    version = version if version is not None else __version__
    rules = ",".join(f"{r.code}:{r.module}" for r in all_rules())
    text = f"{_FORMAT}|{version}|{config_fingerprint}|{rules}|{_code_fingerprint()}"
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _code_fingerprint() -> str:
    """A hash of capsys's own source: an editable install (or a fix between releases)
    changes what the rules report without changing the version. About 60 small files,
    read once per run."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.blake2b(digest_size=12)
    for source in sorted(root.rglob("*.py")):
        try:
            digest.update(source.read_bytes())
        except OSError:
            digest.update(source.name.encode())
    return digest.hexdigest()


class Cache:
    """Cached per-file results for one (version, configuration) key."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = folder
        self.path = folder / f"results-{key}.json"
        self._entries: dict[str, dict[str, Any]] = {}
        self._dirty = False
        self._hashes: dict[str, str | None] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("files"), dict):
                self._entries = data["files"]
        except (OSError, ValueError):
            self._entries = {}

    def _current_hash(self, path: str) -> str | None:
        if path not in self._hashes:
            try:
                self._hashes[path] = file_hash(read_source(Path(path)))
            except OSError:
                self._hashes[path] = None
        return self._hashes[path]

    def get(self, path: str, digest: str) -> list[Diagnostic] | None:
        """The cached diagnostics of ``path`` if its content and dependencies match."""
        self._hashes[path] = digest
        entry = self._entries.get(path)
        try:
            if entry is None or entry.get("hash") != digest:
                return None
            for dep_path, dep_hash in entry.get("deps", {}).values():
                if self._current_hash(dep_path) != dep_hash:
                    return None
            return [Diagnostic(**d) for d in entry.get("diagnostics", [])]
        except (AttributeError, TypeError, ValueError):  # a damaged cache file: a miss
            return None

    def put(
        self,
        path: str,
        digest: str,
        diagnostics: list[Diagnostic],
        deps: dict[str, tuple[str, str | None]],
    ) -> None:
        self._entries[path] = {
            "hash": digest,
            "deps": deps,
            "diagnostics": [asdict(d) for d in diagnostics],
        }
        self._dirty = True

    def save(self) -> None:
        """Write atomically; a cache that cannot be written is silently skipped."""
        if not self._dirty:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            gitignore = self.folder / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("# created by capsys lint\n*\n", encoding="utf-8")
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".results-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": __version__, "files": self._entries}, fh)
            os.replace(tmp, self.path)
        except OSError:
            return
        self._dirty = False
