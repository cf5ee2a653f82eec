"""A damaged database is refused at start, with one line saying what to do; nothing is acknowledged.

Real parts: the `caseguard-collector serve` process on loopback, a real SQLite file damaged on
disk (pages overwritten in the middle, or the file cut short), a real agent with events queued,
and a real throwaway PostgreSQL cluster whose version table is edited.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from collector.store.base import IncomingEvent
from collector.store.events import SQLiteStore
from collector.store.migrations import SCHEMA_VERSION
from tests.integration.harness import PYTHON, Agent, Collector, run_cli, wait_for
from tests.postgres_server import create_database, drop_database

pytestmark = pytest.mark.integration

PAGE = 4096


def _fill(data_dir: Path) -> Path:
    """Store 5,000 events of another device (the file gets hundreds of pages) and checkpoint the WAL."""
    path = data_dir / "collector.sqlite3"
    store = SQLiteStore(path)
    device = "laptop-filler"
    try:
        store.register_device(device, "ab" * 32, 1_767_225_600_000_000)
        events = [IncomingEvent(f"0190e000-{i:06d}", i + 1, "test", 1_767_225_600_000_000, "0.1.0", b"x" * 200)
                  for i in range(5000)]  # fmt: skip
        store.ingest([(device, events)], 1_767_225_600_000_000)
    finally:
        store.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


def _overwrite_middle(path: Path) -> None:
    pages = path.stat().st_size // PAGE
    with path.open("r+b") as f:
        f.seek(PAGE * (pages // 2))
        f.write(b"\xde\xad\xbe\xef" * (PAGE // 4) * 8)


def _truncate(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size * 2 // 5)


DAMAGE: dict[str, Callable[[Path], None]] = {"pages overwritten in the middle": _overwrite_middle,
                                             "truncated": _truncate}  # fmt: skip


def _serve(collector: Collector, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run `serve` to its end; a collector that serves a damaged database is a failure, not a hang."""
    try:
        return subprocess.run(
            [PYTHON, "-m", "collector", "serve", *collector.store_args, "--listen", collector.address, *extra],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the collector kept running on the damaged database: {exc.stdout!r}", pytrace=False)


def _assert_refused(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "serving" not in proc.stdout and "serving" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_sqlite_file_is_refused_and_the_agent_gets_no_ack(
    damage: str, collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    agent = make_agent("laptop-1")
    path = _fill(collector.data_dir)
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(path, backup)
    agent.emit(5)
    agent.start()
    DAMAGE[damage](path)

    line = _assert_refused(_serve(collector), str(path), "damaged", "restore it from a backup",
                           "caseguard-collector db check")  # fmt: skip
    assert line.startswith("caseguard-collector: ")
    time.sleep(2)  # the agent keeps trying meanwhile: nothing it sent was acknowledged
    assert int(str(agent.status()["outbox_depth"])) >= 5
    checked = run_cli("collector", "db", "check", "--data-dir", str(collector.data_dir), check=False)
    assert checked.returncode == 1 and "damaged" in checked.stderr and "Traceback" not in checked.stderr

    # Restored from the backup, the collector serves, and the agent's queued events arrive.
    shutil.copy(backup, path)
    assert "integrity check passed" in run_cli("collector", "db", "check", "--data-dir", str(collector.data_dir)).stdout
    collector.start()
    wait_for(lambda: collector.count("test", "laptop-1") == 5, 30, "the queued events after the restore")
    assert "serving" in collector.log()
    agent.stop()


def _set_user_version(path: Path, version: int) -> None:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {version}")
    db.close()


@pytest.mark.parametrize(
    ("version", "words"),
    [
        (SCHEMA_VERSION + 1, ("newer than this collector",)),
        (-7, ("garbled", "restore it from a backup")),
        (0, ("schema version is missing", "restore it from a backup")),
    ],
)
def test_a_sqlite_schema_version_newer_missing_or_garbled_is_refused(
    version: int, words: tuple[str, ...], collector: Collector
) -> None:
    path = collector.data_dir / "collector.sqlite3"
    SQLiteStore(path).close()
    _set_user_version(path, version)
    _assert_refused(_serve(collector), str(path), *words)


def test_an_older_sqlite_schema_is_still_migrated_at_start(collector: Collector) -> None:
    path = collector.data_dir / "collector.sqlite3"
    SQLiteStore(path).close()
    _set_user_version(path, SCHEMA_VERSION - 1)  # step 7 only adds what is missing: safe to rerun
    collector.start()
    collector.stop()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


@pytest.fixture
def database_url(postgres_server_url: str, collector: Collector) -> Iterator[str]:
    url = create_database(postgres_server_url)
    run_cli("collector", "migrate", "--data-dir", str(collector.data_dir), "--database-url", url)
    collector.database_url = url
    yield url
    drop_database(postgres_server_url, url)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ("UPDATE caseguard_schema SET version = version + 1", ("newer than this collector",)),
        ("INSERT INTO caseguard_schema(version) VALUES (3)", ("2 schema versions are recorded",)),
        ("DELETE FROM caseguard_schema", ("schema version is missing",)),
        ("DROP TABLE caseguard_schema", ("schema version is missing",)),
        ("UPDATE caseguard_schema SET version = -1", ("garbled",)),
    ],
)
def test_a_postgres_schema_version_newer_missing_or_garbled_is_refused(
    edit: str, words: tuple[str, ...], database_url: str, collector: Collector
) -> None:
    with psycopg.connect(database_url) as db:
        db.execute(edit)
    _assert_refused(_serve(collector), "PostgreSQL", *words)
    migrate = run_cli("collector", "migrate", *collector.store_args, check=False)
    assert migrate.returncode == 1 and len(migrate.stderr.strip().splitlines()) == 1, migrate.stderr


def test_an_unreachable_postgres_is_one_line(collector: Collector) -> None:
    collector.database_url = "postgresql://caseguard@127.0.0.1:1/caseguard?connect_timeout=2"
    line = _assert_refused(_serve(collector), "cannot connect to PostgreSQL")
    assert "caseguard@" not in line
