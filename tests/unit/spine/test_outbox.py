"""The durable outbox: ordering, acknowledgement, the bound and what gets shed."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from agent.events import UnknownEventKind
from agent.outbox import Outbox, PendingEvent


def _encode(e: PendingEvent) -> bytes:
    return json.dumps({"id": e.event_id, "seq": e.seq, "kind": e.kind, "body": dict(e.body)}).encode()


def _open(tmp_path: Path, max_events: int = 1000) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite3", encode=_encode, max_events=max_events)


def test_events_come_back_in_commit_order_with_increasing_seq(tmp_path: Path) -> None:
    ob = _open(tmp_path)
    ids = ob.append_many([("test", {"index": i}) for i in range(5)])
    got = ob.peek(10)
    assert [e.event_id for e in got] == ids
    assert [e.seq for e in got] == [1, 2, 3, 4, 5]
    assert json.loads(got[2].payload)["body"] == {"index": 2}


def test_only_acknowledged_events_are_deleted(tmp_path: Path) -> None:
    ob = _open(tmp_path)
    ids = [i for i in ob.append_many([("test", {"index": i}) for i in range(4)]) if i]
    assert ob.ack([ids[0], ids[2], "not-an-id"]) == 2
    assert [e.event_id for e in ob.peek(10)] == [ids[1], ids[3]]
    assert ob.status().depth == 2
    assert ob.status().last_delivery_at is not None


def test_seq_and_events_survive_reopening(tmp_path: Path) -> None:
    ob = _open(tmp_path)
    ob.append_many([("test", {}) for _ in range(3)])
    ob.close()
    ob = _open(tmp_path)
    ob.append("test", {})
    assert [e.seq for e in ob.peek(10)] == [1, 2, 3, 4]
    assert ob.status().depth == 4


def test_unknown_kind_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    ob = _open(tmp_path)
    with pytest.raises(UnknownEventKind):
        ob.append_many([("test", {}), ("no_such_kind", {})])
    assert ob.peek(10) == []


def test_encoding_error_stores_nothing(tmp_path: Path) -> None:
    def bad(e: PendingEvent) -> bytes:
        if e.seq == 2:
            raise ValueError("bad body")
        return b"x"

    ob = Outbox(tmp_path / "o.sqlite3", encode=bad)
    with pytest.raises(ValueError):
        ob.append_many([("test", {}), ("test", {})])
    assert ob.peek(10) == []
    ob.append("test", {})
    assert [e.seq for e in ob.peek(10)] == [1]


def test_full_outbox_sheds_heartbeats_first_and_reports_them(tmp_path: Path) -> None:
    ob = _open(tmp_path, max_events=3)
    ob.append("heartbeat", {})
    ob.append("test", {})
    ob.append("heartbeat", {})
    ob.append("case_file_egress", {})  # full: oldest heartbeat goes
    kinds = [e.kind for e in ob.peek(10)]
    assert kinds == ["test", "heartbeat", "case_file_egress"]
    report_id = ob.take_shed_report()
    assert report_id is not None
    report = json.loads(ob.peek(10)[-1].payload)
    assert report["kind"] == "events_shed"
    assert report["body"] == {"counts_by_kind": {"heartbeat": 1}, "seq_ranges": [{"first": 1, "last": 1}], "total": 1}
    assert ob.take_shed_report() is None
    assert ob.status().shed_totals == {"heartbeat": 1}


def test_superseded_posture_is_shed_but_the_newest_is_kept(tmp_path: Path) -> None:
    ob = _open(tmp_path, max_events=3)
    ob.append("lock_posture", {"source": "old"})
    ob.append("test", {})
    ob.append("test", {})
    ob.append("lock_posture", {"source": "new"})  # supersedes the old one, which is shed
    bodies = [json.loads(e.payload)["body"] for e in ob.peek(10) if e.kind == "lock_posture"]
    assert bodies == [{"source": "new"}]


def test_critical_events_are_never_dropped_even_over_the_bound(tmp_path: Path) -> None:
    ob = _open(tmp_path, max_events=5)
    ob.append_many([("case_file_egress", {"copy_burst_id": str(i)}) for i in range(5)])
    more = ob.append_many([("lock_failed", {"reason": str(i)}) for i in range(3)])
    assert None not in more
    assert ob.status().depth == 8
    assert all(e.kind in ("case_file_egress", "lock_failed") for e in ob.peek(100))


def test_routine_events_give_way_to_critical_ones_but_not_to_each_other(tmp_path: Path) -> None:
    ob = _open(tmp_path, max_events=2)
    ob.append_many([("test", {"index": 0}), ("test", {"index": 1})])
    assert ob.append("test", {"index": 2}) is None  # nothing cheaper to shed: the newcomer goes
    assert ob.append("case_file_egress", {}) is not None  # a routine event makes room
    kinds = [e.kind for e in ob.peek(10)]
    assert kinds == ["test", "case_file_egress"]
    ob.take_shed_report()
    report = json.loads(ob.peek(10)[-1].payload)["body"]
    assert report["counts_by_kind"] == {"test": 2}
    assert report["seq_ranges"] == [{"first": 1, "last": 1}, {"first": 3, "last": 3}]


def test_rejected_events_move_to_dead_letter_not_oblivion(tmp_path: Path) -> None:
    ob = _open(tmp_path)
    ids = [i for i in ob.append_many([("test", {}), ("test", {})]) if i]
    ob.dead_letter({ids[0]: "malformed"})
    assert [e.event_id for e in ob.peek(10)] == [ids[1]]
    st = ob.status()
    assert (st.depth, st.dead_letters) == (1, 1)


def _append_in_process(path: str, n: int) -> None:
    ob = Outbox(Path(path), encode=_encode)
    for _ in range(n):
        ob.append("test", {})
    ob.close()


def test_two_processes_sharing_an_outbox_never_reuse_a_seq(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    Outbox(Path(path), encode=_encode).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_in_process, args=(path, 200)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    seqs = [e.seq for e in Outbox(Path(path), encode=_encode).peek(1000)]
    assert sorted(seqs) == list(range(1, 401))
