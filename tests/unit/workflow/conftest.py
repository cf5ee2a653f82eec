"""Fixtures for the workflow tests: a fresh world per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.workflow.helpers import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "collector.sqlite3")
    yield w
    w.close()
