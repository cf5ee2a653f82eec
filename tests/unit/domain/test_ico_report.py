from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from collector.domain.errors import InvalidDraftField
from collector.domain.event_facts import DevicePosture, EncryptionState
from collector.domain.grouping import attach_alert
from collector.domain.ico_form import (
    ConsequenceLikelihood,
    DataSubjectCategory,
    PeopleTold,
    PersonalDataCategory,
    YesNoUnknown,
)
from collector.domain.ico_prefill import OrgProfile, prefill_ico_report
from collector.domain.ico_report import (
    ANSWER_FIELDS,
    FORM,
    IcoReportDraft,
    missing_answers,
    to_json,
    to_text,
    update_draft,
)
from collector.domain.incident import Incident, ReportType, SubjectsGround
from collector.domain.lifecycle import (
    Assess,
    Confirm,
    DecideReportable,
    ExemptSubjects,
    NotifyIco,
    RecordAction,
    apply,
)
from collector.domain.pre_assessment import pre_assess_lost_device
from collector.domain.risk import confirm_assessment

from .builders import T0, egress_alert, lost_alert, new_incident

OFFICER = "ig.officer"
ORG = OrgProfile(
    organisation_name="Exampleshire County Council",
    ico_registration_number="Z0000000",
    address="1 Example Street, Exampletown",
    reporter_name="Alex Reporter",
    reporter_email="ig@exampleshire.example",
    dpo_name="Dee Peo",
    staff_training_last_two_years=YesNoUnknown.YES,
    measures_in_place="Full-disk encryption policy; Caseguard agent on all laptops.",
    data_subject_categories=(DataSubjectCategory.CHILDREN, DataSubjectCategory.VULNERABLE_ADULTS),
)
POSTURE = DevicePosture(
    observed_at=T0,
    encryption=EncryptionState.NOT_ENCRYPTED,
    lock_enforced_by_agent=False,
    protected_documents_indexed=37,
)
# Every question of the ICO form, by section, as the JSON must carry it.
EXPECTED_SECTIONS = {
    "report": {"report_type", "ico_case_reference", "report_reason", "reason_for_reporting", "spoken_to_ico_staff",
               "ico_staff_details"},
    "about_the_breach": {
        "what_happened", "how_it_happened", "cyber_incident", "how_discovered", "occurred_at", "discovered_at",
        "late_reasons", "data_categories", "data_categories_other", "approx_records", "approx_people",
        "subject_categories", "subject_categories_other", "potential_consequences", "consequence_likelihood",
    },
    "cyber": {"cia_affected", "cia_impacts", "organisational_impact", "recovery_time"},
    "staff": {"staff_involved", "staff_training_last_two_years", "training_details"},
    "taking_action": {
        "containment_actions", "measures_in_place_before", "recurrence_prevention", "people_told",
        "people_told_details", "other_organisations", "other_organisations_details", "overseas_authorities",
        "overseas_authorities_details",
    },
    "about_you": {
        "organisation_name", "ico_registration_number", "organisation_address", "reporter_name", "reporter_role",
        "reporter_email", "reporter_phone", "dpo_name", "dpo_email", "dpo_phone", "contact_name", "contact_role",
        "contact_email", "contact_phone",
    },
}  # fmt: skip
SECRETS = ("Jane Example", "Example family", "jane.example", "LAPTOP-0042", "Smith_child_protection_plan", "STICK")


def lost_incident() -> Incident:
    incident = new_incident(lost_alert(at=T0 - timedelta(hours=2), received=T0))
    incident = apply(incident, Confirm(OFFICER, "lost", aware_at=T0), T0 + timedelta(hours=1)).incident
    draft = pre_assess_lost_device(POSTURE, None, T0 + timedelta(hours=1))
    assessment = confirm_assessment(draft, by=OFFICER, at=T0 + timedelta(hours=2))
    return apply(incident, Assess(OFFICER, assessment), T0 + timedelta(hours=2)).incident


def egress_incident() -> Incident:
    first = egress_alert(at=T0, file_name="Smith_child_protection_plan.docx", markings=("OFFICIAL-SENSITIVE",))
    incident = new_incident(first)
    second = egress_alert(at=T0 + timedelta(minutes=1), identifiers={"nhs_number": 3, "ni_number": 1})
    return attach_alert(incident, second, T0 + timedelta(minutes=2)).incident


def test_every_ico_form_field_is_present_in_the_json():
    document = json.loads(to_json(prefill_ico_report(lost_incident(), ORG, T0 + timedelta(hours=3))))
    assert {k: set(v) for k, v in document["sections"].items()} == EXPECTED_SECTIONS
    assert document["status"] == "draft" and document["incident_id"] == "inc-1"
    assert document["deadline"] == "2025-10-23T09:00:00.000000Z"


def test_form_table_and_dataclass_agree():
    declared = {f.name for f in dataclasses.fields(IcoReportDraft)} - {"incident_id", "prepared_at", "deadline"}
    assert set(ANSWER_FIELDS) == declared
    assert len(ANSWER_FIELDS) == len(set(ANSWER_FIELDS))
    assert [key for key, _, _ in FORM] == list(EXPECTED_SECTIONS)


def test_json_is_stable():
    draft = prefill_ico_report(egress_incident(), ORG, T0 + timedelta(hours=3))
    text = to_json(draft)
    assert text == to_json(draft)
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_prefill_for_a_lost_unencrypted_laptop():
    draft = prefill_ico_report(lost_incident(), ORG, T0 + timedelta(hours=3), posture=POSTURE)
    assert draft.report_type is ReportType.INITIAL
    assert draft.occurred_at == T0 - timedelta(hours=2) and draft.discovered_at == T0
    assert draft.approx_records == 37 and draft.approx_people is None
    assert draft.subject_categories == (DataSubjectCategory.CHILDREN, DataSubjectCategory.VULNERABLE_ADULTS)
    assert draft.consequence_likelihood is ConsequenceLikelihood.VERY_LIKELY
    assert draft.cyber_incident is YesNoUnknown.NO and draft.staff_involved is YesNoUnknown.YES
    assert "not encrypted" in draft.measures_in_place_before
    assert draft.organisation_name == ORG.organisation_name and draft.dpo_name == "Dee Peo"
    assert "lost or stolen" in draft.what_happened
    assert "likelihood 4 (Highly likely)" in draft.reason_for_reporting


def test_prefill_for_egress_counts_files_and_maps_identifiers():
    draft = prefill_ico_report(egress_incident(), ORG, T0 + timedelta(hours=3))
    assert draft.approx_records == 2
    assert PersonalDataCategory.IDENTIFICATION_DATA not in draft.data_categories  # "usernames, passwords"
    assert PersonalDataCategory.BASIC_IDENTIFIERS in draft.data_categories  # NHS numbers
    assert PersonalDataCategory.OFFICIAL_DOCUMENTS in draft.data_categories  # NI number
    assert "2 case files copied to a removable volume (usb)" in draft.what_happened
    assert "5 NHS numbers" in draft.what_happened and "OFFICIAL-SENSITIVE" in draft.what_happened
    assert draft.consequence_likelihood is ConsequenceLikelihood.NOT_YET_KNOWN  # not assessed yet


def test_no_personal_data_from_events_by_default():
    incident = apply(lost_incident(), RecordAction(OFFICER, "Phoned Jane Example"), T0 + timedelta(hours=3)).incident
    for inc in (incident, egress_incident()):
        draft = prefill_ico_report(inc, ORG, T0 + timedelta(hours=3), posture=POSTURE)
        for exported in (to_json(draft), to_text(draft)):
            for secret in SECRETS:
                assert secret not in exported
    with_actions = prefill_ico_report(incident, ORG, T0 + timedelta(hours=3), include_recorded_actions=True)
    assert with_actions.containment_actions == "Phoned Jane Example"  # only because it was asked for


def test_follow_up_prefill_and_people_told():
    incident = apply(lost_incident(), DecideReportable(OFFICER, "x"), T0 + timedelta(hours=3)).incident
    incident = apply(
        incident, NotifyIco(OFFICER, ReportType.INITIAL, ico_case_reference="IC-42"), T0 + timedelta(hours=4)
    ).incident
    incident = apply(
        incident, ExemptSubjects(OFFICER, SubjectsGround.ART_34_3_C, "x"), T0 + timedelta(hours=5)
    ).incident
    draft = prefill_ico_report(incident, ORG, T0 + timedelta(hours=6))
    assert draft.report_type is ReportType.FOLLOW_UP and draft.ico_case_reference == "IC-42"
    assert draft.people_told is PeopleTold.DECIDED_NOT_TO
    assert "34(3)(c)" in draft.people_told_details


def test_update_draft_validates_and_coerces_enum_answers():
    draft = prefill_ico_report(egress_incident(), ORG, T0 + timedelta(hours=3))
    edited = update_draft(
        draft,
        people_told="planning",
        data_categories=["health", "basic_identifiers"],
        approx_people=12,
        occurred_at="2025-10-20T08:55:00Z",
    )
    assert edited is not draft and draft.people_told is PeopleTold.UNDECIDED
    assert edited.people_told is PeopleTold.PLANNING
    assert edited.data_categories == (PersonalDataCategory.HEALTH, PersonalDataCategory.BASIC_IDENTIFIERS)
    assert edited.approx_people == 12
    assert edited.occurred_at == T0 - timedelta(minutes=5)
    for bad in (
        {"people_told": "maybe"},
        {"data_categories": ["health", "gossip"]},
        {"approx_people": -1},
        {"approx_records": "many"},
        {"cyber_incident": None},
        {"what_happened": 42},
        {"incident_id": "other"},
        {"no_such_question": "x"},
    ):
        with pytest.raises(InvalidDraftField):
            update_draft(draft, **bad)


def test_missing_answers_include_late_reasons_only_when_late():
    on_time = prefill_ico_report(lost_incident(), ORG, T0 + timedelta(hours=3))
    late = prefill_ico_report(lost_incident(), ORG, T0 + timedelta(hours=73))
    assert "late_reasons" not in missing_answers(on_time)
    assert "late_reasons" in missing_answers(late)
    assert "containment_actions" in missing_answers(on_time)
    assert "late_reasons" not in missing_answers(update_draft(late, late_reasons="waited for police"))


def test_text_export_is_readable_and_complete():
    draft = prefill_ico_report(lost_incident(), ORG, T0 + timedelta(hours=3), posture=POSTURE)
    text = to_text(draft)
    assert text.startswith("PERSONAL DATA BREACH REPORT TO THE ICO - DRAFT")
    for _, title, fields in FORM:
        assert title.upper() in text
        for _, question in fields:
            assert question in text
    assert "where feasible, within 72 hours of becoming aware: by Thu 23 Oct 2025, 10:00 BST." in text
    assert "Children; Vulnerable adults" in text
    assert "(not answered yet)" in text
    assert "Mon 20 Oct 2025, 08:00 BST" in text  # when it happened, in UK time
