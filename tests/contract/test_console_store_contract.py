"""The web console's storage contract, pinned for SQLite and PostgreSQL alike.

Every test here runs against both backends (``backend``): accounts, sessions and their
expiry, device owners, incident assignments and notes, posture at a moment, and what
happens when several collectors write at once. The last few pin what only PostgreSQL can
get wrong: a schema that `migrate` has not brought up to date, and lock waits.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psycopg
import pytest

from collector.domain.event_facts import EncryptionState
from collector.store.base import IncomingEvent, Store
from collector.store.console import PostgresConsoleStore, SQLiteConsoleStore
from collector.store.console_base import (
    Assignment,
    ConsoleSession,
    ConsoleStore,
    ConsoleStoreError,
    ConsoleUser,
    IncidentNote,
    UnknownUser,
    UserExists,
    open_console_store,
)
from collector.store.events import PostgresStore, SchemaOutOfDate, SQLiteStore
from collector.store.migrations import SCHEMA_VERSION
from collector.store.workflow import PostgresWorkflowStore, SQLiteWorkflowStore
from collector.store.workflow_base import WorkflowStore
from collector.wire.event_codec import POSTURE_KINDS, device_posture
from collector.workflow.service import WorkflowService
from collector.workflow.times import to_us
from tests.contract.schema_v4 import POSTGRES_V4
from tests.postgres_server import create_database, drop_database
from tests.unit.workflow.helpers import EGRESS, ENCRYPTED, LOCKED, NOT_ENCRYPTED, Clock, body


class Holder(Protocol):
    """A transaction another collector has begun and not yet committed (raw SQL, literals only)."""

    def execute(self, sql: str) -> None: ...
    def commit(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class ConsoleBackend:
    """The console store with the event and workflow stores over the same database.

    ``open_console`` opens another console store on it (as another collector would);
    ``begin`` starts a raw transaction that holds its locks until committed.
    """

    name: str
    events: Store
    workflow: WorkflowStore
    console: ConsoleStore
    open_console: Callable[[], ConsoleStore]
    begin: Callable[[], Holder]
    clock: Clock = field(default_factory=Clock)
    seqs: dict[str, int] = field(default_factory=dict)

    def device(self, name: str) -> str:
        self.events.register_device(name, f"fp-{name}", to_us(self.clock.now))
        self.seqs[name] = 0
        return name

    def emit(self, device: str, kind: str, fields: dict[str, Any]) -> str:
        self.seqs[device] += 1
        event_id, now = str(uuid.uuid4()), to_us(self.clock.now)
        event = IncomingEvent(event_id, self.seqs[device], kind, now, "t", body(kind, fields))
        self.events.ingest([(device, [event])], now)
        return event_id

    def incident(self, device: str, burst: str = "burst-1") -> str:
        """A new incident from a case-file egress on ``device``; its id."""
        before = {r.incident_id for r in self.workflow.list_incidents()}
        self.emit(device, "case_file_egress", {**EGRESS, "copy_burst_id": burst})
        WorkflowService(self.workflow, clock=self.clock).catch_up()
        [new] = [r.incident_id for r in self.workflow.list_incidents() if r.incident_id not in before]
        return new


class _SQLiteHolder:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.execute("BEGIN IMMEDIATE")

    def execute(self, sql: str) -> None:
        self._db.execute(sql)

    def commit(self) -> None:
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


class _PostgresHolder:
    def __init__(self, url: str) -> None:
        self._db = psycopg.connect(url)

    def execute(self, sql: str) -> None:
        self._db.execute(sql)

    def commit(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsoleBackend]:
    opened: list[ConsoleStore] = []

    def track(store: ConsoleStore) -> ConsoleStore:
        opened.append(store)
        return store

    if request.param == "sqlite":
        path = tmp_path / "collector.sqlite3"
        events: Store = SQLiteStore(path)
        workflow: WorkflowStore = SQLiteWorkflowStore(path)
        yield ConsoleBackend(
            "sqlite",
            events,
            workflow,
            track(SQLiteConsoleStore(path)),
            lambda: track(SQLiteConsoleStore(path)),
            lambda: _SQLiteHolder(path),
        )
    else:
        server_url: str = request.getfixturevalue("postgres_server_url")
        url = create_database(server_url)
        pg = PostgresStore(url, require_current_schema=False)
        pg.migrate()
        events = pg
        workflow = PostgresWorkflowStore(url)
        yield ConsoleBackend(
            "postgres",
            events,
            workflow,
            track(PostgresConsoleStore(url)),
            lambda: track(PostgresConsoleStore(url)),
            lambda: _PostgresHolder(url),
        )
    for s in opened:
        s.close()
    workflow.close()
    events.close()
    if request.param == "postgres":
        drop_database(server_url, url)


@pytest.fixture
def console(backend: ConsoleBackend) -> ConsoleStore:
    return backend.console


def _session(token_hash: str, user: str, created: int = 1, seen: int = 1, flash: str | None = None) -> ConsoleSession:
    return ConsoleSession(token_hash, user, f"csrf-{token_hash}", created, seen, flash)


# -- accounts --------------------------------------------------------------------------


def test_accounts_round_trip_with_every_field(console: ConsoleStore) -> None:
    console.add_user("ig.officer", "ig_officer", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", 1_700_000_000_000_001)
    assert console.get_user("ig.officer") == ConsoleUser(
        "ig.officer", "ig_officer", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", 1_700_000_000_000_001
    )
    console.record_login("ig.officer", 2**62)
    console.set_password_hash("ig.officer", "$argon2id$new")
    console.set_disabled("ig.officer", 7)
    assert console.get_user("ig.officer") == ConsoleUser(
        "ig.officer", "ig_officer", "$argon2id$new", 1_700_000_000_000_001, 7, 2**62
    )
    assert console.get_user("nobody") is None
    console.record_login("nobody", 5)  # nothing to record: no error, no account made
    assert console.get_user("nobody") is None


def test_accounts_are_listed_by_name_in_code_point_order(console: ConsoleStore) -> None:
    names = ["staff.b", "a-b", "ab", "a_b", "a.c", "z9", "a0", "staff-a"]
    for n, name in enumerate(names):
        console.add_user(name, "staff", "h", n)
    assert [u.name for u in console.list_users()] == sorted(names)  # whatever the database's locale


def test_a_second_account_of_one_name_is_refused(console: ConsoleStore) -> None:
    console.add_user("ig.officer", "ig_officer", "h1", 1)
    with pytest.raises(UserExists):
        console.add_user("ig.officer", "staff", "h2", 2)
    user = console.get_user("ig.officer")
    assert user is not None and (user.role, user.password_hash, user.created_at_us) == ("ig_officer", "h1", 1)


def test_changing_an_unknown_account_is_refused(console: ConsoleStore) -> None:
    with pytest.raises(UnknownUser):
        console.set_password_hash("nobody", "h")
    with pytest.raises(UnknownUser):
        console.set_disabled("nobody", 1)
    with pytest.raises(UnknownUser):
        console.set_disabled("nobody", None)
    assert console.list_users() == []


def test_disabling_ends_that_accounts_sessions_only_and_enabling_restores_none(console: ConsoleStore) -> None:
    console.add_user("staff.one", "staff", "h", 1)
    console.add_user("staff.two", "staff", "h", 1)
    for token, owner in (("s1", "staff.one"), ("s2", "staff.one"), ("s3", "staff.two")):
        console.create_session(_session(token, owner))
    console.set_disabled("staff.one", 9)
    user = console.get_user("staff.one")
    assert user is not None and not user.active and user.disabled_at_us == 9
    assert console.get_session("s1") is None and console.get_session("s2") is None
    assert console.get_session("s3") == _session("s3", "staff.two")
    console.set_disabled("staff.one", None)
    user = console.get_user("staff.one")
    assert user is not None and user.active and console.get_session("s1") is None


# -- sessions --------------------------------------------------------------------------


def test_sessions_round_trip_touch_flash_and_end(console: ConsoleStore) -> None:
    console.add_user("ig.officer", "ig_officer", "h", 1)
    session = _session("a" * 64, "ig.officer", 10, 10)
    console.create_session(session)
    assert console.get_session("a" * 64) == session
    console.touch_session("a" * 64, 20)
    flash = '{"level": "ok", "text": "Saved – “quoted” ✓"}'
    console.set_flash("a" * 64, flash)
    assert console.get_session("a" * 64) == _session("a" * 64, "ig.officer", 10, 20, flash)
    console.set_flash("a" * 64, None)
    assert console.get_session("a" * 64) == _session("a" * 64, "ig.officer", 10, 20)
    console.delete_session("a" * 64)
    assert console.get_session("a" * 64) is None
    console.delete_session("a" * 64)  # ending it twice is harmless
    console.touch_session("missing", 30)  # and so is touching or flashing a session that is gone
    console.set_flash("missing", "x")
    assert console.get_session("missing") is None


def test_a_session_needs_an_account_and_a_token_hash_of_its_own(console: ConsoleStore) -> None:
    with pytest.raises(ConsoleStoreError) as refused:
        console.create_session(_session("t1", "child.of.a.family"))
    assert "child.of.a.family" not in str(refused.value)  # a refusal names nobody (errors reach logs)
    console.add_user("ig.officer", "ig_officer", "h", 1)
    console.create_session(_session("t1", "ig.officer", 1, 1))
    with pytest.raises(ConsoleStoreError):
        console.create_session(_session("t1", "ig.officer", 2, 2))
    assert console.get_session("t1") == _session("t1", "ig.officer", 1, 1)


def test_expiry_ends_sessions_too_old_or_idle_and_counts_them(console: ConsoleStore) -> None:
    console.add_user("ig.officer", "ig_officer", "h", 1)
    sessions = {
        "old": (100, 990),  # created before the absolute bound
        "idle": (500, 200),  # idle since before the idle bound
        "edge": (300, 800),  # exactly at both bounds: kept (strictly before ends)
        "live": (900, 999),
    }
    for token, (created, seen) in sessions.items():
        console.create_session(_session(token, "ig.officer", created, seen))
    console.touch_session("idle", 950)  # kept alive at the last moment
    assert console.delete_sessions_before(300, 800) == 1
    assert [t for t in sessions if console.get_session(t) is not None] == ["idle", "edge", "live"]
    assert console.delete_sessions_before(300, 800) == 0
    assert console.delete_sessions_before(2**62, 0) == 3


# -- devices and their owners ----------------------------------------------------------


def test_owners_need_a_real_account_and_an_enrolled_device(backend: ConsoleBackend, console: ConsoleStore) -> None:
    backend.device("laptop-1")
    console.add_user("staff.one", "staff", "h", 1)
    with pytest.raises(UnknownUser):
        console.assign_owner("laptop-1", "nobody", 1)
    with pytest.raises(ConsoleStoreError):
        console.assign_owner("no-such-laptop", "staff.one", 1)
    assert console.owners() == {} and console.devices_of("staff.one") == []


def test_owners_are_linked_once_listed_in_order_and_unlinked(backend: ConsoleBackend, console: ConsoleStore) -> None:
    for d in ("laptop-b", "laptop-a", "laptop_a", "laptop.a"):
        backend.device(d)
    for u in ("staff.two", "staff.one"):
        console.add_user(u, "staff", "h", 1)
    for device, user in (("laptop-b", "staff.two"), ("laptop-b", "staff.one"), ("laptop_a", "staff.one"),
                         ("laptop-a", "staff.one"), ("laptop.a", "staff.one")):  # fmt: skip
        console.assign_owner(device, user, 1)
    console.assign_owner("laptop-b", "staff.one", 2)  # idempotent
    assert console.devices_of("staff.one") == sorted(["laptop-b", "laptop_a", "laptop-a", "laptop.a"])
    assert console.devices_of("nobody") == []
    assert console.owners() == {
        "laptop-a": ["staff.one"],
        "laptop-b": ["staff.one", "staff.two"],
        "laptop.a": ["staff.one"],
        "laptop_a": ["staff.one"],
    }
    assert list(console.owners()) == sorted(console.owners())
    assert console.remove_owner("laptop-b", "staff.one")
    assert not console.remove_owner("laptop-b", "staff.one")
    assert not console.remove_owner("laptop-b", "nobody")
    assert console.owners()["laptop-b"] == ["staff.two"]


def test_posture_as_it_stood_at_a_moment(backend: ConsoleBackend, console: ConsoleStore) -> None:
    laptop, other = backend.device("laptop-1"), backend.device("laptop-2")
    backend.emit(laptop, "encryption_posture", NOT_ENCRYPTED)
    backend.emit(laptop, "lock_posture", LOCKED)
    then = to_us(backend.clock.now)
    backend.clock.advance(hours=1)
    backend.emit(laptop, "encryption_posture", ENCRYPTED)
    backend.emit(other, "encryption_posture", ENCRYPTED)
    at_then = console.posture_events_at(laptop, POSTURE_KINDS, then)
    assert sorted(at_then) == ["encryption_posture", "lock_posture"]
    assert all(e.device == laptop and e.received_at_us <= then for e in at_then.values())
    posture = device_posture(at_then)
    assert posture is not None and posture.encryption is EncryptionState.NOT_ENCRYPTED
    now = console.posture_events_at(laptop, POSTURE_KINDS, to_us(backend.clock.now))
    assert now["encryption_posture"].body == body("encryption_posture", ENCRYPTED)
    assert now["lock_posture"] == at_then["lock_posture"]
    assert console.posture_events_at(laptop, ["lock_posture"], then).keys() == {"lock_posture"}
    assert console.posture_events_at(laptop, POSTURE_KINDS, then - 1) == {}
    assert console.posture_events_at(laptop, [], then) == {}
    assert console.posture_events_at("laptop-9", POSTURE_KINDS, then) == {}
    with pytest.raises(ConsoleStoreError):
        console.posture_events_at(laptop, ["x'; DROP TABLE events; --"], then)


# -- incidents -------------------------------------------------------------------------


def test_assignments_replace_each_other_and_need_a_real_account_and_incident(
    backend: ConsoleBackend, console: ConsoleStore
) -> None:
    iid = backend.incident(backend.device("laptop-1"))
    for u in ("ig.one", "ig.two"):
        console.add_user(u, "ig_officer", "h", 1)
    with pytest.raises(UnknownUser):
        console.assign_incident(iid, "nobody", "ig.one", 5)
    with pytest.raises(ConsoleStoreError):
        console.assign_incident("INC-1999-0001", "ig.one", "ig.one", 5)
    console.assign_incident(iid, "ig.one", "ig.one", 5)
    assert console.assignments() == {iid: Assignment(iid, "ig.one", 5, "ig.one")}
    console.assign_incident(iid, "ig.two", "ig.one", 6)
    assert console.assignments() == {iid: Assignment(iid, "ig.two", 6, "ig.one")}
    assert console.unassign_incident(iid) and not console.unassign_incident(iid)
    assert console.assignments() == {}


def test_notes_are_kept_per_incident_oldest_first(backend: ConsoleBackend, console: ConsoleStore) -> None:
    first = backend.incident(backend.device("laptop-1"))
    second = backend.incident(backend.device("laptop-2"))
    texts = ["rang the worker", "stick recovered – “it's” fine\nsecond line", "ok"]
    for n, text in enumerate(texts):
        console.add_note(IncidentNote(first, 100 - n, "ig.one", text))  # stamped out of order: kept in order added
    console.add_note(IncidentNote(second, 1, "ig.two", "other"))
    assert console.notes(first) == [IncidentNote(first, 100 - n, "ig.one", t) for n, t in enumerate(texts)]
    assert console.notes(second) == [IncidentNote(second, 1, "ig.two", "other")]
    assert console.notes("INC-1999-0001") == []
    with pytest.raises(ConsoleStoreError):
        console.add_note(IncidentNote("INC-1999-0001", 1, "ig.one", "no such incident"))


# -- several collectors ----------------------------------------------------------------


def test_collectors_see_each_others_accounts_and_sessions(backend: ConsoleBackend) -> None:
    here, there = backend.console, backend.open_console()
    here.add_user("ig.officer", "ig_officer", "h", 1)
    assert there.get_user("ig.officer") == here.get_user("ig.officer")
    there.create_session(_session("t1", "ig.officer"))
    assert here.get_session("t1") == _session("t1", "ig.officer")
    here.set_disabled("ig.officer", 5)  # signed out everywhere, whichever collector served the session
    assert there.get_session("t1") is None


def _race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` for each i on its own thread, all released at once; outcomes or exceptions, in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_one_account_added_by_collectors_at_once_exists_once(backend: ConsoleBackend) -> None:
    stores = [backend.console, backend.open_console()]
    for attempt in range(3):
        name = f"ig.{attempt}"

        def add(i: int, name: str = name) -> None:
            stores[i % 2].add_user(name, "ig_officer", f"h{i}", i)

        results = _race(8, add)
        assert sum(r is None for r in results) == 1, results
        assert all(isinstance(r, UserExists) for r in results if r is not None), results
        user = backend.console.get_user(name)
        assert user is not None and user.password_hash == f"h{results.index(None)}"


def test_owners_linked_by_collectors_at_once_are_linked_once(backend: ConsoleBackend) -> None:
    backend.device("laptop-1")
    stores = [backend.console, backend.open_console()]
    stores[0].add_user("staff.one", "staff", "h", 1)
    assert _race(6, lambda i: stores[i % 2].assign_owner("laptop-1", "staff.one", i)) == [None] * 6
    assert stores[1].owners() == {"laptop-1": ["staff.one"]}


def test_collectors_expiring_at_once_end_each_expired_session_once(backend: ConsoleBackend) -> None:
    stores = [backend.console, backend.open_console(), backend.open_console()]
    stores[0].add_user("ig.officer", "ig_officer", "h", 1)
    for n in range(30):
        stores[0].create_session(_session(f"old-{n}", "ig.officer", 1, 1))
        stores[0].create_session(_session(f"live-{n}", "ig.officer", 1_000, 1_000))
    counts = _race(3, lambda i: stores[i].delete_sessions_before(500, 500))
    assert sum(counts) == 30, counts
    assert all(stores[2].get_session(f"live-{n}") is not None for n in range(30))
    assert all(stores[1].get_session(f"old-{n}") is None for n in range(30))


def test_disabling_waits_for_a_session_being_created_and_ends_it(backend: ConsoleBackend) -> None:
    """A sign-in on another collector, mid-commit while the account is disabled, is signed out too."""
    console = backend.console
    console.add_user("staff.one", "staff", "h", 1)
    holder = backend.begin()
    try:
        holder.execute(
            "INSERT INTO console_sessions(token_hash, user_name, csrf_token, created_at, last_seen_at)"
            " VALUES ('in-flight', 'staff.one', 'csrf', 1, 1)"
        )
        disabling = threading.Thread(target=console.set_disabled, args=("staff.one", 9))
        disabling.start()
        time.sleep(0.5)
        assert disabling.is_alive(), "disabling must wait for the session insert in flight"
        holder.commit()
        disabling.join(30)
        assert not disabling.is_alive()
    finally:
        holder.close()
    assert console.get_session("in-flight") is None
    user = console.get_user("staff.one")
    assert user is not None and not user.active


# -- PostgreSQL only -------------------------------------------------------------------


@pytest.fixture
def database_url(postgres_server_url: str) -> Iterator[str]:
    url = create_database(postgres_server_url)
    yield url
    drop_database(postgres_server_url, url)


def test_postgres_refuses_a_schema_that_was_not_migrated(database_url: str) -> None:
    with pytest.raises(SchemaOutOfDate):
        PostgresConsoleStore(database_url)


def test_a_postgres_database_of_the_previous_version_is_migrated_to_hold_the_console(database_url: str) -> None:
    with psycopg.connect(database_url) as db:  # as a collector before the console's migration left it
        db.execute("CREATE TABLE caseguard_schema (version INTEGER NOT NULL)")
        for sql in POSTGRES_V4[:3]:
            db.execute(sql)
        db.execute("INSERT INTO caseguard_schema(version) VALUES (3)")
    with pytest.raises(SchemaOutOfDate):
        open_console_store(Path("/nonexistent"), database_url)
    migrator = PostgresStore(database_url, require_current_schema=False)
    try:
        assert migrator.migrate() == (3, SCHEMA_VERSION)
    finally:
        migrator.close()
    store = open_console_store(Path("/nonexistent"), database_url)
    try:
        assert isinstance(store, PostgresConsoleStore)
        store.add_user("ig.officer", "ig_officer", "h", 1)
        assert [u.name for u in store.list_users()] == ["ig.officer"]
    finally:
        store.close()


def test_postgres_lists_names_in_code_point_order_whatever_the_databases_locale(postgres_server_url: str) -> None:
    """An English-locale database sorts 'a_b' before 'a-b' and ignores dots; the console must not."""
    name = f"caseguard_icu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en'")
    url = postgres_server_url.rsplit("/", 1)[0] + "/" + name
    migrator = PostgresStore(url, require_current_schema=False)
    store: PostgresConsoleStore | None = None
    try:
        migrator.migrate()
        names = ["a-b", "a.c", "a0", "a_b", "ab"]
        with psycopg.connect(url) as db:  # the trap: this database's own order
            assert [r[0] for r in db.execute("SELECT unnest(%s::text[]) n ORDER BY n", [names])] != names
        store = PostgresConsoleStore(url)
        for n in reversed(names):
            migrator.register_device(f"laptop-{n}", f"fp-{n}", 1)
            store.add_user(n, "staff", "h", 1)
            store.assign_owner(f"laptop-{n}", n, 1)
            store.assign_owner(f"laptop-{n}", "ab", 1)
        assert [u.name for u in store.list_users()] == names
        assert store.devices_of("ab") == [f"laptop-{n}" for n in names]
        assert list(store.owners()) == [f"laptop-{n}" for n in names]
        assert store.owners()["laptop-a-b"] == ["a-b", "ab"] and store.owners()["laptop-a_b"] == ["a_b", "ab"]
    finally:
        if store is not None:
            store.close()
        migrator.close()
        drop_database(postgres_server_url, url)


def test_only_a_postgresql_url_opens_a_database(tmp_path: Path) -> None:
    with pytest.raises(ConsoleStoreError, match="postgresql://"):
        open_console_store(tmp_path, "mysql://localhost/caseguard")


def test_postgres_lock_waits_are_bounded(database_url: str) -> None:
    """A collector stuck inside a transaction makes the others fail with ConsoleStoreError, not hang."""
    migrator = PostgresStore(database_url, require_current_schema=False)
    migrator.migrate()
    migrator.close()
    store = PostgresConsoleStore(database_url, lock_timeout_s=0.2)
    holder = psycopg.connect(database_url)
    try:
        store.add_user("ig.officer", "ig_officer", "h", 1)
        holder.execute("SELECT 1 FROM console_users WHERE name = 'ig.officer' FOR UPDATE")
        started = time.monotonic()
        with pytest.raises(ConsoleStoreError, match="lock timeout"):
            store.set_disabled("ig.officer", 5)
        with pytest.raises(ConsoleStoreError, match="lock timeout"):
            store.set_password_hash("ig.officer", "h2")
        assert time.monotonic() - started < 5
        holder.rollback()
        store.set_disabled("ig.officer", 5)  # free again: the store recovered
        user = store.get_user("ig.officer")
        assert user is not None and not user.active and user.password_hash == "h"
    finally:
        holder.close()
        store.close()


def test_parallel_attempts_from_two_collectors_are_counted_once_each_and_never_exceed_the_limit(
    backend: ConsoleBackend,
) -> None:
    from collector.domain.sign_in_throttle import ThrottlePolicy, account_hash, keys_for

    stores = [backend.console, backend.open_console()]
    policy = ThrottlePolicy()
    keys = keys_for("ig.officer", "192.0.2.1")
    verdicts = _race(40, lambda i: stores[i % 2].throttle_attempt(keys, 1_000_000, policy))
    assert sum(v.allowed for v in verdicts) == policy.account_address.free, verdicts
    # Another collector (or a restarted one) sees the same counts.
    assert not backend.open_console().throttle_attempt(keys, 2_000_000, policy).allowed
    assert stores[1].throttle_clear(account_hash("IG.Officer")) == 2  # the pair and the account
    assert stores[0].throttle_attempt(keys, 2_000_000, policy).allowed
