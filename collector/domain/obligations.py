"""Who must be told about a breach, by when, and whether they have been: one entry per obligation.

Each obligation has its own clock and its own source:

- the ICO: UK GDPR Art. 33, "without undue delay and, where feasible, not later than 72 hours
  after having become aware"; needed when the breach is (decided, or graded) reportable;
- the DSPT incident report: organisations using the NHS Data Security and Protection Toolkit
  report reportable incidents through it, in the same 72 hours; the DSPT passes incidents of
  severity "serious" or worse to DHSC as well (DSPT guide, breach assessment grid);
- the people affected: Art. 34, "without undue delay" when the risk to them is high; the
  organisation sets its own target (``people_within``), tracked per family under IG's labels;
- the police, for a lost device that may have been stolen: whether to report is IG's call; a
  report records its crime reference;
- other bodies from configuration (Ofsted, the commissioning council, the insurer), each with
  its own window from awareness.

``obligations(incident, policy)`` is pure: it reads the incident and returns the list.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collector.domain.alerts import AlertKind
from collector.domain.clocks import deadline
from collector.domain.incident import Incident, IncidentState
from collector.domain.risk import RiskAssessment


class ObligationState(enum.StrEnum):
    """Where one obligation stands."""

    NOT_NEEDED = "not_needed"
    TO_DECIDE = "to_decide"
    DUE = "due"
    IN_PROGRESS = "in_progress"
    DONE = "done"


@dataclass(frozen=True)
class ObligationSpec:
    """A body the organisation must tell, from configuration (e.g. Ofsted within 5 days).

    ``kinds`` limits it to incidents holding one of those alert kinds (empty: every kind);
    ``only_if_reportable`` limits it to breaches reportable to the ICO.
    """

    key: str
    title: str
    reference: str
    within: timedelta
    kinds: frozenset[AlertKind] = frozenset()
    only_if_reportable: bool = True


@dataclass(frozen=True)
class ObligationPolicy:
    """Which obligations apply and the organisation's own targets where the law sets none."""

    uses_dspt: bool = True
    people_within: timedelta = timedelta(hours=72)
    police_within: timedelta = timedelta(hours=24)
    others: tuple[ObligationSpec, ...] = field(default=())


DEFAULT_OBLIGATION_POLICY = ObligationPolicy()


@dataclass(frozen=True)
class Obligation:
    """One body to tell: what, under which rule, by when, and what has been recorded."""

    key: str
    title: str
    reference: str
    state: ObligationState
    due: datetime | None
    done_at: datetime | None = None
    recorded_reference: str = ""
    detail: str = ""

    def overdue(self, now: datetime) -> bool:
        """True when it is still owed and its due time has passed."""
        owed = self.state in (ObligationState.DUE, ObligationState.IN_PROGRESS)
        return owed and self.due is not None and now > self.due


def _ico_needed(incident: Incident, assessment: RiskAssessment | None) -> bool | None:
    """True/False once decided; otherwise what the grid says (None when unassessed)."""
    if incident.reportability is not None:
        return incident.reportability.reportable
    return None if assessment is None else assessment.ico_reportable


def obligations(
    incident: Incident,
    policy: ObligationPolicy = DEFAULT_OBLIGATION_POLICY,
    *,
    draft: RiskAssessment | None = None,
) -> tuple[Obligation, ...]:
    """Every obligation for ``incident`` (dismissed incidents owe nothing); ``draft`` stands in until assessed."""
    if incident.state is IncidentState.DISMISSED:
        return ()
    assessment = incident.assessment or draft
    needed = _ico_needed(incident, assessment)
    due = deadline(incident)
    result = [_ico(incident, needed, due)]
    if policy.uses_dspt:
        result.append(_dspt(incident, needed, due, assessment))
    result.append(_people(incident, assessment, policy))
    if any(a.kind in (AlertKind.LOST_DEVICE, AlertKind.DEVICE_SILENT) for a in incident.alerts):
        result.append(_police(incident, policy))
    for spec in policy.others:
        result.append(_other(incident, spec, needed))
    return tuple(result)


def _ico(incident: Incident, needed: bool | None, due: datetime | None) -> Obligation:
    title, ref = "ICO", "UK GDPR Art. 33: without undue delay and, where feasible, within 72 hours of awareness"
    initial = incident.initial_submission
    if initial is not None:
        reference = incident.ico_case_reference
        return Obligation("ico", title, ref, ObligationState.DONE, due, initial.submitted_at, reference)
    if needed is False:
        return Obligation("ico", title, ref, ObligationState.NOT_NEEDED, None, detail="decided not reportable")
    if needed is None:
        return Obligation("ico", title, ref, ObligationState.TO_DECIDE, due, detail="not assessed yet")
    detail = "" if incident.reportability else "the grid says reportable; not decided yet"
    return Obligation("ico", title, ref, ObligationState.DUE, due, detail=detail)


def _dspt(
    incident: Incident, needed: bool | None, due: datetime | None, assessment: RiskAssessment | None
) -> Obligation:
    dhsc = assessment is not None and bool(assessment.dhsc_reportable)
    title = "DSPT incident report" + (" (DHSC is notified through it)" if dhsc else "")
    ref = "DSPT incident reporting guide: reportable incidents via the DSPT within 72 hours; DHSC when severity >= 4"
    record = incident.notified("dspt")
    if record is not None:
        return Obligation("dspt", title, ref, ObligationState.DONE, due, record.told_at, record.reference)
    if needed is False:
        return Obligation("dspt", title, ref, ObligationState.NOT_NEEDED, None, detail="decided not reportable")
    if needed is None:
        return Obligation("dspt", title, ref, ObligationState.TO_DECIDE, due, detail="not assessed yet")
    return Obligation("dspt", title, ref, ObligationState.DUE, due)


def _people(incident: Incident, assessment: RiskAssessment | None, policy: ObligationPolicy) -> Obligation:
    title = "The people affected"
    ref = "UK GDPR Art. 34: without undue delay when the risk to them is high (target set by the organisation)"
    told = incident.families_told
    subjects = incident.subjects
    start = incident.aware_at
    due = None if start is None else start + policy.people_within
    progress = f"{len(told)} famil{'y' if len(told) == 1 else 'ies'} told" if told else ""
    if subjects is not None and subjects.informed:
        return Obligation("people", title, ref, ObligationState.DONE, due, subjects.at, detail=progress)
    if subjects is not None:
        return Obligation("people", title, ref, ObligationState.NOT_NEEDED, None, detail="decided not to tell them")
    if assessment is None:
        return Obligation("people", title, ref, ObligationState.TO_DECIDE, due, detail=progress or "not assessed yet")
    if not assessment.high_risk:
        state = ObligationState.IN_PROGRESS if told else ObligationState.NOT_NEEDED
        return Obligation("people", title, ref, state, None, detail=progress or "not high risk")
    state = ObligationState.IN_PROGRESS if told else ObligationState.DUE
    return Obligation("people", title, ref, state, due, detail=progress)


def _police(incident: Incident, policy: ObligationPolicy) -> Obligation:
    title, ref = "Police", "If the device was stolen: report it and record the crime reference"
    record = incident.notified("police")
    reported = min((a.received_at for a in incident.alerts if a.kind is AlertKind.LOST_DEVICE), default=None)
    due = None if reported is None else reported + policy.police_within
    if record is not None:
        return Obligation("police", title, ref, ObligationState.DONE, due, record.told_at, record.reference)
    return Obligation("police", title, ref, ObligationState.TO_DECIDE, due, detail="lost or stolen? decide")


def _other(incident: Incident, spec: ObligationSpec, needed: bool | None) -> Obligation:
    applies = not spec.kinds or any(a.kind in spec.kinds for a in incident.alerts)
    start = incident.aware_at
    due = None if start is None else start + spec.within
    record = incident.notified(spec.key)
    if record is not None:
        return Obligation(spec.key, spec.title, spec.reference, ObligationState.DONE, due, record.told_at,
                          record.reference)  # fmt: skip
    if not applies or (spec.only_if_reportable and needed is False):
        return Obligation(spec.key, spec.title, spec.reference, ObligationState.NOT_NEEDED, None)
    if spec.only_if_reportable and needed is None:
        return Obligation(spec.key, spec.title, spec.reference, ObligationState.TO_DECIDE, due)
    return Obligation(spec.key, spec.title, spec.reference, ObligationState.DUE, due)
