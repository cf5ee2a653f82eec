"""The ICO draft says what the officer decided, in the form's own terms (issue 15, findings 3-5).

Sources:
- [FORM] ICO, "Report a personal data breach" form (personal-data-breach-report-form-web-dpa-2018.doc
  and the online form, part one "About your report"): report type "Initial report" / "Follow-up
  report"; "Reason for report - after consulting the guidance, you've decided that: the breach
  meets the threshold for reporting / doesn't meet the threshold, but you want us to be aware /
  you're unsure whether it meets the threshold"; "Have you spoken to ICO staff about this
  breach?"; other organisations told, including data protection authorities outside the UK;
  "About you": the person the ICO should contact, if not the reporter. Categories of personal
  data: "Basic personal identifiers, eg name, contact details", "Identification data, eg
  usernames, passwords", "Official documents, eg driving licences".
- [ART33] UK GDPR Art. 33(3)(a): the notification describes "the categories and approximate
  number of data subjects concerned and the categories and approximate number of personal data
  records concerned" (two different numbers).
- [ICO-72H] ICO: report "without undue delay and, where feasible, within 72 hours".
"""

from __future__ import annotations

from datetime import timedelta

from collector.domain.grouping import attach_alert
from collector.domain.ico_form import LABELS, PersonalDataCategory, ReportReason
from collector.domain.ico_prefill import OrgProfile, prefill_ico_report
from collector.domain.ico_report import missing_answers, to_text
from collector.domain.incident import Incident, ReportType
from collector.domain.lifecycle import Assess, Confirm, DecideReportable, apply
from collector.domain.risk import score_assessment

from .builders import T0, egress_alert, new_incident

OFFICER = "ig.officer"
ORG = OrgProfile("Northshire Council Children's Services", "Z1234567", contact_name="Duty IG officer")


def egress(identifiers: dict[str, int] | None = None) -> Incident:
    incident = new_incident(egress_alert(at=T0, identifiers=identifiers or {}))
    return apply(incident, Confirm(OFFICER, "copied to USB", aware_at=T0), T0 + timedelta(hours=1)).incident


def graded(incident: Incident, likelihood: int, severity: int) -> Incident:
    a = score_assessment(likelihood, severity, involves_vulnerable=False, rationale=(), draft=False,
                         assessed_at=T0 + timedelta(hours=1), assessed_by=OFFICER, note="re-graded")  # fmt: skip
    return apply(incident, Assess(OFFICER, a), T0 + timedelta(hours=1)).incident


def test_reason_for_report_follows_a_reportable_decision_against_the_grid():
    """Issue: re-graded 2 x 2, decided reportable, the draft still said "record internally"."""
    incident = graded(egress(), 2, 2)
    before = prefill_ico_report(incident, ORG, T0 + timedelta(hours=2))
    assert before.report_reason is None and "report_reason" in missing_answers(before)
    decided = apply(incident, DecideReportable(OFFICER, "children's data"), T0 + timedelta(hours=2)).incident
    draft = prefill_ico_report(decided, ORG, T0 + timedelta(hours=3))
    assert draft.report_reason is ReportReason.MEETS_THRESHOLD  # [FORM] the officer's decision governs
    assert "record internally" not in draft.reason_for_reporting.lower()
    assert "decided the breach is reportable" in draft.reason_for_reporting
    assert "goes further than the grid" in draft.reason_for_reporting


def test_the_form_offers_its_three_reasons_for_report():
    """[FORM] exactly the three choices, in the form's words."""
    assert [LABELS[r] for r in ReportReason] == [
        "The breach meets the threshold for reporting",
        "The breach does not meet the threshold, but we want the ICO to be aware",
        "We are unsure whether the breach meets the threshold",
    ]


def test_report_type_prints_in_words_and_the_deadline_in_the_statutory_wording():
    """[FORM] "Initial report"; [ICO-72H] "without undue delay and, where feasible, within 72 hours"."""
    text = to_text(prefill_ico_report(egress(), ORG, T0 + timedelta(hours=2)))
    assert "Initial report" in text and "\n    initial\n" not in text
    assert "without undue delay and, where feasible, within 72 hours" in text


def test_the_draft_asks_about_ico_staff_overseas_authorities_and_a_separate_contact():
    """[FORM] questions the old draft did not have."""
    draft = prefill_ico_report(egress(), ORG, T0 + timedelta(hours=2))
    text = to_text(draft)
    assert "Have you spoken to ICO staff about this breach?" in text
    assert "data protection authorities outside the UK" in text
    assert draft.contact_name == "Duty IG officer"
    assert draft.report_type is ReportType.INITIAL


def test_number_of_people_is_asked_for_even_when_documents_were_counted():
    """[ART33] records and people are different numbers; Caseguard counts only documents."""
    second = egress_alert(at=T0 + timedelta(minutes=1))
    incident = attach_alert(egress(), second, T0 + timedelta(minutes=2)).incident
    draft = prefill_ico_report(incident, ORG, T0 + timedelta(hours=2))
    assert draft.approx_records == 2
    assert draft.approx_people is None and "approx_people" in missing_answers(draft)


def test_nhs_ni_and_pupil_numbers_are_not_usernames_or_passwords():
    """[FORM] "Identification data, eg usernames, passwords" is credentials, not the person's numbers."""
    draft = prefill_ico_report(egress({"nhs_number": 3, "ni_number": 1, "upn": 2}), ORG, T0 + timedelta(hours=2))
    assert PersonalDataCategory.IDENTIFICATION_DATA not in draft.data_categories
    assert PersonalDataCategory.BASIC_IDENTIFIERS in draft.data_categories
    assert PersonalDataCategory.OFFICIAL_DOCUMENTS in draft.data_categories
