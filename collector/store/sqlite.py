"""The default store: one SQLite file, WAL, synchronous=FULL (an acknowledged event survives power loss)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from collector.ingest.sequence import enter_epoch, reconcile
from collector.store.base import (
    Device,
    DeviceExists,
    IncomingEvent,
    IngestOutcome,
    SequenceGap,
    StoredEvent,
    StoreError,
    UnknownDevice,
)
from collector.store.connections import sqlite_connections
from collector.store.sqlite_schema import MIGRATIONS

_DEVICE_COLUMNS = "d.name, d.enrolled_at, d.revoked_at, d.last_seen_at, d.max_seq, d.lost_at"


class SQLiteStore:
    """Store implementation over sqlite3; one connection per thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._conns = sqlite_connections(path, cache_kib=65536)  # 64 MiB keeps the (device, event_id) index hot
        self._migrate()

    # -- connections -------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        return self._conns.get()

    def _migrate(self) -> None:
        db = self._db()
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(f"{self._path}: schema version {version} is newer than this collector understands")
        for number in range(version, len(MIGRATIONS)):
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                raise StoreError(f"migration {number + 1} failed: {exc}") from exc

    def close(self) -> None:
        """Close every connection this store opened."""
        self._conns.close_all()

    # -- events ------------------------------------------------------------------------

    def ingest(self, batches: Sequence[tuple[str, Sequence[IncomingEvent]]], received_at_us: int) -> IngestOutcome:
        """Store several devices' batches in one transaction, then fsync (synchronous=FULL)."""
        db = self._db()
        by_device: dict[str, list[IncomingEvent]] = {}
        for device, events in batches:
            by_device.setdefault(device, []).extend(events)
        stored = duplicates = gaps_detected = 0
        try:
            db.execute("BEGIN IMMEDIATE")
            for device, events in by_device.items():
                row = db.execute("SELECT max_seq, outbox_epoch FROM devices WHERE name = ?", (device,)).fetchone()
                if row is None:
                    raise StoreError(f"events for unregistered device {device!r}")
                new = self._new_events(db, device, events, row[0])
                duplicates += len(events) - len(new)
                if new:
                    # OR IGNORE: the fast path trusts seq; the unique index still guarantees idempotency.
                    db.executemany(
                        "INSERT OR IGNORE INTO events"
                        "(device, event_id, seq, kind, occurred_at, received_at, agent_version, body)"
                        " VALUES (?,?,?,?,?,?,?,?)",
                        [
                            (device, e.event_id, e.seq, e.kind, e.occurred_at_us, received_at_us,
                             e.agent_version, e.body)
                            for e in new
                        ],
                    )
                stored += len(new)
                max_seq = self._enter_epoch(db, device, new, row[0], row[1])
                gaps_detected += self._update_sequence(db, device, new, max_seq, received_at_us)
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"ingest failed: {exc}") from exc
            raise
        return IngestOutcome(stored, duplicates, gaps_detected)

    @staticmethod
    def _new_events(
        db: sqlite3.Connection, device: str, events: Sequence[IncomingEvent], max_seq: int
    ) -> list[IncomingEvent]:
        """Drop events already stored (redelivery) and repeats within this group.

        Events numbered above the device's highest stored seq cannot have been stored yet
        (agents number in order), so only the others are looked up: redelivery after a
        crash is exactly those.
        """
        ids = [e.event_id for e in events if e.seq <= max_seq]
        existing: set[str] = set()
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            existing.update(
                r[0]
                for r in db.execute(
                    f"SELECT event_id FROM events WHERE device = ? AND event_id IN ({','.join('?' * len(chunk))})",
                    [device, *chunk],
                )
            )
        new: list[IncomingEvent] = []
        for e in events:
            if e.event_id not in existing:
                existing.add(e.event_id)
                new.append(e)
        return new

    @staticmethod
    def _enter_epoch(
        db: sqlite3.Connection, device: str, new: Sequence[IncomingEvent], max_seq: int, current: str
    ) -> int:
        """Follow the device into a new outbox epoch (see collector.ingest.sequence.enter_epoch)."""
        epochs = [e.outbox_epoch for e in new if e.outbox_epoch and e.seq > 0]
        if not epochs or epochs[-1] == current:
            return max_seq
        incoming = epochs[-1]
        old = db.execute(
            "SELECT first_seq, last_seq FROM sequence_gaps WHERE device = ? AND explained IS NULL", (device,)
        ).fetchall()
        start = enter_epoch(current, max_seq, old, incoming, [e.seq for e in new if e.outbox_epoch == incoming])
        if start.reset:
            # The old epoch's open gaps are explained by the reset (reported with its count).
            db.execute(
                "UPDATE OR IGNORE sequence_gaps SET explained = 'outbox-reset' WHERE device = ? AND explained IS NULL",
                (device,),
            )
            db.execute("DELETE FROM sequence_gaps WHERE device = ? AND explained IS NULL", (device,))
        db.execute(
            "UPDATE devices SET outbox_epoch = ?, max_seq = ? WHERE name = ?", (start.epoch, start.max_seq, device)
        )
        return start.max_seq

    @staticmethod
    def _update_sequence(
        db: sqlite3.Connection, device: str, new: Sequence[IncomingEvent], max_seq: int, received_at_us: int
    ) -> int:
        arrived = [e.seq for e in new if e.seq > 0]  # seq 0: made by the collector, not the device
        shed = [r for e in new for r in e.shed_ranges]
        if not arrived and not shed:
            return 0
        needs_gaps = shed or any(s <= max_seq for s in arrived)
        old = (
            db.execute(
                "SELECT first_seq, last_seq, detected_at FROM sequence_gaps WHERE device = ? AND explained IS NULL",
                (device,),
            ).fetchall()
            if needs_gaps
            else []
        )
        result = reconcile(max_seq, [(a, b) for a, b, _ in old], arrived, shed)

        def first_detected(a: int, b: int) -> int:
            # A gap that shrank or split keeps the time its slots were first missed.
            return next((t for oa, ob, t in old if oa <= a and b <= ob), received_at_us)

        if needs_gaps:
            db.execute("DELETE FROM sequence_gaps WHERE device = ? AND explained IS NULL", (device,))
            db.executemany(
                "INSERT INTO sequence_gaps(device, first_seq, last_seq, detected_at, explained) VALUES (?,?,?,?,NULL)",
                [(device, a, b, first_detected(a, b)) for a, b in result.open_gaps],
            )
        else:
            db.executemany(
                "INSERT INTO sequence_gaps(device, first_seq, last_seq, detected_at, explained) VALUES (?,?,?,?,NULL)",
                [(device, a, b, received_at_us) for a, b in result.detected],
            )
        db.executemany(
            "INSERT OR IGNORE INTO sequence_gaps(device, first_seq, last_seq, detected_at, explained)"
            " VALUES (?,?,?,?,'shed')",
            [(device, a, b, received_at_us) for a, b in result.explained],
        )
        db.execute(
            "UPDATE devices SET max_seq = ?, last_seen_at = ? WHERE name = ?", (result.max_seq, received_at_us, device)
        )
        return len(result.detected)

    def list_events(self, device: str | None = None, limit: int | None = None) -> Iterator[StoredEvent]:
        """Events in storage order."""
        sql = "SELECT device, event_id, seq, kind, occurred_at, received_at, agent_version, body FROM events"
        params: list[object] = []
        if device is not None:
            sql += " WHERE device = ?"
            params.append(device)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        for r in self._db().execute(sql, params):
            yield StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7]))

    def count_events(self, device: str | None = None) -> int:
        """How many events are stored (for one device, or all)."""
        if device is None:
            return int(self._db().execute("SELECT COUNT(*) FROM events").fetchone()[0])
        return int(self._db().execute("SELECT COUNT(*) FROM events WHERE device = ?", (device,)).fetchone()[0])

    def sequence_gaps(self, device: str | None = None) -> list[SequenceGap]:
        """Recorded gaps (open ones have explained = None)."""
        sql = "SELECT device, first_seq, last_seq, detected_at, explained FROM sequence_gaps"
        params: tuple[str, ...] = ()
        if device is not None:
            sql += " WHERE device = ?"
            params = (device,)
        rows = self._db().execute(sql + " ORDER BY device, first_seq", params).fetchall()
        return [SequenceGap(*r) for r in rows]

    # -- devices -----------------------------------------------------------------------

    def register_device(self, name: str, cert_fingerprint: str, enrolled_at_us: int) -> None:
        """Enrol a new device with its first certificate."""
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM devices WHERE name = ?", (name,)).fetchone():
                db.execute("ROLLBACK")
                raise DeviceExists(f"device {name!r} is already enrolled")
            db.execute("INSERT INTO devices(name, enrolled_at) VALUES (?, ?)", (name, enrolled_at_us))
            db.execute(
                "INSERT INTO device_certificates(fingerprint, device, issued_at) VALUES (?,?,?)",
                (cert_fingerprint, name, enrolled_at_us),
            )
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"cannot register device: {exc}") from exc

    def add_certificate(self, name: str, cert_fingerprint: str, issued_at_us: int) -> None:
        """Attach a renewed certificate to a device."""
        if self.get_device(name) is None:
            raise UnknownDevice(f"no device named {name!r}")
        self._write(
            "INSERT INTO device_certificates(fingerprint, device, issued_at) VALUES (?,?,?)",
            (cert_fingerprint, name, issued_at_us),
        )

    def revoke_device(self, name: str, at_us: int) -> None:
        """Refuse this device from now on."""
        changed = self._write("UPDATE devices SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (at_us, name))
        if changed == 0 and self.get_device(name) is None:
            raise UnknownDevice(f"no device named {name!r}")

    def touch_device(self, name: str, at_us: int) -> None:
        """Record a sighting."""
        self._write("UPDATE devices SET last_seen_at = ? WHERE name = ?", (at_us, name))

    def mark_lost(self, name: str, at_us: int) -> None:
        """Record a lost/stolen report."""
        if self._write("UPDATE devices SET lost_at = COALESCE(lost_at, ?) WHERE name = ?", (at_us, name)) == 0:
            raise UnknownDevice(f"no device named {name!r}")

    def device_for_certificate(self, cert_fingerprint: str) -> Device | None:
        """The device a certificate was issued to."""
        row = (
            self._db()
            .execute(
                f"SELECT {_DEVICE_COLUMNS} FROM device_certificates c JOIN devices d ON d.name = c.device"
                " WHERE c.fingerprint = ?",
                (cert_fingerprint,),
            )
            .fetchone()
        )
        return None if row is None else Device(*row)

    def get_device(self, name: str) -> Device | None:
        """One device by name."""
        row = self._db().execute(f"SELECT {_DEVICE_COLUMNS} FROM devices d WHERE d.name = ?", (name,)).fetchone()
        return None if row is None else Device(*row)

    def list_devices(self) -> list[Device]:
        """All devices with their event and open-gap counts."""
        rows = self._db().execute(
            f"SELECT {_DEVICE_COLUMNS},"
            " (SELECT COUNT(*) FROM events e WHERE e.device = d.name),"
            " (SELECT COUNT(*) FROM sequence_gaps g WHERE g.device = d.name AND g.explained IS NULL)"
            " FROM devices d ORDER BY d.name"
        )
        return [Device(*r) for r in rows]

    def _write(self, sql: str, params: Sequence[object]) -> int:
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            changed = db.execute(sql, params).rowcount
            db.execute("COMMIT")
            return int(changed)
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(str(exc)) from exc
