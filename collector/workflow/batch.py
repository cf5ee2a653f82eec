"""One unit of work on incidents inside one workflow transaction.

``IncidentBatch`` loads each incident once, applies domain transitions in memory, appends
their audit records to the chain as it goes, and on ``finish`` re-drafts pre-assessments,
queues notifications and saves every changed incident. Everything lands in the same
transaction, so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from collector.domain.alerts import Alert, AlertKind
from collector.domain.canonical_json import JsonValue
from collector.domain.clocks import LONDON
from collector.domain.grouping import attach_alert, grouping_keys, place_alert, with_check_in_network
from collector.domain.incident import AuditRecord, Transition
from collector.domain.incident_record import IncidentRecord
from collector.domain.instants import iso_utc
from collector.domain.lifecycle import SYSTEM_ACTOR, open_incident
from collector.domain.pre_assessment import pre_assess_incident
from collector.domain.risk import RiskAssessment
from collector.store.workflow_base import WorkflowTx
from collector.workflow.errors import UnknownIncident
from collector.workflow.evidence import lost_device_evidence
from collector.workflow.grades import RiskGrade, current_grade
from collector.workflow.notices import NoticeKind, notice_payload
from collector.workflow.policy import WorkflowPolicy
from collector.workflow.times import to_us


@dataclass(frozen=True)
class Placed:
    """Where an alert went: its incident, and whether this call placed it (False: already there)."""

    incident_id: str
    new: bool


class IncidentBatch:
    """Incidents changed in one transaction; call ``finish`` before the transaction commits."""

    def __init__(self, tx: WorkflowTx, now: datetime, policy: WorkflowPolicy) -> None:
        self.tx = tx
        self.now = now
        self.policy = policy
        self._records: dict[str, IncidentRecord] = {}
        self._dirty: dict[str, None] = {}
        self._opened: set[str] = set()
        self._check_ins: list[tuple[str, Alert]] = []

    # -- incidents ---------------------------------------------------------------------

    def load(self, incident_id: str) -> IncidentRecord:
        """The incident as it stands in this batch; raises ``UnknownIncident``."""
        record = self._records.get(incident_id)
        if record is None:
            record = self.tx.get_incident(incident_id)
            if record is None:
                raise UnknownIncident(incident_id)
            self._records[incident_id] = record
        return record

    def apply(self, transition: Transition) -> IncidentRecord:
        """Keep the transition's incident and append its audit record."""
        incident = transition.incident
        previous = self._records.get(incident.incident_id)
        record = IncidentRecord(incident) if previous is None else replace(previous, incident=incident)
        self._records[incident.incident_id] = record
        self._dirty[incident.incident_id] = None
        self.audit_record(transition.audit)
        return record

    def set_record(self, record: IncidentRecord) -> None:
        """Replace the workflow's notes on an incident (e.g. its draft) without a transition."""
        self._records[record.incident_id] = record
        self._dirty[record.incident_id] = None

    def audit_record(self, audit: AuditRecord) -> None:
        """Append a domain audit record to the chain."""
        self.tx.append_audit(audit.chain_fields())

    def audit(self, actor: str, action: str, subject: str, details: Mapping[str, JsonValue]) -> None:
        """Append a workflow audit entry (exports, warnings, draft edits)."""
        self.tx.append_audit({"at": self.now, "actor": actor, "action": action, "subject": subject, "details": details})

    def new_incident_id(self) -> str:
        """The next incident id, ``INC-<year>-<number>`` (numbers restart each year, UK time)."""
        year = self.now.astimezone(LONDON).year
        name = f"incidents:{year}"
        number = self.tx.counter(name) + 1
        self.tx.set_counter(name, number)
        return f"INC-{year}-{number:04d}"

    def opened(self, incident_id: str) -> None:
        """Mark an incident as new in this batch (it is announced as a new incident)."""
        self._opened.add(incident_id)

    # -- alerts ------------------------------------------------------------------------

    def place(self, alert: Alert) -> Placed:
        """Attach ``alert`` to the open incident it belongs with, or open a new one (idempotent)."""
        existing = self.tx.incident_for_alert(alert.alert_id)
        if existing is not None:
            if alert.kind is AlertKind.LOST_DEVICE_CHECK_IN and alert.network:  # only a heartbeat's can add
                record = self.load(existing)
                enriched = with_check_in_network(record.incident, alert)
                if enriched is not None:
                    self.set_record(replace(record, incident=enriched))
            return Placed(existing, False)
        candidates = [
            grouping_keys(self.load(i).incident) for i in self.tx.open_incident_ids_for_device(alert.device_id)
        ]
        placement = place_alert(alert, candidates, self.policy.grouping)
        if placement.incident_id is None:
            incident_id = self.new_incident_id()
            self.apply(open_incident(incident_id, alert, self.now))
            self.opened(incident_id)
            self.tx.save_incident(self._records[incident_id], to_us(self.now))  # visible to the next lookups
        else:
            incident_id = placement.incident_id
            incident = self.load(incident_id).incident
            self.apply(attach_alert(incident, alert, self.now, SYSTEM_ACTOR, placement.rule))
            if alert.kind is AlertKind.LOST_DEVICE_CHECK_IN and not alert.locked_by:  # a lock confirmation adds
                self._check_ins.append((incident_id, alert))  # to the incident, not to the IG team's mail
        self.tx.index_alert(alert.alert_id, str(alert.kind), alert.device_id, to_us(alert.received_at), incident_id)
        return Placed(incident_id, True)

    # -- the end of the unit of work ---------------------------------------------------

    def finish(self) -> None:
        """Re-draft assessments, queue notifications and save every changed incident."""
        now_us = to_us(self.now)
        for incident_id in self._dirty:
            record = self._redraft(self._records[incident_id])
            grade = current_grade(record)
            if incident_id in self._opened:
                self._notify(NoticeKind.NEW_INCIDENT, record, f"new:{incident_id}")
                record = replace(record, notified_grade=str(grade))
            elif grade is not RiskGrade.UNASSESSED and str(grade) != record.notified_grade:
                key = f"grade:{incident_id}:{now_us}:{grade}"
                self._notify(NoticeKind.RISK_GRADE_CHANGED, record, key, previous_grade=record.notified_grade or "")
                record = replace(record, notified_grade=str(grade))
            self._records[incident_id] = record
            self.tx.save_incident(record, now_us)
        for incident_id, alert in self._check_ins:
            self._notify(NoticeKind.LOST_DEVICE_CHECK_IN, self._records[incident_id], f"checkin:{alert.alert_id}")

    def _notify(self, kind: NoticeKind, record: IncidentRecord, key: str, **extra: Any) -> None:
        payload = notice_payload(kind, record, self.now, self.policy.clock, **extra)
        self.tx.enqueue_notification(key, str(kind), record.incident_id, payload, to_us(self.now))

    def _redraft(self, record: IncidentRecord) -> IncidentRecord:
        incident = record.incident
        if incident.assessment is not None or not incident.is_open:
            return record
        posture, last_seen = lost_device_evidence(self.tx, incident)
        draft = pre_assess_incident(
            incident, self.now, posture=posture, last_seen_at=last_seen,
            policy=self.policy.pre_assessment, risk_policy=self.policy.risk,
        )  # fmt: skip
        if draft is None or _same_scores(draft, record.draft):
            return record
        self.audit(SYSTEM_ACTOR, "incident.draft_assessment", incident.incident_id, _assessment_details(draft))
        return replace(record, draft=draft)


def _same_scores(new: RiskAssessment, old: RiskAssessment | None) -> bool:
    return old is not None and (new.likelihood, new.severity, new.recommendation) == (
        old.likelihood,
        old.severity,
        old.recommendation,
    )


def _assessment_details(assessment: RiskAssessment) -> dict[str, JsonValue]:
    return {
        "likelihood": int(assessment.likelihood),
        "severity": int(assessment.severity),
        "recommendation": str(assessment.recommendation),
        "rationale": list(assessment.rationale),
        "assessed_at": iso_utc(assessment.assessed_at),
        "draft": assessment.draft,
    }
