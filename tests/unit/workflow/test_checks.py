"""The periodic checks: silent devices, unexplained gaps, and each deadline warning queued once."""

from __future__ import annotations

import json
from datetime import timedelta

from collector.domain.alerts import AlertKind
from tests.unit.workflow.helpers import EGRESS, T0, World


def _warnings(world: World) -> list[str]:
    rows = world.store.db.execute("SELECT payload FROM wf_notifications WHERE kind = 'deadline_warning' ORDER BY id")
    return [json.loads(r[0])["warning"] for r in rows]


def test_silent_device_and_open_gap_become_alerts_once(world: World) -> None:
    quiet = world.device("quiet-laptop")
    gappy = world.device("gappy-laptop")
    world.emit(quiet, "test", {"index": 1})
    world.emit(gappy, "test", {"index": 1}, seq=1)
    world.emit(gappy, "test", {"index": 4}, seq=4)  # 2..3 never arrive
    world.clock.advance(minutes=30)
    assert world.service.tick().signal_alerts == 0  # gap not settled, nobody silent yet
    world.clock.advance(days=15)
    first = world.service.tick()
    again = world.service.tick()
    assert first.signal_alerts == 3 and again.signal_alerts == 0  # two silences, one gap
    kinds = {(a.device_id, a.kind) for r in world.store.list_incidents() for a in r.incident.alerts}
    assert kinds == {
        ("quiet-laptop", AlertKind.DEVICE_SILENT),
        ("gappy-laptop", AlertKind.DEVICE_SILENT),
        ("gappy-laptop", AlertKind.SEQUENCE_GAP),
    }


def test_each_deadline_warning_is_queued_exactly_once(world: World) -> None:
    world.emit(world.device("laptop-1"), "case_file_egress", EGRESS)
    world.service.tick()
    [record] = world.store.list_incidents()
    world.service.commands.confirm(record.incident_id, by="ig", aware_at=T0, reason="confirmed")
    for hours in (47, 48.5, 49, 60.5, 61, 68.5, 69, 72.5, 80):
        world.clock.now = T0 + timedelta(hours=hours)
        world.service.tick()
        world.service.tick()
    assert _warnings(world) == ["statutory:86400", "statutory:43200", "statutory:14400", "statutory:0"]
