"""Every storage backend runs the same contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.store.base import Store
from collector.store.sqlite import SQLiteStore


@pytest.fixture(params=["sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = SQLiteStore(tmp_path / "collector.sqlite3")
    yield s
    s.close()
