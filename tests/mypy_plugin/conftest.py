"""One mypy cache for the session: typeshed and capsys are analysed once, each test's
own files are re-checked (mypy validates cached modules by content hash)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy_cache")
