"""Incremental mode across modules: which project files each module's verdicts read.

mypy rechecks a module when a module it imports changes its interface. A verdict reads
further than that: whether ``Job`` is sendable depends on the fields of a dataclass two
imports away, and editing that dataclass changes no interface ``main.py`` imports, so a
cached ``main.py`` would keep its old verdict. The plugin therefore notes, while a hook
runs, the modules whose classes it consulted, and reports a digest of those files as the
module's configuration data: when one of them changes, the digest does, and mypy
rechecks the module. The list of files is kept beside mypy's cache
(``<version>/capsys-deps/<module>.json``), to recompute the digest when mypy asks whether a cached
module is still fresh.

The daemon (fine-grained mode) asks no such question: it rechecks the functions and
classes that depend on a changed definition. The classes a verdict read are therefore
also noted (as ``<class>`` and ``<class[wildcard]>`` triggers: the class, or one of its
members, changed) and given to mypy as plugin dependencies of the function or class
being checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["Dependencies", "consulted", "consulted_class", "consulting", "member_triggers"]

C = TypeVar("C")
R = TypeVar("R")

# The modules consulted by the hook (and the memoised verdict) running now, innermost
# last. mypy checks on one thread.
_sinks: list[set[str]] = []


def consulted(modules: Iterable[str]) -> None:
    """Note that the running check read class definitions from ``modules``."""
    if _sinks:
        _sinks[-1].update(modules)


def consulted_class(module: str, fullname: str) -> None:
    """Note that the running check read the definition of the class ``fullname``: its
    module's file (incremental mode) and the class itself (the daemon's triggers)."""
    if _sinks:
        _sinks[-1].update((module, f"<{fullname}>", f"<{fullname}[wildcard]>"))


@contextlib.contextmanager
def consulting() -> Iterator[set[str]]:
    """Collect the modules consulted inside the block (they count for the outer block
    too)."""
    found: set[str] = set()
    _sinks.append(found)
    try:
        yield found
    finally:
        _sinks.pop()
        consulted(found)


def _project_file(path: str) -> bool:
    """A source file of the user's project, not of typeshed or an installed package."""
    path = path.replace(os.sep, "/")
    return not any(part in path for part in ("/site-packages/", "/dist-packages/", "/typeshed/"))


class Dependencies:
    """Per module: the project files its checks consulted, and their digest."""

    def __init__(
        self, cache_dir: str | None, python_version: tuple[int, int], fine_grained: bool = False
    ) -> None:
        self.fine_grained = fine_grained
        # Beside mypy's own cache of that Python version (it keys its cache the same way).
        version = f"{python_version[0]}.{python_version[1]}"
        usable = cache_dir is not None and cache_dir != os.devnull
        self.folder = Path(cache_dir, version, "capsys-deps") if usable else None  # type: ignore[arg-type]
        self._read: dict[str, dict[str, str]] = {}  # module -> {module it read: path}
        self._written: set[str] = set()  # modules whose cache mypy wrote in this run
        self._hashes: dict[str, str] = {}

    def track(self, hook: Callable[[C], R]) -> Callable[[C], R]:
        """``hook``, noting for the module being checked what it consulted."""

        def tracked(ctx: C) -> R:
            with consulting() as found:
                result = hook(ctx)
            if found:
                api = getattr(ctx, "api", None)
                if self.fine_grained:
                    _depend(api, found)
                self._note(api, found)
            return result

        return tracked

    def _note(self, api: object, found: set[str]) -> None:
        module, files = _module_and_files(api)
        if module is None or files is None:
            return
        mine = self._read.setdefault(module, {})
        grew = False
        for name in found:
            if name == module or name in mine or name.startswith("<"):
                continue
            path = getattr(files.get(name), "path", None)
            if isinstance(path, str) and path and _project_file(path):
                mine[name] = os.path.abspath(path)
                grew = True
        if grew and module in self._written:
            # mypy writes a module's cache after its top level and checks the function
            # bodies afterwards: what they read goes to the list now. The cached digest
            # then lacks it, so the next run checks the module once more (and from then
            # on the digest has it): one extra check, never a stale verdict.
            self._store(module, mine)

    def written(self, module: str) -> str | None:
        """When mypy writes ``module``'s cache: keep its file list, return the digest.

        The list also keeps what the module read when it was last checked (function
        bodies are checked after this): a file it no longer reads costs at most an
        extra check, a file missing from it would cost a stale verdict.
        """
        if self.folder is None:
            return None
        read = {**self._load(module), **self._read.get(module, {})}
        self._read[module] = read
        self._written.add(module)
        self._store(module, read)
        return self._digest(read)

    def cached(self, module: str) -> str | None:
        """When mypy asks whether ``module``'s cache is fresh: the digest of the files
        it read when it was last checked, as they are now."""
        if self.folder is None:
            return None
        return self._digest(self._load(module))

    def _load(self, module: str) -> dict[str, str]:
        assert self.folder is not None
        try:
            data = json.loads((self.folder / f"{module}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _store(self, module: str, read: dict[str, str]) -> None:
        if self.folder is None:
            return
        target = self.folder / f"{module}.json"
        try:
            if not read:
                target.unlink(missing_ok=True)
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(read, sort_keys=True), encoding="utf-8")
        except OSError:
            pass  # mypy cannot keep its own cache in such a folder either

    def _digest(self, read: dict[str, str]) -> str | None:
        if not read:
            return None
        digest = hashlib.blake2b(digest_size=12)
        for name, path in sorted(read.items()):
            digest.update(f"{name}\0{self._hash(path)}\0".encode())
        return digest.hexdigest()

    def _hash(self, path: str) -> str:
        known = self._hashes.get(path)
        if known is None:
            try:
                known = hashlib.blake2b(Path(path).read_bytes(), digest_size=12).hexdigest()
            except OSError:
                known = "missing"
            self._hashes[path] = known
        return known


def _depend(api: object, found: set[str]) -> None:
    """Make mypy's daemon recheck the target being checked (a function, or a module's top
    level with its classes) when a class its verdicts read changes: ``found``'s triggers
    become plugin dependencies of that target, which mypy reads with the module's own
    dependencies after checking it."""
    module, files = _module_and_files(api)
    if module is None or files is None:
        return
    tree = files.get(module)
    plugin_deps = getattr(tree, "plugin_deps", None)
    target = _current_target(api)
    if not isinstance(plugin_deps, dict) or target is None:
        return
    for name in found:
        if name.startswith("<"):
            plugin_deps.setdefault(name, set()).add(target)


def member_triggers(api: object, found: set[str], fullname: str) -> None:
    """The daemon: a change to a class that ``fullname``'s fields read (``found``, from
    ``consulting``) counts as a change of one of ``fullname``'s members. Kept with the
    module defining ``fullname``, whose field list changes only when that module is
    edited (and then mypy reads these again). A target that read ``fullname`` is then
    rechecked when a class nested in it changes, even one nested after the target was
    last checked (mypy keeps only the first dependencies of a target it rechecks)."""
    if not getattr(getattr(api, "options", None), "fine_grained_incremental", False):
        return
    module, files = _module_and_files(api)
    if module is None or files is None:
        return
    plugin_deps = getattr(files.get(module), "plugin_deps", None)
    if not isinstance(plugin_deps, dict):
        return
    member = f"<{fullname}[wildcard]>"
    for name in found:
        if name.startswith("<") and name != member:
            plugin_deps.setdefault(name, set()).add(member)


def _current_target(api: object) -> str | None:
    """The target mypy is checking: a type checker keeps it in ``tscope``, a semantic
    analyser in ``scope``, a type analyser wraps a semantic analyser."""
    for candidate in (api, getattr(api, "api", None)):
        for attribute in ("tscope", "scope"):
            scope = getattr(candidate, attribute, None)
            current = getattr(scope, "current_target", None)
            if callable(current):
                try:
                    target = current()
                except AssertionError:  # outside any module
                    return None
                return target if isinstance(target, str) and target else None
    return None


def _module_and_files(api: object) -> tuple[str | None, dict[str, Any] | None]:
    """The module being checked and mypy's table of modules (id -> MypyFile), from a
    type checker, a semantic analyser or a type analyser (which wraps one)."""
    for candidate in (api, getattr(api, "api", None)):
        files = getattr(candidate, "modules", None)
        tree = getattr(candidate, "tree", None)
        module = getattr(tree, "fullname", None) or getattr(candidate, "cur_mod_id", None)
        if isinstance(module, str) and isinstance(files, dict):
            return module, files
    return None, None
