"""Prefill an ICO report draft from an incident and the organisation's standing answers.

No personal data by default: the prefill never copies file names, volume labels, device
names, reporters or any free text from events; actions recorded by officers (free text)
only when asked (``include_recorded_actions=True``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from collector.domain.alerts import AlertKind
from collector.domain.clocks import deadline, format_london
from collector.domain.event_facts import DevicePosture, EncryptionState
from collector.domain.ico_form import (
    ConsequenceLikelihood,
    DataSubjectCategory,
    PeopleTold,
    PersonalDataCategory,
    ReportReason,
    YesNoUnknown,
)
from collector.domain.ico_report import IcoReportDraft
from collector.domain.incident import SUBJECTS_GROUND_TEXT, Incident, ReportType
from collector.domain.incident_facts import (
    describe_how_discovered,
    describe_how_it_happened,
    describe_what_happened,
    distinct_files,
    first_occurred_at,
    first_received_at,
    identifier_totals,
)
from collector.domain.instants import require_utc
from collector.domain.risk import LIKELIHOOD_TEXT, SEVERITY_TEXT, GridBand, Likelihood, RiskAssessment

_BAND_TEXT: Mapping[GridBand, str] = {
    GridBand.NOT_REPORTABLE: "below the DSPT threshold for reporting",
    GridBand.ICO: "reportable to the ICO",
    GridBand.ICO_AND_DHSC: "reportable to the ICO and to DHSC",
}


@dataclass(frozen=True)
class OrgProfile:
    """The organisation's standing answers ("About you" and defaults), from configuration."""

    organisation_name: str
    ico_registration_number: str
    address: str = ""
    reporter_name: str = ""
    reporter_role: str = ""
    reporter_email: str = ""
    reporter_phone: str = ""
    dpo_name: str = ""
    dpo_email: str = ""
    dpo_phone: str = ""
    contact_name: str = ""
    contact_role: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    staff_training_last_two_years: YesNoUnknown = YesNoUnknown.NOT_KNOWN
    training_details: str = ""
    measures_in_place: str = ""
    potential_consequences: str = ""
    case_file_data_categories: tuple[PersonalDataCategory, ...] = (PersonalDataCategory.BASIC_IDENTIFIERS,)
    data_subject_categories: tuple[DataSubjectCategory, ...] = (DataSubjectCategory.CHILDREN,)


_CONSEQUENCE_FROM_LIKELIHOOD: Mapping[Likelihood, ConsequenceLikelihood] = {
    Likelihood.NOT_OCCURRED: ConsequenceLikelihood.VERY_UNLIKELY,
    Likelihood.NOT_LIKELY: ConsequenceLikelihood.UNLIKELY,
    Likelihood.LIKELY: ConsequenceLikelihood.LIKELY,
    Likelihood.HIGHLY_LIKELY: ConsequenceLikelihood.VERY_LIKELY,
    Likelihood.OCCURRED: ConsequenceLikelihood.VERY_LIKELY,
}
# The ICO form's own examples decide: "Identification data, eg usernames, passwords" is about
# credentials, not about the person. An NHS number, a pupil number or a case reference
# identifies the person ("Basic personal identifiers, eg name, contact details"); a National
# Insurance number is a government-issued identifier, like the form's "Official documents,
# eg driving licences".
_IDENTIFIER_CATEGORIES: Mapping[str, PersonalDataCategory] = {
    "nhs_number": PersonalDataCategory.BASIC_IDENTIFIERS,
    "ni_number": PersonalDataCategory.OFFICIAL_DOCUMENTS,
    "upn": PersonalDataCategory.BASIC_IDENTIFIERS,
    "case_reference": PersonalDataCategory.BASIC_IDENTIFIERS,
}
_HUMAN_KINDS = frozenset(
    {
        AlertKind.CASE_FILE_EGRESS,
        AlertKind.CASE_FILES_FOUND,
        AlertKind.LOST_DEVICE,
        AlertKind.LOCK_FAILED,
        AlertKind.LOST_DEVICE_CHECK_IN,
    }
)


def _measures(org: OrgProfile, posture: DevicePosture | None) -> str:
    parts = [org.measures_in_place.strip()] if org.measures_in_place.strip() else []
    if posture is not None:
        encryption = {
            EncryptionState.ENCRYPTED: "full-disk encryption was on",
            EncryptionState.NOT_ENCRYPTED: "the disk was not encrypted",
            EncryptionState.PARTIAL: "the disk was only partly encrypted",
            EncryptionState.UNSPECIFIED: "disk encryption was not known",
        }[posture.encryption]
        method = f" ({posture.encryption_method})" if posture.encryption_method else ""
        lock = "the Caseguard idle lock was enforced" if posture.lock_enforced_by_agent else "no agent idle lock"
        parts.append(f"On the laptop (as of {format_london(posture.observed_at)}): {encryption}{method}; {lock}.")
    return " ".join(parts)


def report_reason(incident: Incident) -> tuple[ReportReason | None, str]:
    """The form's "reason for report" and its explanation, from the current decision and grid.

    Generated afresh every time, so it always says what the recorded decision and assessment
    say now (an officer's own wording is kept apart, as an edit). The officer's decision
    governs the choice; where it goes against the grid, the text says so.
    """
    assessment, decision = incident.assessment, incident.reportability
    grid = _grid_sentence(assessment)
    if decision is None:
        return None, f"{grid} No decision on reporting is recorded yet."
    when = format_london(decision.at)
    if decision.reportable:
        against = "" if decision.agrees_with_grid else " This decision goes further than the grid alone would."
        return ReportReason.MEETS_THRESHOLD, f"{grid} On {when} we decided the breach is reportable.{against}"
    return (
        ReportReason.BELOW_THRESHOLD_WANT_AWARE,
        f"{grid} On {when} we decided the breach is unlikely to result in a risk; we are telling the ICO so it "
        "is aware.",
    )


def _grid_sentence(assessment: RiskAssessment | None) -> str:
    if assessment is None:
        return "The risk has not been assessed yet."
    lik, sev = assessment.likelihood, assessment.severity
    high = " It is high risk to the people affected (Art. 34)." if assessment.high_risk else ""
    return (
        f"On the DSPT breach assessment grid: likelihood {int(lik)} ({LIKELIHOOD_TEXT[lik].split(',')[0]}), "
        f"severity {int(sev)} ({SEVERITY_TEXT[sev].split(',')[0]}): {_BAND_TEXT[assessment.band]}.{high}"
    )


def prefill_ico_report(
    incident: Incident,
    org: OrgProfile,
    now: datetime,
    *,
    posture: DevicePosture | None = None,
    include_recorded_actions: bool = False,
) -> IcoReportDraft:
    """Draft the ICO report for ``incident`` from its alerts, assessment and decisions, and ``org``.

    ``posture`` (the lost device's last posture) adds the number of protected documents and
    the security measures in place. Recorded actions are free text written by people and
    are copied into "containment" only when ``include_recorded_actions`` is True.
    """
    current = require_utc(now, "now")
    kinds = {a.kind for a in incident.alerts}
    initial = incident.initial_submission
    assessment = incident.assessment
    human = kinds <= _HUMAN_KINDS
    categories = list(org.case_file_data_categories)
    categories += [_IDENTIFIER_CATEGORIES[k] for k in identifier_totals(incident.alerts) if k in _IDENTIFIER_CATEGORIES]
    if kinds & {AlertKind.CASE_FILE_EGRESS, AlertKind.CASE_FILES_FOUND}:
        records: int | None = distinct_files(incident.alerts)
    elif AlertKind.LOST_DEVICE in kinds and posture is not None:
        records = posture.protected_documents_indexed
    else:
        records = None
    reason, reason_text = report_reason(incident)
    if incident.subjects is None:
        told, told_details = PeopleTold.UNDECIDED, ""
    elif incident.subjects.informed:
        told, told_details = PeopleTold.TOLD, ""
    else:
        ground = incident.subjects.ground
        told, told_details = PeopleTold.DECIDED_NOT_TO, SUBJECTS_GROUND_TEXT[ground] if ground else ""
    return IcoReportDraft(
        incident_id=incident.incident_id,
        prepared_at=current,
        deadline=deadline(incident),
        report_type=ReportType.FOLLOW_UP if initial else ReportType.INITIAL,
        ico_case_reference=incident.ico_case_reference,
        report_reason=reason,
        reason_for_reporting=("Further information on our initial report. " if initial else "") + reason_text,
        what_happened=describe_what_happened(incident),
        how_it_happened=describe_how_it_happened(incident),
        cyber_incident=YesNoUnknown.NO if human else YesNoUnknown.NOT_KNOWN,
        how_discovered=describe_how_discovered(incident),
        occurred_at=first_occurred_at(incident),
        discovered_at=incident.aware_at or first_received_at(incident),
        data_categories=tuple(dict.fromkeys(categories)) or (PersonalDataCategory.NOT_YET_KNOWN,),
        approx_records=records,
        subject_categories=org.data_subject_categories,
        potential_consequences=org.potential_consequences,
        consequence_likelihood=(
            _CONSEQUENCE_FROM_LIKELIHOOD[assessment.likelihood] if assessment else ConsequenceLikelihood.NOT_YET_KNOWN
        ),
        cia_affected=YesNoUnknown.NO if human else YesNoUnknown.NOT_KNOWN,
        staff_involved=YesNoUnknown.YES if human else YesNoUnknown.NOT_KNOWN,
        staff_training_last_two_years=org.staff_training_last_two_years,
        training_details=org.training_details,
        containment_actions="\n".join(a.text for a in incident.actions) if include_recorded_actions else "",
        measures_in_place_before=_measures(org, posture),
        people_told=told,
        people_told_details=told_details,
        organisation_name=org.organisation_name,
        ico_registration_number=org.ico_registration_number,
        organisation_address=org.address,
        reporter_name=org.reporter_name,
        reporter_role=org.reporter_role,
        reporter_email=org.reporter_email,
        reporter_phone=org.reporter_phone,
        dpo_name=org.dpo_name,
        dpo_email=org.dpo_email,
        dpo_phone=org.dpo_phone,
        contact_name=org.contact_name,
        contact_role=org.contact_role,
        contact_email=org.contact_email,
        contact_phone=org.contact_phone,
    )
