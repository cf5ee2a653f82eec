"""The PostgreSQL store, for when one machine is not enough: several collectors share it.

Same contract as SQLite (tests/contract runs against both). Per-device rows are locked
(SELECT ... FOR UPDATE, in name order) for the length of an ingest transaction, so two
collectors receiving the same device's batches - an agent failing over mid-stream - keep
its sequence bookkeeping consistent. Commits are durable (synchronous_commit=on).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

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
from collector.store.connections import postgres_connections
from collector.store.postgres_schema import MIGRATIONS

_DEVICE_COLUMNS = "d.name, d.enrolled_at, d.revoked_at, d.last_seen_at, d.max_seq, d.lost_at"
_MIGRATION_LOCK = 0x63617365  # "case": one migrator at a time across collectors


class SchemaOutOfDate(StoreError):
    """The database needs `caseguard-collector migrate` (or is newer than this collector)."""


class PostgresStore:
    """Store implementation over psycopg 3; one connection per thread."""

    def __init__(self, url: str, *, require_current_schema: bool = True) -> None:
        self._url = url
        self._conns = postgres_connections(url)
        if require_current_schema:
            version = self.schema_version()
            if version != len(MIGRATIONS):
                raise SchemaOutOfDate(
                    f"database schema is version {version}, this collector needs {len(MIGRATIONS)}: "
                    "run `caseguard-collector migrate --database-url ...`"
                )

    # -- connections and migrations ----------------------------------------------------

    def _db(self) -> psycopg.Connection[Any]:
        return self._conns.get()

    def schema_version(self) -> int:
        """The applied migration count (0 for an empty database)."""
        db = self._db()
        try:
            with db.cursor() as cur:
                cur.execute("SELECT to_regclass('caseguard_schema')")
                row = cur.fetchone()
                if row is None or row[0] is None:
                    db.rollback()
                    return 0
                cur.execute("SELECT version FROM caseguard_schema")
                got = cur.fetchone()
            db.rollback()
            return int(got[0]) if got else 0
        except psycopg.Error as exc:
            db.rollback()
            raise StoreError(str(exc)) from exc

    def migrate(self) -> tuple[int, int]:
        """Apply pending migrations; returns (from, to) versions."""
        db = self._db()
        try:
            with db.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                cur.execute("CREATE TABLE IF NOT EXISTS caseguard_schema (version INTEGER NOT NULL)")
                cur.execute("SELECT version FROM caseguard_schema")
                row = cur.fetchone()
                start = int(row[0]) if row else 0
                if row is None:
                    cur.execute("INSERT INTO caseguard_schema(version) VALUES (0)")
                if start > len(MIGRATIONS):
                    raise SchemaOutOfDate(f"database schema {start} is newer than this collector understands")
                for number in range(start, len(MIGRATIONS)):
                    cur.execute(MIGRATIONS[number])
                    cur.execute("UPDATE caseguard_schema SET version = %s", (number + 1,))
            db.commit()
            return start, len(MIGRATIONS)
        except psycopg.Error as exc:
            db.rollback()
            raise StoreError(f"migration failed: {exc}") from exc

    def close(self) -> None:
        """Close every connection this store opened."""
        self._conns.close_all()

    # -- events ------------------------------------------------------------------------

    def ingest(self, batches: Sequence[tuple[str, Sequence[IncomingEvent]]], received_at_us: int) -> IngestOutcome:
        """Store several devices' batches in one durable transaction; idempotent on (device, event_id)."""
        by_device: dict[str, list[IncomingEvent]] = {}
        for device, events in batches:
            by_device.setdefault(device, []).extend(events)
        stored = duplicates = gaps_detected = 0
        db = self._db()
        try:
            with db.cursor() as cur:
                names = sorted(by_device)
                cur.execute(
                    "SELECT name, max_seq, outbox_epoch FROM devices WHERE name = ANY(%s) ORDER BY name FOR UPDATE",
                    (names,),
                )
                rows = cur.fetchall()
                max_seqs = {r[0]: r[1] for r in rows}
                epochs = {r[0]: r[2] for r in rows}
                missing = set(names) - set(max_seqs)
                if missing:
                    raise StoreError(f"events for unregistered device {sorted(missing)[0]!r}")
                for device in names:
                    events = by_device[device]
                    # One statement per device batch: arrays in, the ids that were new out.
                    cur.execute(
                        "INSERT INTO events(device, event_id, seq, kind, occurred_at, received_at, agent_version, body)"
                        " SELECT %s, * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bigint[], %s::bigint[],"
                        " %s::text[], %s::bytea[])"
                        " ON CONFLICT (device, event_id) DO NOTHING RETURNING event_id",
                        (
                            device,
                            [e.event_id for e in events],
                            [e.seq for e in events],
                            [e.kind for e in events],
                            [e.occurred_at_us for e in events],
                            [received_at_us] * len(events),
                            [e.agent_version for e in events],
                            [e.body for e in events],
                        ),
                    )
                    new_ids = {row[0] for row in cur.fetchall()}
                    new = []
                    for e in events:  # a repeat inside one group is new once
                        if e.event_id in new_ids:
                            new_ids.discard(e.event_id)
                            new.append(e)
                    stored += len(new)
                    duplicates += len(events) - len(new)
                    max_seq = self._enter_epoch(cur, device, new, max_seqs[device], epochs[device])
                    gaps_detected += self._update_sequence(cur, device, new, max_seq, received_at_us)
            db.commit()
        except psycopg.Error as exc:
            db.rollback()
            raise StoreError(f"ingest failed: {exc}") from exc
        except BaseException:
            db.rollback()
            raise
        return IngestOutcome(stored, duplicates, gaps_detected)

    @staticmethod
    def _enter_epoch(
        cur: psycopg.Cursor[Any], device: str, new: Sequence[IncomingEvent], max_seq: int, current: str
    ) -> int:
        """Follow the device into a new outbox epoch (see collector.ingest.sequence.enter_epoch)."""
        epochs = [e.outbox_epoch for e in new if e.outbox_epoch and e.seq > 0]
        if not epochs or epochs[-1] == current:
            return max_seq
        incoming = epochs[-1]
        cur.execute(
            "SELECT first_seq, last_seq FROM sequence_gaps WHERE device = %s AND explained IS NULL", (device,)
        )
        old = [(int(a), int(b)) for a, b in cur.fetchall()]
        start = enter_epoch(current, max_seq, old, incoming, [e.seq for e in new if e.outbox_epoch == incoming])
        if start.reset:
            # The old epoch's open gaps are explained by the reset (reported with its count).
            cur.execute(
                "INSERT INTO sequence_gaps(device, first_seq, last_seq, detected_at, explained)"
                " SELECT device, first_seq, last_seq, detected_at, 'outbox-reset' FROM sequence_gaps"
                " WHERE device = %s AND explained IS NULL ON CONFLICT DO NOTHING",
                (device,),
            )
            cur.execute("DELETE FROM sequence_gaps WHERE device = %s AND explained IS NULL", (device,))
        cur.execute(
            "UPDATE devices SET outbox_epoch = %s, max_seq = %s WHERE name = %s", (start.epoch, start.max_seq, device)
        )
        return start.max_seq

    @staticmethod
    def _update_sequence(
        cur: psycopg.Cursor[Any], device: str, new: Sequence[IncomingEvent], max_seq: int, received_at_us: int
    ) -> int:
        arrived = [e.seq for e in new if e.seq > 0]  # seq 0: made by the collector, not the device
        shed = [r for e in new for r in e.shed_ranges]
        if not arrived and not shed:
            return 0
        cur.execute(
            "SELECT first_seq, last_seq, detected_at FROM sequence_gaps WHERE device = %s AND explained IS NULL",
            (device,),
        )
        old = cur.fetchall()
        result = reconcile(max_seq, [(a, b) for a, b, _ in old], arrived, shed)

        def first_detected(a: int, b: int) -> int:
            return next((t for oa, ob, t in old if oa <= a and b <= ob), received_at_us)

        if set(result.open_gaps) != {(a, b) for a, b, _ in old}:
            cur.execute("DELETE FROM sequence_gaps WHERE device = %s AND explained IS NULL", (device,))
            cur.executemany(
                "INSERT INTO sequence_gaps(device, first_seq, last_seq, detected_at, explained)"
                " VALUES (%s,%s,%s,%s,NULL)",
                [(device, a, b, first_detected(a, b)) for a, b in result.open_gaps],
            )
        if result.explained:
            cur.executemany(
                "INSERT INTO sequence_gaps(device, first_seq, last_seq, detected_at, explained)"
                " VALUES (%s,%s,%s,%s,'shed') ON CONFLICT DO NOTHING",
                [(device, a, b, received_at_us) for a, b in result.explained],
            )
        cur.execute(
            "UPDATE devices SET max_seq = %s, last_seen_at = %s WHERE name = %s",
            (result.max_seq, received_at_us, device),
        )
        return len(result.detected)

    def list_events(self, device: str | None = None, limit: int | None = None) -> Iterator[StoredEvent]:
        """Events in storage order."""
        sql = "SELECT device, event_id, seq, kind, occurred_at, received_at, agent_version, body FROM events"
        params: list[Any] = []
        if device is not None:
            sql += " WHERE device = %s"
            params.append(device)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        rows = self._read(sql, params)
        for r in rows:
            yield StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7]))

    def count_events(self, device: str | None = None) -> int:
        """How many events are stored."""
        if device is None:
            return int(self._read("SELECT COUNT(*) FROM events", [])[0][0])
        return int(self._read("SELECT COUNT(*) FROM events WHERE device = %s", [device])[0][0])

    def sequence_gaps(self, device: str | None = None) -> list[SequenceGap]:
        """Recorded gaps (open ones have explained = None)."""
        sql = "SELECT device, first_seq, last_seq, detected_at, explained FROM sequence_gaps"
        params: list[Any] = []
        if device is not None:
            sql += " WHERE device = %s"
            params.append(device)
        return [SequenceGap(*r) for r in self._read(sql + " ORDER BY device, first_seq, explained NULLS FIRST", params)]

    # -- devices -----------------------------------------------------------------------

    def register_device(self, name: str, cert_fingerprint: str, enrolled_at_us: int) -> None:
        """Enrol a new device with its first certificate."""
        db = self._db()
        try:
            with db.cursor() as cur:
                cur.execute(
                    "INSERT INTO devices(name, enrolled_at) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING name",
                    (name, enrolled_at_us),
                )
                if cur.fetchone() is None:
                    db.rollback()
                    raise DeviceExists(f"device {name!r} is already enrolled")
                cur.execute(
                    "INSERT INTO device_certificates(fingerprint, device, issued_at) VALUES (%s,%s,%s)",
                    (cert_fingerprint, name, enrolled_at_us),
                )
            db.commit()
        except psycopg.Error as exc:
            db.rollback()
            raise StoreError(f"cannot register device: {exc}") from exc

    def add_certificate(self, name: str, cert_fingerprint: str, issued_at_us: int) -> None:
        """Attach a renewed certificate to a device."""
        if self.get_device(name) is None:
            raise UnknownDevice(f"no device named {name!r}")
        self._write(
            "INSERT INTO device_certificates(fingerprint, device, issued_at) VALUES (%s,%s,%s)",
            (cert_fingerprint, name, issued_at_us),
        )

    def revoke_device(self, name: str, at_us: int) -> None:
        """Refuse this device from now on."""
        changed = self._write(
            "UPDATE devices SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL", (at_us, name)
        )
        if changed == 0 and self.get_device(name) is None:
            raise UnknownDevice(f"no device named {name!r}")

    def touch_device(self, name: str, at_us: int) -> None:
        """Record a sighting."""
        self._write("UPDATE devices SET last_seen_at = %s WHERE name = %s", (at_us, name))

    def mark_lost(self, name: str, at_us: int) -> None:
        """Record a lost/stolen report."""
        if self._write("UPDATE devices SET lost_at = COALESCE(lost_at, %s) WHERE name = %s", (at_us, name)) == 0:
            raise UnknownDevice(f"no device named {name!r}")

    def device_for_certificate(self, cert_fingerprint: str) -> Device | None:
        """The device a certificate was issued to."""
        rows = self._read(
            f"SELECT {_DEVICE_COLUMNS} FROM device_certificates c JOIN devices d ON d.name = c.device"
            " WHERE c.fingerprint = %s",
            [cert_fingerprint],
        )
        return Device(*rows[0]) if rows else None

    def get_device(self, name: str) -> Device | None:
        """One device by name."""
        rows = self._read(f"SELECT {_DEVICE_COLUMNS} FROM devices d WHERE d.name = %s", [name])
        return Device(*rows[0]) if rows else None

    def list_devices(self) -> list[Device]:
        """All devices with their event and open-gap counts."""
        rows = self._read(
            f"SELECT {_DEVICE_COLUMNS},"
            " (SELECT COUNT(*) FROM events e WHERE e.device = d.name),"
            " (SELECT COUNT(*) FROM sequence_gaps g WHERE g.device = d.name AND g.explained IS NULL)"
            " FROM devices d ORDER BY d.name",
            [],
        )
        return [Device(*r) for r in rows]

    # -- internals ---------------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        db = self._db()
        try:
            with db.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall()
            db.rollback()  # end the read transaction; never hold a snapshot open
            return rows
        except psycopg.Error as exc:
            db.rollback()
            raise StoreError(str(exc)) from exc

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        db = self._db()
        try:
            with db.cursor() as cur:
                cur.execute(sql, params)
                changed = cur.rowcount
            db.commit()
            return int(changed)
        except psycopg.Error as exc:
            db.rollback()
            raise StoreError(str(exc)) from exc
