"""The breach workflow's storage contract, pinned for SQLite and PostgreSQL alike.

Every test here runs against both backends (``workflow_backend``), except the last few,
which pin what only PostgreSQL can get wrong: event ids handed out in insert order but
committed in another, and a schema that `migrate` has not brought up to date.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collector.domain.audit_chain import GENESIS_HASH, ProblemKind
from collector.domain.incident import IncidentState
from collector.domain.incident_record import IncidentRecord
from collector.store.base import IncomingEvent, StoreError
from collector.store.events import PostgresStore, SchemaOutOfDate
from collector.store.workflow import WORKFLOW_LOCK, PostgresWorkflowStore
from collector.store.workflow_base import EVENT_CURSOR, WorkflowStore
from collector.workflow.audit import verify_audit
from collector.workflow.service import WorkflowService
from collector.workflow.times import to_us
from tests.contract.conftest import WorkflowBackend
from tests.postgres_server import create_database, drop_database
from tests.unit.workflow.helpers import EGRESS, ENCRYPTED, T0, Clock, body

BREACH_KINDS = ("case_file_egress", "case_files_found", "lock_failed", "lost_device_report")


class Events:
    """Enrols devices and stores events in the backend's event store, as ingest would."""

    def __init__(self, backend: WorkflowBackend, clock: Clock) -> None:
        self.store = backend.events
        self.clock = clock
        self.seqs: dict[str, int] = {}

    def device(self, name: str) -> str:
        self.store.register_device(name, f"fp-{name}", to_us(self.clock.now))
        self.seqs[name] = 0
        return name

    def emit(self, device: str, kind: str, fields: dict[str, Any], *, seq: int | None = None) -> str:
        self.seqs[device] = seq if seq is not None else self.seqs[device] + 1
        event_id = str(uuid.uuid4())
        now = to_us(self.clock.now)
        self.store.ingest(
            [(device, [IncomingEvent(event_id, self.seqs[device], kind, now, "t", body(kind, fields))])], now
        )
        return event_id

    def egress(self, device: str, burst: str = "burst-1") -> str:
        return self.emit(device, "case_file_egress", {**EGRESS, "copy_burst_id": burst})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def events(workflow_backend: WorkflowBackend, clock: Clock) -> Events:
    return Events(workflow_backend, clock)


def _service(store: WorkflowStore, clock: Clock) -> WorkflowService:
    return WorkflowService(store, clock=clock)


def _one_incident(workflow_store: WorkflowStore, events: Events, clock: Clock) -> IncidentRecord:
    events.egress(events.device("laptop-1"))
    _service(workflow_store, clock).catch_up()
    [record] = workflow_store.list_incidents()
    return record


def _everything(store: WorkflowStore) -> tuple[object, ...]:
    """All a reader can see, for before/after comparisons."""
    incidents = store.list_incidents()
    ids = [r.incident_id for r in incidents]
    return (
        incidents,
        list(store.audit_entries()),
        store.audit_head(),
        store.pending_notifications(2**62),
        store.counter(EVENT_CURSOR),
        store.counter("incidents:2025"),
        [store.warnings_sent(i) for i in ids],
        [store.ico_edits(i) for i in ids],
        store.device_activity(),
    )


# -- incidents -------------------------------------------------------------------------


def test_an_incident_round_trips_intact_through_its_life_cycle(
    workflow_backend: WorkflowBackend, events: Events, clock: Clock
) -> None:
    store = workflow_backend.store
    record = _one_incident(store, events, clock)
    assert record.incident_id == "INC-2025-0001" and record.incident.state is IncidentState.SUSPECTED
    assert record.incident.alerts[0].files[0].file_name == "Child A.docx"
    assert record.draft is not None and record.draft.draft and record.notified_grade
    assert record.updated_at_us == to_us(T0)
    commands = _service(store, clock).commands
    clock.advance(hours=1)
    steps = [
        lambda: commands.confirm(record.incident_id, by="ig", aware_at=T0, reason="copied to USB"),
        lambda: commands.assess(record.incident_id, by="ig"),
        lambda: commands.decide(record.incident_id, by="ig", reportable=True, reason="case files on a stick"),
        lambda: commands.notify_ico(record.incident_id, by="ig", ico_case_reference="IC-1"),
        lambda: commands.record_action(record.incident_id, by="ig", text="stick recovered"),
    ]
    for step in steps:
        saved = replace(step(), updated_at_us=to_us(clock.now))  # the store stamps when it saved
        assert store.get_incident(record.incident_id) == saved
        assert workflow_backend.open_store().get_incident(record.incident_id) == saved  # another collector
        clock.advance(minutes=5)
    final = store.get_incident(record.incident_id)
    assert final is not None and final.incident.assessment is not None and final.incident.ico_case_reference == "IC-1"
    assert store.get_incident("INC-1999-0001") is None


def test_incidents_are_listed_oldest_first_and_by_state(
    workflow_store: WorkflowStore, events: Events, clock: Clock
) -> None:
    service = _service(workflow_store, clock)
    for n in range(3):
        events.egress(events.device(f"laptop-{n}"))
        clock.advance(minutes=1)
    service.catch_up()
    ids = [r.incident_id for r in workflow_store.list_incidents()]
    assert ids == ["INC-2025-0001", "INC-2025-0002", "INC-2025-0003"]
    service.commands.dismiss(ids[1], by="ig", reason="test copy")
    assert [r.incident_id for r in workflow_store.list_incidents(["dismissed"])] == [ids[1]]
    assert [r.incident_id for r in workflow_store.list_incidents(["suspected", "confirmed"])] == [ids[0], ids[2]]
    assert workflow_store.list_incidents([]) == []
    assert workflow_store.counter("incidents:2025") == 3


def test_saving_an_incident_again_replaces_it(workflow_store: WorkflowStore, events: Events, clock: Clock) -> None:
    record = _one_incident(workflow_store, events, clock)
    changed = replace(record, draft=None, notified_grade="high")
    with workflow_store.transaction() as tx:
        tx.save_incident(changed, 42)
    assert workflow_store.get_incident(record.incident_id) == replace(changed, updated_at_us=42)
    assert len(workflow_store.list_incidents()) == 1


# -- transactions ----------------------------------------------------------------------


@pytest.mark.parametrize("failure", [RuntimeError("the workflow failed"), StoreError("storage failed")])
def test_a_failed_transaction_leaves_nothing_behind(
    workflow_store: WorkflowStore, events: Events, clock: Clock, failure: Exception
) -> None:
    record = _one_incident(workflow_store, events, clock)
    events.store.mark_lost("laptop-1", to_us(T0))
    before = _everything(workflow_store)
    other = replace(record, incident=replace(record.incident, incident_id="INC-2025-0099"))
    with pytest.raises(type(failure)), workflow_store.transaction() as tx:
        tx.save_incident(other, 1)
        tx.save_incident(replace(record, notified_grade="changed"), 1)
        tx.index_alert("alert-x", "case_file_egress", "laptop-1", 1, "INC-2025-0099")
        tx.index_alert(record.incident.alerts[0].alert_id, "case_file_egress", "laptop-1", 1, "INC-2025-0099")
        tx.append_audit({"at": T0, "actor": "ig", "action": "x", "subject": "y", "details": {}})
        assert tx.record_warning(record.incident_id, "w1", 1)
        assert tx.enqueue_notification("k1", "new_incident", record.incident_id, {"a": 1}, 1)
        tx.save_ico_edits(record.incident_id, {"field": "value"}, 1, "ig")
        tx.set_counter(EVENT_CURSOR, 10**6)
        tx.set_counter("incidents:2025", 99)
        assert tx.clear_lost("laptop-1")
        assert tx.get_incident("INC-2025-0099") is not None  # the transaction sees its own writes
        raise failure
    assert _everything(workflow_store) == before
    assert workflow_store.incident_for_alert("alert-x") is None
    assert workflow_store.device_lost_at("laptop-1") == to_us(T0)
    with workflow_store.transaction() as tx:  # and the store is still usable
        tx.set_counter("after", 1)
    assert workflow_store.counter("after") == 1


def test_a_committed_transaction_is_seen_by_another_collector(workflow_backend: WorkflowBackend) -> None:
    with workflow_backend.store.transaction() as tx:
        tx.set_counter(EVENT_CURSOR, 7)
        tx.append_audit({"at": T0, "actor": "ig", "action": "x", "subject": "y", "details": {}})
    other = workflow_backend.open_store()
    assert other.counter(EVENT_CURSOR) == 7 and other.audit_head() == workflow_backend.store.audit_head()


def test_a_transaction_inside_a_transaction_is_refused(workflow_store: WorkflowStore) -> None:
    with pytest.raises(StoreError), workflow_store.transaction() as tx:
        tx.set_counter("outer", 1)
        with workflow_store.transaction():
            pass
    assert workflow_store.counter("outer") == 0


# -- alerts, warnings, ICO edits, counters ----------------------------------------------


def test_the_alert_index_finds_and_moves_alerts(workflow_store: WorkflowStore, events: Events, clock: Clock) -> None:
    record = _one_incident(workflow_store, events, clock)
    alert_id = record.incident.alerts[0].alert_id
    assert workflow_store.incident_for_alert(alert_id) == record.incident_id
    assert workflow_store.incident_for_alert("no-such-alert") is None
    with workflow_store.transaction() as tx:
        assert tx.open_incident_ids_for_device("laptop-1") == [record.incident_id]
        assert tx.open_incident_ids_for_device("laptop-2") == []
        tx.save_incident(replace(record, incident=replace(record.incident, incident_id="INC-2025-0002")), 1)
        tx.index_alert(alert_id, "case_file_egress", "laptop-1", 1, "INC-2025-0002")  # moved, as after a split
    assert workflow_store.incident_for_alert(alert_id) == "INC-2025-0002"
    _service(workflow_store, clock).commands.dismiss("INC-2025-0002", by="ig", reason="test copy")
    with workflow_store.transaction() as tx:
        assert tx.open_incident_ids_for_device("laptop-1") == []  # closed and dismissed ones are not open


def test_a_warning_is_recorded_once(workflow_store: WorkflowStore, events: Events, clock: Clock) -> None:
    record = _one_incident(workflow_store, events, clock)
    with workflow_store.transaction() as tx:
        assert tx.record_warning(record.incident_id, "deadline:24h", 1)
        assert not tx.record_warning(record.incident_id, "deadline:24h", 2)
        assert tx.record_warning(record.incident_id, "deadline:6h", 3)
        assert tx.warnings_sent(record.incident_id) == {"deadline:24h", "deadline:6h"}
    with workflow_store.transaction() as tx:
        assert not tx.record_warning(record.incident_id, "deadline:6h", 4)
    assert workflow_store.warnings_sent(record.incident_id) == {"deadline:24h", "deadline:6h"}
    assert workflow_store.warnings_sent("INC-2025-0002") == set()


def test_ico_edits_are_replaced_whole(workflow_store: WorkflowStore, events: Events, clock: Clock) -> None:
    record = _one_incident(workflow_store, events, clock)
    assert workflow_store.ico_edits(record.incident_id) == {}
    with workflow_store.transaction() as tx:
        tx.save_ico_edits(record.incident_id, {"a": "x", "n": [1, 2], "o": {"k": None}}, 1, "ig")
    assert workflow_store.ico_edits(record.incident_id) == {"a": "x", "n": [1, 2], "o": {"k": None}}
    with workflow_store.transaction() as tx:
        tx.save_ico_edits(record.incident_id, {"b": True}, 2, "ig2")
    assert workflow_store.ico_edits(record.incident_id) == {"b": True}


def test_counters_start_at_zero_and_hold_large_values(workflow_store: WorkflowStore) -> None:
    assert workflow_store.counter("never") == 0
    with workflow_store.transaction() as tx:
        tx.set_counter("big", 2**53 + 1)
        tx.set_counter("small", 3)
        tx.set_counter("small", 4)
        assert tx.counter("small") == 4
    assert (workflow_store.counter("big"), workflow_store.counter("small")) == (2**53 + 1, 4)


# -- notifications ----------------------------------------------------------------------


def test_the_notification_queue_dedupes_waits_and_retries(workflow_store: WorkflowStore) -> None:
    with workflow_store.transaction() as tx:
        assert tx.enqueue_notification("new:1", "new_incident", "INC-1", {"x": 1, "l": ["a"]}, 100)
        assert not tx.enqueue_notification("new:1", "new_incident", "INC-1", {"x": 2}, 100)
        assert tx.enqueue_notification("new:2", "new_incident", "INC-2", {"x": 3}, 200)
    assert workflow_store.pending_notifications(99) == []
    [first] = workflow_store.pending_notifications(150)
    assert (first.dedupe_key, first.kind, first.incident_id, dict(first.payload)) == (
        "new:1", "new_incident", "INC-1", {"x": 1, "l": ["a"]}
    )  # fmt: skip
    assert (first.created_at_us, first.email_done, first.webhook_done, first.attempts) == (100, False, False, 0)
    assert [n.dedupe_key for n in workflow_store.pending_notifications(200)] == ["new:1", "new:2"]
    assert [n.dedupe_key for n in workflow_store.pending_notifications(200, limit=1)] == ["new:1"]
    # email went, the webhook failed: retried later, with the email not sent again
    workflow_store.update_notification(
        first.id, email_done=True, webhook_done=False, attempts=1, next_attempt_us=1_000, error="webhook: 503"
    )
    assert [n.dedupe_key for n in workflow_store.pending_notifications(999)] == ["new:2"]
    [retry] = [n for n in workflow_store.pending_notifications(1_000) if n.id == first.id]
    assert (retry.email_done, retry.webhook_done, retry.attempts) == (True, False, 1)
    workflow_store.update_notification(
        first.id, email_done=True, webhook_done=True, attempts=1, next_attempt_us=1_000, error=None
    )
    assert [n.dedupe_key for n in workflow_store.pending_notifications(10**12)] == ["new:2"]


def test_a_new_incident_queues_its_notice_once(workflow_store: WorkflowStore, events: Events, clock: Clock) -> None:
    record = _one_incident(workflow_store, events, clock)
    _service(workflow_store, clock).catch_up()
    notices = workflow_store.pending_notifications(to_us(T0))
    assert [(n.kind, n.incident_id) for n in notices] == [("new_incident", record.incident_id)]


# -- the audit chain --------------------------------------------------------------------


def _append(store: WorkflowStore, count: int, actor: str = "ig") -> None:
    for n in range(count):
        with store.transaction() as tx:
            tx.append_audit({"at": T0, "actor": actor, "action": "note", "subject": "s", "details": {"n": n}})


def test_the_audit_chain_appends_links_and_records_its_head(workflow_store: WorkflowStore) -> None:
    assert workflow_store.audit_head() is None and list(workflow_store.audit_entries()) == []
    with workflow_store.transaction() as tx:
        first = tx.append_audit({"at": T0, "actor": "ig", "action": "a", "subject": "s", "details": {"k": "v"}})
        second = tx.append_audit({"at": T0, "actor": "ig", "action": "b", "subject": "s", "details": {}})
    _append(workflow_store, 3)
    entries = list(workflow_store.audit_entries())
    assert entries[:2] == [first, second]
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert first.prev_hash == GENESIS_HASH and all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert workflow_store.audit_head() == (5, entries[-1].hash)
    assert verify_audit(workflow_store) == (5, [])


def test_an_edited_audit_entry_is_detected(workflow_backend: WorkflowBackend) -> None:
    _append(workflow_backend.store, 3)
    workflow_backend.execute("UPDATE wf_audit SET details_json = '{\"n\":9}' WHERE seq = 2")
    count, problems = verify_audit(workflow_backend.store)
    assert count == 3 and [(p.seq, p.kind) for p in problems] == [(2, ProblemKind.EDITED)]


def test_entries_removed_from_the_end_are_detected(workflow_backend: WorkflowBackend) -> None:
    _append(workflow_backend.store, 3)
    workflow_backend.execute("DELETE FROM wf_audit WHERE seq = 3")
    count, problems = verify_audit(workflow_backend.store)
    assert count == 2 and [p.kind for p in problems] == [ProblemKind.HEAD_MISMATCH]


def test_the_audit_log_can_be_read_while_it_grows(workflow_store: WorkflowStore) -> None:
    _append(workflow_store, 3)
    seen = []
    for entry in workflow_store.audit_entries():  # writing between reads on the same thread
        seen.append(entry.seq)
        if entry.seq == 1:
            _append(workflow_store, 1)
    assert seen[:3] == [1, 2, 3] and verify_audit(workflow_store) == (4, [])


# -- events, devices and the cursor -----------------------------------------------------


def test_events_after_finds_breach_events_and_says_how_far_it_read(
    workflow_store: WorkflowStore, events: Events, settle: Callable[[], None]
) -> None:
    laptop = events.device("laptop-1")
    assert workflow_store.events_after(0, BREACH_KINDS, 10) == ([], 0)
    events.emit(laptop, "test", {"index": 1})
    egress = [events.egress(laptop, f"burst-{n}") for n in range(3)]
    events.emit(laptop, "test", {"index": 2})
    workflow_store.events_after(0, BREACH_KINDS, 10)  # seen now...
    settle()  # ...and final once nothing lower can still be in flight
    rows, upto = workflow_store.events_after(0, BREACH_KINDS, 10)
    assert [r.event.event_id for r in rows] == egress and all(r.device_lost_at_us is None for r in rows)
    assert upto > rows[-1].row_id  # read past the uninteresting last event
    assert workflow_store.events_after(upto, BREACH_KINDS, 10) == ([], upto)
    rows, upto = workflow_store.events_after(0, BREACH_KINDS, 2)
    assert [r.event.event_id for r in rows] == egress[:2] and upto == rows[-1].row_id  # limit reached
    rows, _ = workflow_store.events_after(upto, BREACH_KINDS, 2)
    assert [r.event.event_id for r in rows] == egress[2:]
    found = rows[0].event
    assert (found.device, found.kind, found.seq, found.agent_version) == ("laptop-1", "case_file_egress", 4, "t")
    assert workflow_store.events_after(0, ("lock_failed",), 10)[0] == []
    with pytest.raises(StoreError):
        workflow_store.events_after(0, ("x'); DROP TABLE events; --",), 10)


def test_a_lost_devices_later_events_are_of_interest(
    workflow_store: WorkflowStore, events: Events, clock: Clock
) -> None:
    laptop, other = events.device("laptop-1"), events.device("laptop-2")
    events.emit(laptop, "test", {"index": 1})  # before it was lost
    clock.advance(minutes=1)
    lost_at = to_us(clock.now)
    events.store.mark_lost(laptop, lost_at)
    clock.advance(minutes=1)
    later = events.emit(laptop, "heartbeat", {"interval_s": 300})
    events.emit(other, "test", {"index": 2})
    rows, _ = workflow_store.events_after(0, BREACH_KINDS, 10)
    assert [(r.event.event_id, r.device_lost_at_us) for r in rows] == [(later, lost_at)]
    assert workflow_store.device_lost_at(laptop) == lost_at and workflow_store.device_lost_at(other) is None
    found = workflow_store.find_event(laptop, later)
    assert found is not None and found.device_lost_at_us == lost_at and found.row_id == rows[0].row_id
    with workflow_store.transaction() as tx:
        assert tx.clear_lost(laptop)
        assert not tx.clear_lost(laptop) and not tx.clear_lost(other)
    assert workflow_store.events_after(0, BREACH_KINDS, 10)[0] == []


def test_event_and_device_lookups(workflow_store: WorkflowStore, events: Events, clock: Clock) -> None:
    laptop = events.device("laptop-1")
    first = events.emit(laptop, "encryption_posture", ENCRYPTED)
    clock.advance(minutes=1)
    second = events.emit(laptop, "encryption_posture", ENCRYPTED)
    clock.advance(minutes=1)
    events.emit(laptop, "test", {"index": 1}, seq=5)  # 3..4 never arrived
    heard = to_us(clock.now)
    clock.advance(minutes=1)
    events.emit(laptop, "lost_device_report", {"device_name": laptop, "reported_by": "ig"}, seq=0)
    latest = workflow_store.latest_posture_events(laptop, ["encryption_posture", "lock_posture"])
    assert set(latest) == {"encryption_posture"} and latest["encryption_posture"].event_id == second
    assert workflow_store.latest_posture_events("laptop-2", ["encryption_posture"]) == {}
    assert workflow_store.last_heard_from(laptop) == heard  # the device's own event, not the collector's report
    assert workflow_store.last_heard_from("laptop-2") is None
    found = workflow_store.find_event(laptop, first)
    assert found is not None and found.event.body == body("encryption_posture", ENCRYPTED)
    assert workflow_store.find_event(laptop, "no-such-event") is None
    events.store.revoke_device(laptop, 5)
    [activity] = workflow_store.device_activity()
    assert (activity.name, activity.revoked, activity.lost_at_us) == (laptop, True, None)
    assert activity.last_seen_at_us == heard
    [gap] = workflow_store.open_gaps()
    assert gap[:3] == (laptop, 3, 4)


def test_the_event_cursor_moves_with_the_incidents_it_led_to(
    workflow_store: WorkflowStore, events: Events, clock: Clock, settle: Callable[[], None]
) -> None:
    laptop = events.device("laptop-1")
    events.egress(laptop)
    events.emit(laptop, "test", {"index": 1})
    _service(workflow_store, clock).catch_up()
    settle()
    report = _service(workflow_store, clock).catch_up()  # reading the same events again places nothing twice
    newest = workflow_store.events_after(0, BREACH_KINDS, 10)[1]
    assert workflow_store.counter(EVENT_CURSOR) == report.cursor == newest
    again = _service(workflow_store, clock).catch_up()  # a restarted collector starts from the stored cursor
    assert (again.events, again.alerts) == (0, 0) and len(workflow_store.list_incidents()) == 1


# -- several collectors at once ----------------------------------------------------------


def _in_threads(*jobs: Any) -> None:
    errors: list[BaseException] = []

    def run(job: Any) -> None:
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_collectors_writing_at_once_keep_one_audit_chain_and_lose_no_update(
    workflow_backend: WorkflowBackend,
) -> None:
    stores = [workflow_backend.store, workflow_backend.open_store()]

    def work(store: WorkflowStore, actor: str) -> None:
        for _ in range(15):
            with store.transaction() as tx:
                tx.set_counter("n", tx.counter("n") + 1)
                tx.append_audit({"at": T0, "actor": actor, "action": "note", "subject": "s", "details": {}})

    _in_threads(*[lambda s=s, a=f"c{i}-{t}": work(s, a) for i, s in enumerate(stores) for t in range(3)])
    assert workflow_backend.store.counter("n") == 90
    assert verify_audit(workflow_backend.store) == (90, [])


def test_collectors_catching_up_at_once_place_every_alert_once(
    workflow_backend: WorkflowBackend, events: Events, clock: Clock
) -> None:
    devices = [events.device(f"laptop-{n}") for n in range(3)]
    services = [_service(workflow_backend.store, clock), _service(workflow_backend.open_store(), clock)]
    done = threading.Event()
    emitted: list[str] = []

    def ingest() -> None:
        for n in range(30):
            emitted.append(events.egress(devices[n % 3], f"burst-{n}"))
            events.emit(devices[n % 3], "test", {"index": n})
        done.set()

    def follow(service: WorkflowService) -> None:
        while not done.is_set():
            service.catch_up()
        service.catch_up()

    _in_threads(ingest, *[lambda s=s: follow(s) for s in services])
    workflow_backend.settle()
    services[0].catch_up()  # the position moves on once the ids are final; nothing is placed twice
    store = workflow_backend.store
    incidents = store.list_incidents()
    alerts = [a.alert_id for r in incidents for a in r.incident.alerts]
    assert len(alerts) == len(set(alerts)) == 30
    assert [r.incident_id for r in incidents] == [f"INC-2025-{n:04d}" for n in range(1, len(incidents) + 1)]
    assert sorted(n.incident_id for n in store.pending_notifications(2**62) if n.kind == "new_incident") == sorted(
        r.incident_id for r in incidents
    )
    assert verify_audit(store)[1] == []
    assert store.counter(EVENT_CURSOR) >= store.events_after(0, BREACH_KINDS, 100)[0][-1].row_id


# -- PostgreSQL only ---------------------------------------------------------------------


@pytest.fixture
def database_url(postgres_server_url: str) -> Iterator[str]:
    url = create_database(postgres_server_url)
    yield url
    drop_database(postgres_server_url, url)


def test_postgres_refuses_a_schema_that_was_not_migrated(database_url: str) -> None:
    with pytest.raises(SchemaOutOfDate):
        PostgresWorkflowStore(database_url)


def test_postgres_events_after_never_moves_past_an_insert_still_in_flight(database_url: str, tmp_path: Path) -> None:
    """Ids are handed out at insert, not at commit: the position must not pass an event committed late,
    and reading must never hold up other collectors' inserts."""
    events = PostgresStore(database_url, require_current_schema=False)
    events.migrate()
    events.register_device("laptop-1", "fp", 1)
    clock = [1000.0]
    store = PostgresWorkflowStore(database_url, settle_s=60, monotonic=lambda: clock[0])
    slow = psycopg.connect(database_url)
    try:
        slow.execute(  # a collector's ingest, begun but not yet committed: it holds the lower id
            "INSERT INTO events(device, event_id, seq, kind, occurred_at, received_at, agent_version, body)"
            " VALUES ('laptop-1', 'slow', 1, 'case_file_egress', 1, 1, 't', %s)",
            (body("case_file_egress", EGRESS),),
        )
        fast = IncomingEvent("fast", 2, "test", 2, "t", body("test", {"index": 1}))
        events.ingest([("laptop-1", [fast])], 2)  # another collector's, committed first with a higher id
        rows, upto = store.events_after(0, BREACH_KINDS, 10)  # returns at once: no lock on events
        assert rows == [] and upto == 0, "the position must not pass the lower id still in flight"
        clock[0] += 30
        assert store.events_after(upto, BREACH_KINDS, 10) == ([], 0)
        slow.commit()
        rows, upto = store.events_after(upto, BREACH_KINDS, 10)
        assert [r.event.event_id for r in rows] == ["slow"]
        clock[0] += 61  # later on, everything visible a minute ago is final: the position moves on
        rows, upto = store.events_after(upto, BREACH_KINDS, 10)
        assert upto >= 2 and [r.event.event_id for r in rows] == ["slow"]
        assert store.events_after(upto, BREACH_KINDS, 10)[0] == []
    finally:
        slow.close()
        store.close()
        events.close()


def test_postgres_lock_waits_are_bounded(database_url: str) -> None:
    """A collector stuck inside a transaction makes the others fail with StoreError, not hang."""
    migrator = PostgresStore(database_url, require_current_schema=False)
    migrator.migrate()
    migrator.close()
    store = PostgresWorkflowStore(database_url, lock_timeout_s=0.2)
    holder = psycopg.connect(database_url)
    try:
        with store.transaction() as tx:
            tx.set_counter("n", 1)
        holder.execute("UPDATE wf_counters SET value = 2")  # a row lock held by a stuck collector
        with pytest.raises(StoreError), store.transaction() as tx:
            tx.set_counter("n", 3)
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (WORKFLOW_LOCK,))  # and now the workflow lock
        started = time.monotonic()
        with pytest.raises(StoreError, match="busy"), store.transaction():
            pass
        assert time.monotonic() - started < 5
        holder.rollback()
        with store.transaction() as tx:  # free again: the store recovered from both failures
            tx.set_counter("n", 4)
        assert store.counter("n") == 4
    finally:
        holder.close()
        store.close()


def test_each_notice_is_claimed_by_one_collector_and_an_expired_lease_is_taken_over(
    workflow_backend: WorkflowBackend,
) -> None:
    first, second = workflow_backend.store, workflow_backend.open_store()
    with first.transaction() as tx:
        assert tx.enqueue_notification("new:1", "new_incident", "INC-1", {"x": 1}, 100)
        assert tx.enqueue_notification("new:2", "new_incident", "INC-2", {"x": 2}, 100)
    a = first.claim_notification("collector-a", 200, lease_us=1_000)
    b = second.claim_notification("collector-b", 200, lease_us=1_000)
    assert a is not None and b is not None and (a.dedupe_key, b.dedupe_key) == ("new:1", "new:2")
    assert first.claim_notification("collector-a", 300, lease_us=1_000) is None, "both are held"
    assert second.claim_notification("collector-b", 1_199, lease_us=1_000) is None
    second.update_notification(b.id, email_done=True, webhook_done=True, attempts=0, next_attempt_us=300, error=None)
    # collector-a died holding new:1: once its lease runs out, collector-b takes the notice over.
    taken = second.claim_notification("collector-b", 1_200, lease_us=1_000)
    assert taken is not None and taken.dedupe_key == "new:1"
    assert first.claim_notification("collector-a", 1_300, lease_us=1_000) is None
    second.update_notification(taken.id, email_done=True, webhook_done=True, attempts=0, next_attempt_us=1_300,
                               error=None)
    assert first.claim_notification("collector-a", 10**6, lease_us=1_000) is None, "delivered: nothing to claim"
