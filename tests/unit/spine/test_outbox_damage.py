"""A damaged or deleted outbox: moved aside (kept), a new epoch, the reset reported; bad rows skipped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.outbox import Outbox, OutboxError, PendingEvent


def _encode(e: PendingEvent) -> bytes:
    return json.dumps({"seq": e.seq, "kind": e.kind, "epoch": e.epoch, "body": dict(e.body)}).encode()


def _open(path: Path) -> Outbox:
    return Outbox(path, encode=_encode)


def _filled(tmp_path: Path, n: int = 400) -> tuple[Path, str]:
    path = tmp_path / "outbox.sqlite3"
    ob = _open(path)
    ob.append_many([("test", {"index": i, "note": f"MARK{i:05d}" + "x" * 900}) for i in range(n)])
    epoch = ob.epoch
    ob.close()
    return path, epoch


def _reset_reports(ob: Outbox) -> list[dict[str, object]]:
    return [json.loads(e.payload)["body"] for e in ob.peek(1000) if e.kind == "coverage_degraded"]


def test_a_fresh_outbox_has_an_epoch_on_every_event_and_no_reset(tmp_path: Path) -> None:
    ob = _open(tmp_path / "outbox.sqlite3")
    ob.append("test", {})
    assert ob.epoch and json.loads(ob.peek(1)[0].payload)["epoch"] == ob.epoch
    assert _reset_reports(ob) == []
    ob.close()
    again = _open(tmp_path / "outbox.sqlite3")
    assert again.epoch == ob.epoch and _reset_reports(again) == []


@pytest.mark.parametrize("damage", ["truncated", "bad-header"])
def test_a_damaged_outbox_is_moved_aside_and_a_new_epoch_begins(tmp_path: Path, damage: str) -> None:
    path, old_epoch = _filled(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "bad-header":
        data[:100] = b"\xff" * 100
    path.write_bytes(bytes(data))
    ob = _open(path)  # no exception: the agent keeps running
    assert ob.epoch and ob.epoch != old_epoch
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("outbox.sqlite3.damaged-") and "-wal" not in p.name
             and "-shm" not in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == bytes(data), "kept for forensics, unchanged"
    reports = _reset_reports(ob)
    assert len(reports) == 1
    assert reports[0]["reason"] == "outbox-reset" and reports[0]["scope"] == "damaged"
    # New events are numbered in the new epoch from 1 and flow.
    ob.append("test", {"after": True})
    got = ob.peek(10)
    assert [e.seq for e in got] == [1, 2]
    assert {json.loads(e.payload)["epoch"] for e in got} == {ob.epoch}


def test_a_damaged_page_found_at_start_costs_only_its_rows(tmp_path: Path) -> None:
    path, old_epoch = _filled(tmp_path)
    data = bytearray(path.read_bytes())
    at = data.index(b"MARK00200")
    data[at // 4096 * 4096 : at // 4096 * 4096 + 16] = b"\xee" * 16  # no longer a b-tree page
    path.write_bytes(bytes(data))
    ob = _open(path)
    assert ob.epoch == old_epoch  # the epoch and seq could be read: numbering continues
    events = ob.peek(1000)
    kept = [e for e in events if e.kind == "test"]
    assert 390 <= len(kept) < 400
    assert _reset_reports(ob) == [
        {"component": "outbox", "reason": "outbox-repaired", "scope": "damaged", "recovered": False,
         "count": 400 - len(kept)}]
    assert any(p.name.startswith("outbox.sqlite3.damaged-") for p in tmp_path.iterdir())


def test_a_deleted_outbox_is_a_new_epoch_and_reported(tmp_path: Path) -> None:
    path, old_epoch = _filled(tmp_path, n=3)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    ob = _open(path)
    assert ob.epoch != old_epoch
    reports = _reset_reports(ob)
    assert [(r["reason"], r["scope"]) for r in reports] == [("outbox-reset", "deleted")]


def test_a_page_damaged_while_running_costs_only_its_rows(tmp_path: Path) -> None:
    path, epoch = _filled(tmp_path)
    ob = _open(path)
    ob._db.execute("PRAGMA cache_size = 1")  # read from disk, as after a long run
    with open(path, "r+b") as f:
        data = f.read()
        at = data.index(b"MARK00200")
        f.seek(at // 4096 * 4096)
        f.write(b"\xee" * 16)
        f.flush()
        os.fsync(f.fileno())
    delivered: list[int] = []
    reports: list[dict[str, object]] = []
    for _ in range(20):
        batch = ob.peek(100)
        if not batch:
            break
        for e in batch:
            msg = json.loads(e.payload)
            if e.kind == "test":
                delivered.append(msg["body"]["index"])
            else:
                reports.append(msg["body"])
        ob.ack([e.event_id for e in batch])
    assert 350 <= len(delivered) < 400, len(delivered)  # only the damaged page's rows are missing
    assert ob.epoch == epoch, "what was saved keeps its numbering: the lost rows are a real gap"
    assert [(r["reason"], r["scope"], r["count"]) for r in reports] == [
        ("outbox-repaired", "damaged", 400 - len(delivered))]
    assert any(".damaged-" in p.name for p in tmp_path.iterdir())
    ob.append("test", {})
    assert ob.peek(10)[0].seq == 402  # 400 + the report + this one


def test_an_unusable_outbox_folder_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(OutboxError, match="cannot use the outbox"):
        _open(blocker / "outbox.sqlite3")
