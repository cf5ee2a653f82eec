"""Fixtures for the console's unit tests: a fresh workflow world and the console's store over the same file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from collector.console.passwords import Passwords
from collector.store.console import SQLiteConsoleStore
from tests.unit.workflow.helpers import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "collector.sqlite3")
    yield w
    w.close()


@pytest.fixture
def console(world: World) -> Iterator[SQLiteConsoleStore]:
    store = SQLiteConsoleStore(world.path)
    yield store
    store.close()


@pytest.fixture(scope="session")
def cheap_passwords() -> Passwords:
    """argon2id with tiny parameters: the same code path, a thousandth of the cost."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
