"""Lint many files: the cache first, then the misses, in a process pool when it pays.

Results are sorted before they are reported, so the output does not depend on the
number of processes or the order in which they finish.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from capsys.config import Config
from capsys.lint.cache import Cache, cache_key
from capsys.lint.engine import FileResult, cannot_check, lint_file, lint_source
from capsys.lint.files import read_source, real_path
from capsys.lint.index import ProjectIndex, file_hash
from capsys.lint.model import Diagnostic

__all__ = ["PARALLEL_THRESHOLD", "RunResult", "lint_paths"]

# Below this many files to parse, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 24


@dataclass
class RunResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files_checked: int = 0
    cache_hits: int = 0
    errors: list[str] = field(default_factory=list)  # internal failures (exit 2)
    seconds: float = 0.0


def _roots(config: Config) -> list[Path]:
    return [config.root] if config.root is not None else [Path.cwd()]


# Per worker process: the configuration and one project index shared by its files.
_worker_state: tuple[Config, ProjectIndex] | None = None


def _init_worker(config: Config) -> None:
    global _worker_state
    _worker_state = (config, ProjectIndex(_roots(config)))


Job = tuple[str, str, bytes | None]  # (real path, shown path, content or None: unread)


def _lint_job(job: Job, config: Config, index: ProjectIndex) -> FileResult:
    """Lint one file; whatever goes wrong stays with that file (an internal failure, exit
    status 2) and the other files are still checked."""
    real, shown, data = job
    try:
        if data is None:
            return lint_file(Path(real), config, index, shown)
        return lint_source(Path(real), data, config, index, shown)
    except Exception as exc:  # a linter bug: reported, but not at the others' expense
        return FileResult(shown, error=f"checking {shown} failed: {exc!r}")


def _lint_one(job: Job) -> FileResult:
    assert _worker_state is not None
    config, index = _worker_state
    return _lint_job(job, config, index)


def _pool_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    # fork is much cheaper than spawn (no re-import of libcst per worker); only used
    # where it is the safe default.
    if sys.platform.startswith("linux") and "fork" in methods and sys.version_info < (3, 14):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def lint_paths(
    files: Sequence[Path],
    config: Config,
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    jobs: int | None = None,
) -> RunResult:
    """Lint ``files`` (as displayed to the user) with ``config``."""
    started = time.perf_counter()
    result = RunResult()
    cache: Cache | None = None
    if use_cache:
        folder = cache_dir or (config.root or Path.cwd()) / ".capsys_cache"
        cache = Cache(folder, cache_key(config.fingerprint()))
    todo: list[Job] = []
    digests: dict[str, str] = {}
    for shown_path in files:
        shown = str(shown_path)
        real = str(real_path(shown_path))
        result.files_checked += 1
        try:
            data = read_source(shown_path)
        except OSError:
            todo.append((real, shown, None))  # the engine reports it (CAP000)
            continue
        digest = digests[real] = file_hash(data)
        cached = cache.get(real, digest) if cache is not None else None
        if cached is not None:
            result.cache_hits += 1
            result.diagnostics.extend(dataclasses.replace(d, path=shown) for d in cached)
            continue
        todo.append((real, shown, data))
    for (real, _, _), file_result in zip(todo, _run(todo, config, jobs), strict=True):
        if file_result.error is not None:
            result.errors.append(file_result.error)
            continue
        result.diagnostics.extend(file_result.diagnostics)
        if cache is not None and real in digests:
            cache.put(real, digests[real], file_result.diagnostics, file_result.deps)
    if cache is not None:
        cache.save()
    result.diagnostics.sort()
    result.seconds = time.perf_counter() - started
    return result


def _run(todo: list[Job], config: Config, jobs: int | None) -> list[FileResult]:
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers > 1 and len(todo) >= PARALLEL_THRESHOLD:
        return _in_pool(todo, config, min(workers, max(1, len(todo) // 8)))
    index = ProjectIndex(_roots(config))
    return [_lint_job(job, config, index) for job in todo]


def _pool(config: Config, workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        workers, mp_context=_pool_context(), initializer=_init_worker, initargs=(config,)
    )


def _in_pool(todo: list[Job], config: Config, workers: int) -> list[FileResult]:
    # Workers read the files themselves: cheaper than pickling the bytes.
    jobs = [(real, shown, None) for real, shown, _ in todo]
    results: list[FileResult] = []
    try:
        with _pool(config, workers) as pool:
            chunk = max(1, len(jobs) // (workers * 4))
            results.extend(pool.map(_lint_one, jobs, chunksize=chunk))
    except BrokenProcessPool:
        # A worker died (a crash in native code, the OOM killer) and took its unreported
        # results with it. The files from the first of those on are checked again, each
        # in a process of its own: a crash is then that file's CAP000, and no one else's.
        results.extend(_alone(job, config) for job in jobs[len(results) :])
    return results


def _alone(job: Job, config: Config) -> FileResult:
    shown = job[1]
    with _pool(config, 1) as pool:
        try:
            return pool.submit(_lint_one, job).result()
        except BrokenProcessPool:
            crashed = cannot_check(shown, config, 1, 1, "the process checking it crashed")
            return FileResult(shown, [crashed])
