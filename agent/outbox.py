"""The durable outbox: every event is committed here (SQLite, WAL, synchronous=FULL) before
anything else happens to it, and deleted only once the collector acknowledges it.

The outbox is bounded. When it is full, the least valuable events go first: heartbeats,
then posture reports superseded by a newer one of the same kind, then (only to make room
for a critical event) routine events. Critical events are never dropped; if nothing can be
shed they are stored over the bound. What was shed is remembered by sequence number and
reported in an ``events_shed`` event so the collector can tell "shed" from "lost".

The outbox never imports protobuf: an ``encode`` callable (the transport codec) turns each
event into its wire bytes inside the committing transaction, once its seq is known.

Damage is survived, never a crash loop: at open the file is checked (``PRAGMA quick_check``). A
damaged outbox is moved aside (``<name>.damaged-<time>``, kept for forensics, never deleted) and a
fresh one starts a new **outbox epoch** (a random id carried in every envelope; seq restarts at
1). A fresh outbox where one existed before (it was deleted: the ``<name>.epoch`` file beside it
remembers) is a new epoch too. Either way the first event of the new epoch is a
``coverage_degraded`` (reason ``outbox-reset``) saying how many undelivered events may be lost.
A row that cannot be read while sending is dead-lettered on its own; the rest still go.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.events import POSTURE_KINDS, DeliveryClass, delivery_class
from agent.ids import uuid7

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    class INTEGER NOT NULL,
    created_at REAL NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_class ON outbox(class, kind, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shed_pending (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shed_total (kind TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letter (
    event_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL,
    payload BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class PendingEvent:
    """An event being committed: what the encoder sees."""

    event_id: str
    seq: int
    occurred_at: float  # Unix seconds
    kind: str
    body: Mapping[str, Any]
    epoch: str = ""  # the outbox epoch that numbered it


@dataclass(frozen=True)
class StoredEvent:
    """An undelivered event as read back for sending."""

    event_id: str
    seq: int
    kind: str
    payload: bytes


@dataclass(frozen=True)
class OutboxStatus:
    """What `caseguard-agent status` shows."""

    depth: int
    oldest_created_at: float | None
    last_delivery_at: float | None
    next_seq: int
    shed_totals: Mapping[str, int]
    shed_pending: int
    dead_letters: int
    last_error: str | None
    epoch: str = ""


class OutboxError(Exception):
    """The outbox cannot be used at all (its folder is unwritable, or even a fresh one fails)."""


REASON_OUTBOX_RESET = "outbox-reset"


Encoder = Callable[[PendingEvent], bytes]


class Outbox:
    """A durable, bounded, multi-thread (and multi-process) safe event queue."""

    def __init__(
        self,
        path: Path,
        encode: Encoder,
        max_events: int = 200_000,
        clock: Callable[[], float] = time.time,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._path = path
        self._encode = encode
        self._max = max_events
        self._clock = clock
        self._on_commit = on_commit
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            reset = self._check_or_move_aside(path)
            self._db = self._connect(path)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot use the outbox at {path}: {_why(exc)}") from exc
        try:
            self._open(reset)
        except sqlite3.DatabaseError as exc:
            # Damage quick_check did not see (or a file that changed under us): once more, fresh.
            self._db.close()
            try:
                reset = _Reset("damaged", self._move_aside(path, None))
                self._db = self._connect(path)
                self._open(reset)
            except (OSError, sqlite3.Error) as again:
                raise OutboxError(f"cannot use the outbox at {path}: {_why(again)}") from exc

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so seq allocation is serialised
        # across processes (the agent and `caseguard-agent emit` may share one outbox).
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def _open(self, reset: _Reset | None) -> None:
        with self._lock:
            self._db.executescript(_SCHEMA)
            # The depth counter is derived state: recount once at open so it can never drift.
            with self._transaction():
                self._set_meta("depth", self._count())
                epoch = self._meta("epoch")
                if epoch is None:
                    epoch = str(uuid7())
                    self._set_meta("epoch", epoch)
                    if reset is None and self._meta_int("next_seq", 1) == 1 and self._epoch_file().exists():
                        reset = _Reset("deleted", None)
            self._epoch = str(epoch)
            self._write_epoch_file()
        if reset is not None:
            log.error(
                "outbox %s: started a fresh one (epoch %s); %s undelivered events may be lost",
                reset.why, self._epoch, "an unknown number of" if reset.lost is None else reset.lost,
            )
            body: dict[str, Any] = {
                "component": "outbox", "reason": REASON_OUTBOX_RESET, "scope": reset.why, "recovered": False,
            }
            if reset.lost:
                body["count"] = reset.lost
            self.append("coverage_degraded", body)

    def _check_or_move_aside(self, path: Path) -> _Reset | None:
        """None if the outbox is absent or sound; else move it aside and say what happened."""
        if not path.exists():
            return None
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
            try:
                rows = db.execute("PRAGMA quick_check").fetchall()
            finally:
                db.close()
        except sqlite3.DatabaseError:
            rows = [("unreadable",)]
        if rows == [("ok",)]:
            return None
        return _Reset("damaged", self._move_aside(path, _salvage_count(path)))

    def _move_aside(self, path: Path, lost: int | None) -> int | None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self._clock()))
        target = path.with_name(f"{path.name}.damaged-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{path}{suffix}")
            if src.exists():
                os.replace(src, f"{target}{suffix}")
        log.error("outbox damaged: moved aside to %s (kept, not deleted)", target.name)
        return lost

    def _epoch_file(self) -> Path:
        return self._path.with_name(self._path.name + ".epoch")

    def _write_epoch_file(self) -> None:
        marker = self._epoch_file()
        with contextlib.suppress(OSError):
            if not marker.exists() or marker.read_text().strip() != self._epoch:
                tmp = marker.with_name(marker.name + ".tmp")
                tmp.write_text(self._epoch + "\n")
                os.replace(tmp, marker)

    @property
    def epoch(self) -> str:
        """This outbox's epoch (stamped on every event it numbers)."""
        return self._epoch

    def set_on_commit(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` after each commit of new events (used to wake the sender)."""
        self._on_commit = callback

    # -- producing ---------------------------------------------------------------------

    def append(self, kind: str, body: Mapping[str, Any], occurred_at: float | None = None) -> str | None:
        """Commit one event; returns its event_id, or None if it was shed on arrival."""
        ids = self.append_many([(kind, body)], occurred_at=occurred_at)
        return ids[0]

    def append_many(
        self, items: Sequence[tuple[str, Mapping[str, Any]]], occurred_at: float | None = None
    ) -> list[str | None]:
        """Commit several events in one transaction, in order.

        Bodies are encoded before commit; an encoding error aborts the whole call and
        nothing is stored (a programming error in a producer must be loud).
        """
        for kind, _ in items:
            delivery_class(kind)  # raises UnknownEventKind before touching the database
        results: list[str | None] = []
        with self._lock, self._transaction():
            next_seq = self._meta_int("next_seq", 1)
            depth = self._meta_int("depth", 0)
            for kind, body in items:
                cls = delivery_class(kind)
                now = self._clock() if occurred_at is None else occurred_at
                if depth >= self._max:
                    if self._make_room(kind, cls):
                        depth -= 1
                    elif cls is not DeliveryClass.CRITICAL:
                        # Nothing cheaper to shed: the new event is the one that goes.
                        self._db.execute("INSERT INTO shed_pending(seq, kind) VALUES (?, ?)", (next_seq, kind))
                        next_seq += 1
                        results.append(None)
                        continue
                    # else: a critical event with nothing to shed is stored over the bound.
                event = PendingEvent(str(uuid7()), next_seq, now, kind, body, self._epoch)
                payload = self._encode(event)
                self._db.execute(
                    "INSERT INTO outbox(event_id, seq, kind, class, created_at, payload) VALUES (?,?,?,?,?,?)",
                    (event.event_id, event.seq, kind, int(cls), now, payload),
                )
                depth += 1
                next_seq += 1
                results.append(event.event_id)
            self._set_meta("next_seq", next_seq)
            self._set_meta("depth", depth)
        if self._on_commit is not None:
            self._on_commit()
        return results

    def _make_room(self, kind: str, cls: DeliveryClass) -> bool:
        """Shed one event no more valuable than the incoming one; False if none can go."""
        victim = self._db.execute(
            "SELECT id, seq, kind FROM outbox WHERE kind = 'heartbeat' ORDER BY id LIMIT 1"
        ).fetchone()
        if victim is None:
            # A posture report superseded by a newer one of the same kind (queued, or arriving now).
            for posture_kind in sorted(POSTURE_KINDS):
                rows = self._db.execute(
                    "SELECT id, seq, kind FROM outbox WHERE kind = ? ORDER BY id LIMIT 2", (posture_kind,)
                ).fetchall()
                if len(rows) == 2 or (rows and kind == posture_kind):
                    victim = rows[0]
                    break
        if victim is None and cls is DeliveryClass.CRITICAL:
            victim = self._db.execute(
                "SELECT id, seq, kind FROM outbox WHERE class < ? ORDER BY class, id LIMIT 1",
                (int(DeliveryClass.CRITICAL),),
            ).fetchone()
        if victim is None or delivery_class(victim[2]) > cls:
            return False
        self._db.execute("DELETE FROM outbox WHERE id = ?", (victim[0],))
        self._db.execute("INSERT INTO shed_pending(seq, kind) VALUES (?, ?)", (victim[1], victim[2]))
        log.warning("outbox full (%d events): shed one %s event", self._max, victim[2])
        return True

    def take_shed_report(self) -> str | None:
        """If events were shed since the last report, commit an ``events_shed`` event for them.

        Returns the report's event_id, or None when there was nothing to report.
        """
        with self._lock, self._transaction():
            rows = self._db.execute("SELECT seq, kind FROM shed_pending ORDER BY seq").fetchall()
            if not rows:
                return None
            counts: dict[str, int] = {}
            for _, kind in rows:
                counts[kind] = counts.get(kind, 0) + 1
            ranges = _ranges(seq for seq, _ in rows)
            body = {
                "counts_by_kind": counts,
                "seq_ranges": [{"first": a, "last": b} for a, b in ranges],
                "total": len(rows),
            }
            next_seq = self._meta_int("next_seq", 1)
            now = self._clock()
            event = PendingEvent(str(uuid7()), next_seq, now, "events_shed", body, self._epoch)
            self._db.execute(
                "INSERT INTO outbox(event_id, seq, kind, class, created_at, payload) VALUES (?,?,?,?,?,?)",
                (event.event_id, next_seq, "events_shed", int(DeliveryClass.CRITICAL), now, self._encode(event)),
            )
            self._db.execute("DELETE FROM shed_pending")
            for kind, n in counts.items():
                self._db.execute(
                    "INSERT INTO shed_total(kind, count) VALUES (?, ?) "
                    "ON CONFLICT(kind) DO UPDATE SET count = count + excluded.count",
                    (kind, n),
                )
            self._set_meta("next_seq", next_seq + 1)
            self._set_meta("depth", self._meta_int("depth", 0) + 1)
        log.warning("reported %d shed events to the collector", len(rows))
        return event.event_id

    # -- delivering --------------------------------------------------------------------

    def peek(self, limit: int) -> list[StoredEvent]:
        """The oldest ``limit`` undelivered events, in commit order.

        A row that cannot be read (a damaged page) is dead-lettered on its own, so one bad page
        never stops delivery of the others.
        """
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT event_id, seq, kind, payload FROM outbox ORDER BY id LIMIT ?", (limit,)
                ).fetchall()
            except sqlite3.DatabaseError:
                rows = self._peek_row_by_row(limit)
        return [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def _peek_row_by_row(self, limit: int) -> list[tuple[Any, ...]]:
        """Read rows one at a time by id (caller holds the lock); drop the unreadable ones."""
        log.error("outbox: damaged rows found while reading; reading one at a time")
        rows: list[tuple[Any, ...]] = []
        try:
            ids = [r[0] for r in self._db.execute("SELECT id FROM outbox INDEXED BY outbox_by_class").fetchall()]
        except sqlite3.DatabaseError:
            ids = []
        ids.sort()
        bad: list[int] = []
        for row_id in ids:
            if len(rows) >= limit:
                break
            try:
                row = self._db.execute(
                    "SELECT event_id, seq, kind, payload FROM outbox WHERE id = ?", (row_id,)
                ).fetchone()
            except sqlite3.DatabaseError:
                bad.append(row_id)
                continue
            if row is not None:
                rows.append(row)
        if bad:
            self._drop_unreadable(bad)
        return rows

    def _drop_unreadable(self, ids: Sequence[int]) -> None:
        """Record unreadable rows as dead letters (what is known of them) and delete them."""
        now = self._clock()
        dropped = 0
        for row_id in ids:
            try:
                with self._transaction():
                    self._db.execute(
                        "INSERT OR REPLACE INTO dead_letter(event_id, seq, kind, reason, at, payload) "
                        "VALUES (?, -1, '', 'unreadable row', ?, x'')",
                        (f"unreadable-row-{row_id}", now),
                    )
                    self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                    dropped += 1
            except sqlite3.DatabaseError:
                continue
        if dropped:
            with contextlib.suppress(sqlite3.DatabaseError), self._transaction():
                self._set_meta("depth", max(0, self._meta_int("depth", 0) - dropped))
        log.error("outbox: %d unreadable row(s) dead-lettered", dropped)

    def ack(self, event_ids: Iterable[str]) -> int:
        """Delete acknowledged events; returns how many were deleted."""
        ids = list(event_ids)
        if not ids:
            return 0
        with self._lock, self._transaction():
            before = self._db.total_changes
            for chunk in _chunks(ids, 500):
                self._db.execute(
                    f"DELETE FROM outbox WHERE event_id IN ({','.join('?' * len(chunk))})", chunk
                )
            deleted = self._db.total_changes - before
            self._set_meta("depth", self._meta_int("depth", 0) - deleted)
            self._set_meta("last_delivery_at", self._clock())
            self._set_meta("last_error", None)
        return deleted

    def dead_letter(self, rejections: Mapping[str, str]) -> None:
        """Move events the collector will never accept out of the queue, keeping them on disk."""
        if not rejections:
            return
        with self._lock, self._transaction():
            now = self._clock()
            before = self._db.total_changes
            for event_id, reason in rejections.items():
                self._db.execute(
                    "INSERT OR REPLACE INTO dead_letter(event_id, seq, kind, reason, at, payload) "
                    "SELECT event_id, seq, kind, ?, ?, payload FROM outbox WHERE event_id = ?",
                    (reason, now, event_id),
                )
            moved = self._db.total_changes - before
            self._db.execute(
                f"DELETE FROM outbox WHERE event_id IN ({','.join('?' * len(rejections))})", list(rejections)
            )
            self._set_meta("depth", self._meta_int("depth", 0) - moved)
        log.error("collector rejected %d event(s); kept in the dead-letter table", len(rejections))

    def note_error(self, message: str) -> None:
        """Remember the last delivery error for `status`."""
        with self._lock, self._transaction():
            self._set_meta("last_error", message)

    # -- inspecting --------------------------------------------------------------------

    def status(self) -> OutboxStatus:
        """Depth, age and delivery facts for IT."""
        with self._lock:
            depth = self._meta_int("depth", 0)
            oldest = self._db.execute("SELECT MIN(created_at) FROM outbox").fetchone()[0]
            totals = dict(self._db.execute("SELECT kind, count FROM shed_total").fetchall())
            pending = self._db.execute("SELECT COUNT(*) FROM shed_pending").fetchone()[0]
            dead = self._db.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0]
            last = self._meta("last_delivery_at")
            err = self._meta("last_error")
            next_seq = self._meta_int("next_seq", 1)
        return OutboxStatus(
            depth=depth,
            oldest_created_at=oldest,
            last_delivery_at=float(last) if last is not None else None,
            next_seq=next_seq,
            shed_totals=totals,
            shed_pending=pending,
            dead_letters=dead,
            last_error=str(err) if err is not None else None,
            epoch=self._epoch,
        )

    def depth(self) -> int:
        """How many events are waiting for delivery."""
        with self._lock:
            return self._meta_int("depth", 0)

    def close(self) -> None:
        """Close the database (the WAL is checkpointed by SQLite)."""
        with self._lock:
            self._db.close()

    # -- internals ---------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def _meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _meta_int(self, key: str, default: int) -> int:
        value = self._meta(key)
        return default if value is None else int(value)

    def _set_meta(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


@dataclass(frozen=True)
class _Reset:
    why: str  # "damaged" or "deleted"
    lost: int | None  # undelivered events in the old outbox, when that could be read


def _salvage_count(path: Path) -> int | None:
    """How many undelivered events a damaged outbox held, if it can still say."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'depth'").fetchone()
            return None if row is None else int(row[0])
        finally:
            db.close()
    except (sqlite3.Error, ValueError, TypeError):
        return None


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")


def _ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Collapse sorted sequence numbers into inclusive ranges."""
    out: list[tuple[int, int]] = []
    for s in seqs:
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
