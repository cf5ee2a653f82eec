"""The ICO draft (prefill, edits, export) and the register, each export audited."""

from __future__ import annotations

import argparse
import json

import pytest

from collector.cli.workflow import parse_answer
from collector.domain.errors import InvalidDraftField
from collector.domain.ico_prefill import OrgProfile
from collector.domain.ico_report import ANSWER_FIELDS, to_json
from collector.workflow.service import WorkflowService
from tests.unit.workflow.helpers import EGRESS, T0, World


def _service(world: World) -> tuple[WorkflowService, str]:
    org = OrgProfile("Example Council", "Z1234567", dpo_email="dpo@example.org")
    service = WorkflowService(world.store, org=org, clock=world.clock)
    world.emit(world.device("laptop-1"), "case_file_egress", EGRESS)
    service.catch_up()
    return service, world.store.list_incidents()[0].incident_id


def test_the_draft_is_prefilled_edited_and_free_of_personal_data(world: World) -> None:
    service, incident_id = _service(world)
    service.commands.confirm(incident_id, by="ig", aware_at=T0, reason="confirmed")
    edited = service.exports.edit_ico_draft(
        incident_id,
        {"approx_people": 12, "other_organisations": ["police"], "recurrence_prevention": "USB blocked"},
        by="ig",
    )
    assert edited.approx_people == 12 and edited.organisation_name == "Example Council"
    exported = json.loads(to_json(service.exports.export_ico_draft(incident_id, by="ig")))
    answers = {name: value for section in exported["sections"].values() for name, value in section.items()}
    assert set(answers) == set(ANSWER_FIELDS)
    assert answers["approx_people"] == 12 and answers["other_organisations"] == ["police"]
    assert answers["dpo_email"] == "dpo@example.org" and answers["approx_records"] == 1
    assert "Child A" not in json.dumps(exported)
    actions = [e.action for e in world.store.audit_entries()]
    assert actions[-2:] == ["ico_draft.edit", "ico_draft.export"]
    with pytest.raises(InvalidDraftField):
        service.exports.edit_ico_draft(incident_id, {"people_told": "maybe"}, by="ig")


def test_the_register_lists_every_incident_and_is_audited(world: World) -> None:
    service, incident_id = _service(world)
    service.commands.dismiss(incident_id, by="ig", reason="a training file")
    [row] = service.exports.export_register(by="ig")
    assert row.incident_id == incident_id and row.decision.startswith("Dismissed")
    assert "dismiss by ig" in row.decision_reasons
    assert [e.action for e in world.store.audit_entries()][-1] == "register.export"


def test_answers_on_the_command_line() -> None:
    assert parse_answer("approx_people=40") == ("approx_people", 40)
    assert parse_answer("approx_records=") == ("approx_records", None)
    assert parse_answer("data_categories=health, basic_identifiers") == (
        "data_categories",
        ["health", "basic_identifiers"],
    )
    assert parse_answer("what_happened=a=b") == ("what_happened", "a=b")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_answer("approx_people=many")
