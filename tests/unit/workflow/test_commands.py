"""IG officers' steps through the service: the statutory clock, assessment, decisions, audit."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from collector.domain.clocks import format_london
from collector.domain.errors import AwarenessJustificationRequired, InvalidTransition
from collector.domain.incident import IncidentState, SubjectsGround
from collector.workflow.audit import verify_audit
from collector.workflow.errors import NothingToAssess, UnknownIncident
from tests.unit.workflow.helpers import EGRESS, T0, World


def _egress_incident(world: World) -> str:
    world.emit(world.device("laptop-1"), "case_file_egress", EGRESS)
    world.service.catch_up()
    return world.store.list_incidents()[0].incident_id


def test_the_whole_life_cycle_is_audited_and_the_chain_verifies(world: World) -> None:
    incident_id = _egress_incident(world)
    c = world.service.commands
    world.clock.advance(hours=1)
    record = c.confirm(incident_id, by="ig.officer", aware_at=T0, reason="confirmed copy to USB")
    assert record.incident.aware_at == T0
    record = c.assess(incident_id, by="ig.officer")
    assert record.incident.assessment is not None and not record.incident.assessment.draft
    record = c.decide(incident_id, by="ig.officer", reportable=True, reason="case files on a stick")
    record = c.notify_ico(incident_id, by="ig.officer", ico_case_reference="IC-1")
    record = c.exempt_subjects(incident_id, by="ig.officer", ground=SubjectsGround.ART_34_3_B, reason="recovered")
    record = c.record_action(incident_id, by="ig.officer", text="stick recovered")
    record = c.close(incident_id, by="ig.officer", root_cause="no USB control", lessons_learned="block USB writes")
    assert record.incident.state is IncidentState.CLOSED
    count, problems = verify_audit(world.store)
    assert problems == [] and count >= 8
    actions = [e.action for e in world.store.audit_entries()]
    assert actions[:2] == ["incident.open", "incident.draft_assessment"]
    assert "incident.confirm" in actions and actions[-1] == "incident.close"


def test_aware_later_than_the_signal_needs_a_justification(world: World) -> None:
    incident_id = _egress_incident(world)
    world.clock.advance(hours=5)
    with pytest.raises(AwarenessJustificationRequired):
        world.service.commands.confirm(incident_id, by="ig", aware_at=T0 + timedelta(hours=4), reason="r")
    record = world.service.commands.confirm(
        incident_id, by="ig", aware_at=T0 + timedelta(hours=4), reason="r", justification="weekend triage"
    )
    assert format_london(T0 + timedelta(hours=76)) == "Thu 23 Oct 2025, 14:00 BST"
    assert record.incident.aware_at == T0 + timedelta(hours=4)


def test_refused_steps_change_nothing(world: World) -> None:
    incident_id = _egress_incident(world)
    before = list(world.store.audit_entries())
    with pytest.raises(InvalidTransition):
        world.service.commands.close(incident_id, by="ig")
    with pytest.raises(UnknownIncident):
        world.service.commands.dismiss("INC-1999-0001", by="ig", reason="r")
    assert list(world.store.audit_entries()) == before


def test_assessing_without_a_draft_needs_scores_and_a_note(world: World) -> None:
    world.emit(world.device("laptop-1"), "lock_failed", {"idle_seconds": 900, "reason": "no locker"})
    world.service.catch_up()
    [record] = world.store.list_incidents()
    assert record.draft is None
    c = world.service.commands
    c.confirm(record.incident_id, by="ig", aware_at=T0, reason="lock failed on a shared office")
    with pytest.raises(NothingToAssess):
        c.assess(record.incident_id, by="ig")
    done = c.assess(record.incident_id, by="ig", likelihood=1, severity=1, note="office locked")
    assert done.incident.assessment is not None and int(done.incident.assessment.likelihood) == 2  # floor


def test_a_new_risk_grade_is_announced(world: World) -> None:
    incident_id = _egress_incident(world)
    c = world.service.commands
    c.confirm(incident_id, by="ig", aware_at=T0, reason="r")
    c.assess(incident_id, by="ig", likelihood=1, severity=1, note="encrypted stick, recovered")
    kinds = [r[0] for r in world.store.db.execute("SELECT kind FROM wf_notifications ORDER BY id")]
    assert kinds == ["new_incident", "risk_grade_changed"]


def test_split_moves_the_alert_and_its_index(world: World) -> None:
    laptop = world.device("laptop-1")
    world.emit(laptop, "case_file_egress", EGRESS)
    world.emit(laptop, "case_file_egress", {**EGRESS, "file": {**EGRESS["file"], "sha256_hmac": "ef" * 16}})
    world.service.catch_up()
    [record] = world.store.list_incidents()
    moved = record.incident.alerts[1].alert_id
    new = world.service.commands.split(record.incident_id, moved, by="ig", reason="a different stick")
    assert new.incident_id == "INC-2025-0002" and world.store.incident_for_alert(moved) == new.incident_id
    assert len(world.store.get_incident(record.incident_id).incident.alerts) == 1  # type: ignore[union-attr]


def test_tampering_and_truncation_are_detected(world: World) -> None:
    incident_id = _egress_incident(world)
    world.service.commands.dismiss(incident_id, by="ig", reason="a test file")
    assert verify_audit(world.store)[1] == []
    db = sqlite3.connect(world.path)
    db.execute("UPDATE wf_audit SET actor = 'someone else' WHERE seq = 1")
    db.commit()
    assert [str(p.kind) for p in verify_audit(world.store)[1]] == ["edited"]
    db.execute("UPDATE wf_audit SET actor = 'caseguard' WHERE seq = 1")
    db.execute("DELETE FROM wf_audit WHERE seq = (SELECT MAX(seq) FROM wf_audit)")
    db.commit()
    db.close()
    assert [str(p.kind) for p in verify_audit(world.store)[1]] == ["head_mismatch"]
