"""A draft of the ICO's personal data breach report: its fields, edits and exports.

The draft holds one field per question on the ICO form (see ``FORM`` for the sections and
the questions' wording). ``ico_prefill.prefill_ico_report`` makes one from an incident;
``update_draft`` returns a new draft with a person's edits (enum answers validated);
``to_json`` and ``to_text`` export it. The ICO asks that the form holds no personal data
about the people affected; nothing here adds any.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from collector.domain.canonical_json import JsonValue
from collector.domain.clocks import format_london
from collector.domain.errors import InvalidDraftField
from collector.domain.ico_form import (
    LABELS,
    CiaImpact,
    ConsequenceLikelihood,
    DataSubjectCategory,
    OrganisationalImpact,
    OtherOrganisation,
    PeopleTold,
    PersonalDataCategory,
    RecoveryTime,
    ReportReason,
    YesNoUnknown,
)
from collector.domain.incident import ReportType
from collector.domain.instants import iso_utc, parse_iso_utc, require_optional_utc, require_utc

FORMAT_NAME = "caseguard.ico-breach-report-draft"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class IcoReportDraft:
    """Every answer on the ICO breach report form, plus which incident it is for.

    ``None`` means "not answered yet"; the text export prints it as such.
    """

    incident_id: str
    prepared_at: datetime
    deadline: datetime | None
    # Your report
    report_type: ReportType = ReportType.INITIAL
    ico_case_reference: str = ""
    report_reason: ReportReason | None = None
    reason_for_reporting: str = ""
    spoken_to_ico_staff: YesNoUnknown | None = None
    ico_staff_details: str = ""
    # About the breach
    what_happened: str = ""
    how_it_happened: str = ""
    cyber_incident: YesNoUnknown = YesNoUnknown.NOT_KNOWN
    how_discovered: str = ""
    occurred_at: datetime | None = None
    discovered_at: datetime | None = None
    late_reasons: str = ""
    data_categories: tuple[PersonalDataCategory, ...] = ()
    data_categories_other: str = ""
    approx_records: int | None = None
    approx_people: int | None = None
    subject_categories: tuple[DataSubjectCategory, ...] = ()
    subject_categories_other: str = ""
    potential_consequences: str = ""
    consequence_likelihood: ConsequenceLikelihood = ConsequenceLikelihood.NOT_YET_KNOWN
    # Cyber incidents only
    cia_affected: YesNoUnknown | None = None
    cia_impacts: tuple[CiaImpact, ...] = ()
    organisational_impact: OrganisationalImpact | None = None
    recovery_time: RecoveryTime | None = None
    # Staff
    staff_involved: YesNoUnknown = YesNoUnknown.NOT_KNOWN
    staff_training_last_two_years: YesNoUnknown = YesNoUnknown.NOT_KNOWN
    training_details: str = ""
    # Taking action
    containment_actions: str = ""
    measures_in_place_before: str = ""
    recurrence_prevention: str = ""
    people_told: PeopleTold = PeopleTold.UNDECIDED
    people_told_details: str = ""
    other_organisations: tuple[OtherOrganisation, ...] = ()
    other_organisations_details: str = ""
    overseas_authorities: YesNoUnknown | None = None
    overseas_authorities_details: str = ""
    # About you
    organisation_name: str = ""
    ico_registration_number: str = ""
    organisation_address: str = ""
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

    def __post_init__(self) -> None:
        _validate(self)


# The form, section by section: (key, title, ((field, question), ...)). Every answer field appears once.
FORM: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("report", "Your report", (
        ("report_type", "Is this an initial report or a follow-up?"),
        ("ico_case_reference", "ICO case reference (follow-up reports)"),
        ("report_reason", "Reason for report: after consulting the guidance, you have decided that"),
        ("reason_for_reporting", "Reason for report: our assessment and decision"),
        ("spoken_to_ico_staff", "Have you spoken to ICO staff about this breach?"),
        ("ico_staff_details", "If so, who did you speak to, and when?"),
    )),
    ("about_the_breach", "About the breach", (
        ("what_happened", "What has happened?"),
        ("how_it_happened", "How did it happen?"),
        ("cyber_incident", "Was the breach caused by a cyber incident?"),
        ("how_discovered", "How did you find out about the breach?"),
        ("occurred_at", "When did the breach happen?"),
        ("discovered_at", "When did you discover the breach?"),
        ("late_reasons", "If there has been a delay in reporting, please explain why"),
        ("data_categories", "What categories of personal data were involved?"),
        ("data_categories_other", "Other categories of personal data"),
        ("approx_records", "Approximately how many personal data records were involved?"),
        ("approx_people", "Approximately how many people could be affected?"),
        ("subject_categories", "What categories of people were involved?"),
        ("subject_categories_other", "Other categories of people"),
        ("potential_consequences", "What are the potential consequences and adverse effects on those people?"),
        ("consequence_likelihood", "How likely is it that they will experience significant consequences?"),
    )),
    ("cyber", "Cyber incidents only", (
        ("cia_affected", "Has the confidentiality, integrity or availability of your systems been affected?"),
        ("cia_impacts", "Which were affected?"),
        ("organisational_impact", "What is the impact on your organisation?"),
        ("recovery_time", "How long do you expect recovery to take?"),
    )),
    ("staff", "Staff", (
        ("staff_involved", "Were staff involved in the breach?"),
        ("staff_training_last_two_years", "Have they had data protection training in the last two years?"),
        ("training_details", "Details of the training"),
    )),
    ("taking_action", "Taking action", (
        ("containment_actions", "What have you done to contain the breach and limit its effects?"),
        ("measures_in_place_before", "What measures were in place to prevent a breach of this kind?"),
        ("recurrence_prevention", "What steps will you take to prevent it happening again?"),
        ("people_told", "Have you told the people affected?"),
        ("people_told_details", "Details of telling (or not telling) them"),
        ("other_organisations", "Have you told any other organisations?"),
        ("other_organisations_details", "Details of the other organisations told"),
        ("overseas_authorities", "Have you reported the breach to any data protection authorities outside the UK?"),
        ("overseas_authorities_details", "Which authorities, and when?"),
    )),
    ("about_you", "About you", (
        ("organisation_name", "Organisation name"),
        ("ico_registration_number", "ICO registration number"),
        ("organisation_address", "Organisation address"),
        ("reporter_name", "Your name"),
        ("reporter_role", "Your job title"),
        ("reporter_email", "Your email"),
        ("reporter_phone", "Your telephone number"),
        ("dpo_name", "Data protection officer's name"),
        ("dpo_email", "Data protection officer's email"),
        ("dpo_phone", "Data protection officer's telephone number"),
        ("contact_name", "Who should the ICO contact about this breach, if not you? Name"),
        ("contact_role", "Their job title"),
        ("contact_email", "Their email"),
        ("contact_phone", "Their telephone number"),
    )),
)  # fmt: skip

_META_FIELDS = ("incident_id", "prepared_at", "deadline")
_ENUMS: Mapping[str, type[enum.StrEnum]] = {
    "report_type": ReportType,
    "report_reason": ReportReason,
    "spoken_to_ico_staff": YesNoUnknown,
    "overseas_authorities": YesNoUnknown,
    "cyber_incident": YesNoUnknown,
    "consequence_likelihood": ConsequenceLikelihood,
    "cia_affected": YesNoUnknown,
    "organisational_impact": OrganisationalImpact,
    "recovery_time": RecoveryTime,
    "staff_involved": YesNoUnknown,
    "staff_training_last_two_years": YesNoUnknown,
    "people_told": PeopleTold,
}
_ENUM_TUPLES: Mapping[str, type[enum.StrEnum]] = {
    "data_categories": PersonalDataCategory,
    "subject_categories": DataSubjectCategory,
    "cia_impacts": CiaImpact,
    "other_organisations": OtherOrganisation,
}
_OPTIONAL = frozenset(
    {"cia_affected", "organisational_impact", "recovery_time", "report_reason", "spoken_to_ico_staff",
     "overseas_authorities"}
)  # fmt: skip
_COUNTS = frozenset({"approx_records", "approx_people"})
_TIMES = frozenset({"occurred_at", "discovered_at"})
ANSWER_FIELDS: tuple[str, ...] = tuple(name for _, _, fields in FORM for name, _ in fields)


def _validate(draft: IcoReportDraft) -> None:
    require_utc(draft.prepared_at, "prepared_at")
    require_optional_utc(draft.deadline, "deadline")
    for name in ANSWER_FIELDS:
        value = getattr(draft, name)
        if name in _ENUMS:
            if not (isinstance(value, _ENUMS[name]) or (value is None and name in _OPTIONAL)):
                raise InvalidDraftField(f"{name}: {value!r} is not one of {[str(m) for m in _ENUMS[name]]}")
        elif name in _ENUM_TUPLES:
            if not isinstance(value, tuple) or not all(isinstance(v, _ENUM_TUPLES[name]) for v in value):
                raise InvalidDraftField(f"{name}: each answer must be one of {[str(m) for m in _ENUM_TUPLES[name]]}")
        elif name in _COUNTS:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InvalidDraftField(f"{name}: must be a whole number of 0 or more, or not known")
        elif name in _TIMES:
            require_optional_utc(value, name)
        elif not isinstance(value, str):
            raise InvalidDraftField(f"{name}: must be text")


def _coerce(name: str, value: object) -> object:
    try:
        if name in _ENUMS and isinstance(value, str):
            return _ENUMS[name](value)
        if name in _ENUM_TUPLES and isinstance(value, (list, tuple, set, frozenset)):
            kind = _ENUM_TUPLES[name]
            items = [kind(v) if isinstance(v, str) else v for v in value]
            return tuple(dict.fromkeys(items))
        if name in _TIMES and isinstance(value, str):
            return parse_iso_utc(value)
    except ValueError as exc:
        raise InvalidDraftField(f"{name}: {value!r} is not an allowed answer") from exc
    return value


def update_draft(draft: IcoReportDraft, **changes: object) -> IcoReportDraft:
    """A new draft with ``changes`` applied; enum answers may be given as their string values."""
    for name in changes:
        if name not in ANSWER_FIELDS:
            raise InvalidDraftField(f"{name} is not a question on the ICO form")
    coerced = {name: _coerce(name, value) for name, value in changes.items()}
    return dataclasses.replace(draft, **coerced)  # type: ignore[arg-type]  # validated in __post_init__


def missing_answers(draft: IcoReportDraft) -> tuple[str, ...]:
    """Answer fields a person still has to fill before submitting (late reasons only when late)."""
    needed = ["what_happened", "how_discovered", "potential_consequences", "containment_actions"]
    needed += ["organisation_name", "ico_registration_number", "reporter_name", "reporter_email"]
    if draft.report_type is ReportType.FOLLOW_UP:
        needed.append("ico_case_reference")
    if draft.report_type is ReportType.INITIAL and draft.deadline is not None and draft.prepared_at > draft.deadline:
        needed.append("late_reasons")
    missing = [n for n in needed if not str(getattr(draft, n)).strip()]
    # Art. 33(3)(a): the approximate number of people concerned. Caseguard counts documents
    # (approx_records), never people: a person has to answer this one.
    for name in ("report_reason", "approx_people", "occurred_at"):
        if getattr(draft, name) is None:
            missing.append(name)
    if not draft.data_categories:
        missing.append("data_categories")
    if not draft.subject_categories:
        missing.append("subject_categories")
    return tuple(n for n in ANSWER_FIELDS if n in missing)


def _json_value(value: object) -> JsonValue:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if value is None or isinstance(value, (str, int)):
        return value
    raise TypeError(f"unexpected value {value!r}")  # pragma: no cover - _validate rules this out


def to_json(draft: IcoReportDraft) -> str:
    """The draft as JSON with stable, sorted keys: meta fields plus one object per form section."""
    sections: dict[str, JsonValue] = {
        key: {name: _json_value(getattr(draft, name)) for name, _ in fields} for key, _, fields in FORM
    }
    document: dict[str, JsonValue] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "status": "draft",
        "incident_id": draft.incident_id,
        "prepared_at": iso_utc(draft.prepared_at),
        "deadline": None if draft.deadline is None else iso_utc(draft.deadline),
        "sections": sections,
    }
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)


def _text_value(value: object) -> str:
    if value is None or value == "" or value == ():
        return "(not answered yet)"
    if isinstance(value, enum.Enum):
        return LABELS.get(value, str(value.value))
    if isinstance(value, datetime):
        return format_london(value)
    if isinstance(value, tuple):
        return "; ".join(_text_value(v) for v in value)
    return str(value)


def to_text(draft: IcoReportDraft) -> str:
    """A readable, printable version of the draft, section by section."""
    lines = [
        "PERSONAL DATA BREACH REPORT TO THE ICO - DRAFT",
        f"Incident {draft.incident_id}; prepared {format_london(draft.prepared_at)}.",
        "Check every answer before submitting. Do not add personal data about the people affected:",
        "the ICO asks that the form contains none.",
    ]
    if draft.deadline is not None:
        lines.append(
            "Report without undue delay and, where feasible, within 72 hours of becoming aware: "
            f"by {format_london(draft.deadline)}."
        )
    missing = missing_answers(draft)
    if missing:
        lines.append("Still to answer: " + ", ".join(missing) + ".")
    for _, title, fields in FORM:
        lines += ["", title.upper(), "-" * len(title)]
        for name, question in fields:
            lines += [question, "    " + _text_value(getattr(draft, name)).replace("\n", "\n    ")]
    return "\n".join(lines) + "\n"
