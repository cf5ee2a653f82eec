"""Odd data stored directly in the database never makes a console page, or a listing, fail.

Whatever an older collector stored, or a hand-edited database holds (far-future and far-past
times, the largest integers, NULLs where the schema allows them, control characters, unknown
kinds, bodies that do not parse), every page an IG officer can open still answers: a real
collector and console over TLS, and the CLI listings beside them.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator

import httpx
import pytest
from google.protobuf import json_format

from caseguard.v1 import events_pb2
from collector.console.routes import all_routes
from tests.integration.harness import EGRESS, run_cli
from tests.integration.test_console_http import Site, build_site, sign_in

pytestmark = pytest.mark.integration

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
YEAR_33658_US = 999_999_999_999 * 1_000_000
ODD_NAME = "odd\x1b[2J\u202elaptop\x07"


def _body(kind: str, fields: dict[str, object]) -> bytes:
    event = events_pb2.Event()
    json_format.ParseDict({kind: fields}, event)
    return bytes(getattr(event, kind).SerializeToString())


def _store_odd_data(db: sqlite3.Connection, laptop: str, incident_id: str) -> None:
    """Rows no current agent could send, as an older collector or a hand edit might leave them."""
    times = (YEAR_33658_US, INT64_MAX, INT64_MIN, -1, 0)
    db.execute(
        "INSERT INTO devices(name, enrolled_at, revoked_at, last_seen_at, max_seq, lost_at) VALUES (?,?,?,?,?,?)",
        (ODD_NAME, INT64_MIN, None, INT64_MAX, INT64_MAX, YEAR_33658_US),
    )
    db.execute(
        "INSERT INTO devices(name, enrolled_at, revoked_at, last_seen_at, max_seq, lost_at) VALUES (?,?,?,?,?,?)",
        ("far-past-laptop", -1, INT64_MIN, INT64_MIN, 0, None),
    )
    posture = {
        "encryption_posture": _body("encryption_posture", {"system_volume": "ENCRYPTION_STATE_ENCRYPTED"}),
        "lock_posture": _body("lock_posture", {"os_lock_timeout_s": 300, "os_lock_timeout_known": True}),
        "heartbeat": b"",
    }
    rows: list[tuple[object, ...]] = []
    for device in (laptop, ODD_NAME, "far-past-laptop"):
        for at in times:
            for kind, body in posture.items():
                rows.append((device, str(uuid.uuid4()), 0, kind, at, at, "0.0.1\x1b[1m", body))
                rows.append((device, str(uuid.uuid4()), 0, kind, at, at, "0.0.1", b"\xff\xfe not protobuf"))
            rows.append((device, f"odd-{uuid.uuid4()}\x1b]0;t\x07", INT64_MAX, "zz_unknown_kind", at, at, "?", b"\x00"))
            rows.append((device, str(uuid.uuid4()), 1, "case_file_egress", at, at, "0.0.1",
                         _body("case_file_egress", EGRESS)))  # fmt: skip
            rows.append((device, str(uuid.uuid4()), 1, "lost_device_report", at, at, "0.0.1", b"\xff"))
    db.executemany(
        "INSERT INTO events(device, event_id, seq, kind, occurred_at, received_at, agent_version, body)"
        " VALUES (?,?,?,?,?,?,?,?)",
        rows,
    )
    db.execute(
        "INSERT INTO sequence_gaps(device, first_seq, last_seq, detected_at, explained) VALUES (?,?,?,?,?)",
        (ODD_NAME, 1, INT64_MAX, INT64_MAX, None),
    )
    db.execute(
        "INSERT INTO sequence_gaps(device, first_seq, last_seq, detected_at, explained) VALUES (?,?,?,?,?)",
        (laptop, INT64_MIN, -5, INT64_MIN, "shed\x1b[2J"),
    )
    db.execute(
        "INSERT INTO wf_quarantine(event_row, device, event_id, kind, reason, cause, first_attempt_at,"
        " last_attempt_at, attempts, workflow_version) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (INT64_MAX, ODD_NAME, "e\x1b[2J", "zz\u202e", "Boom\x07", "zz", INT64_MIN, INT64_MAX, INT64_MAX, ""),
    )
    db.execute(
        "INSERT INTO console_notes(incident_id, at, author, text) VALUES (?,?,?,?)",
        (incident_id, INT64_MAX, "ig\x1b[8m", "note \x1b]0;x\x07\u202e"),
    )
    db.execute("UPDATE devices SET last_seen_at = ?, lost_at = ? WHERE name = ?", (INT64_MAX, INT64_MIN, laptop))
    db.commit()


@pytest.fixture(scope="module")
def odd_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    for site in build_site(tmp_path_factory.mktemp("console-odd")):
        db = sqlite3.connect(site.collector.data_dir / "collector.sqlite3", timeout=30)
        try:
            _store_odd_data(db, "laptop-1", site.incident_id)
        finally:
            db.close()
        yield site


def _pages(incident_id: str) -> list[str]:
    """Every GET page of the console, with the incident filled in."""
    paths = []
    for route in all_routes():
        path = str(getattr(route, "path", ""))
        if "GET" in (getattr(route, "methods", None) or ()) and path:
            paths.append(path.replace("{incident_id}", incident_id))
    return paths


def test_every_console_page_answers_an_ig_officer_whatever_odd_data_is_stored(odd_site: Site) -> None:
    c = sign_in(odd_site, "ig.officer")
    pages = _pages(odd_site.incident_id)
    assert "/devices" in pages and f"/incidents/{odd_site.incident_id}" in pages and len(pages) >= 12
    walk = [*pages, "/audit?page=99999999999999999999", "/audit?subject=%1B", "/inbox?state=zz"]
    assert _failures(c, walk) == {}, odd_site.collector.log()[-3000:]
    devices = c.get("/devices")
    assert devices.status_code == 200
    assert "far-past-laptop" in devices.text and "not a valid time" in devices.text
    assert "Events the breach workflow could not handle: 1" in devices.text  # the quarantine, for IG officers
    for name in ("it.admin", "auditor"):
        assert _failures(sign_in(odd_site, name), pages) == {}, name


def _failures(c: httpx.Client, paths: list[str]) -> dict[str, str]:
    """Pages that answered 5xx, or dropped the connection."""
    failed: dict[str, str] = {}
    for path in paths:
        try:
            status = c.get(path).status_code
        except httpx.TransportError as exc:
            failed[path] = type(exc).__name__
            continue
        if status >= 500:
            failed[path] = str(status)
    return failed


def test_events_and_devices_listings_survive_odd_data(odd_site: Site) -> None:
    data = ["--data-dir", str(odd_site.collector.data_dir)]
    listed = run_cli("collector", "events", "list", *data, "--json").stdout.splitlines()
    rows = [json.loads(line) for line in listed]
    assert len(rows) > 60 and any(r["kind"] == "zz_unknown_kind" for r in rows)
    text = run_cli("collector", "events", "list", *data).stdout
    assert "zz_unknown_kind" in text and "\x1b" not in text
    listed_devices = run_cli("collector", "devices", "list", *data, "--json").stdout.splitlines()
    devices_json = [json.loads(line) for line in listed_devices]
    assert {"far-past-laptop", ODD_NAME} <= {d["device"] for d in devices_json}
    devices_text = run_cli("collector", "devices", "list", *data).stdout
    assert "far-past-laptop" in devices_text and "\x1b" not in devices_text
    quarantined = run_cli("collector", "workflow", "quarantine", "list", *data).stdout
    assert "\x1b" not in quarantined and "\x07" not in quarantined
