"""What IG officers do to incidents, each step one audited transaction.

Each method loads the incident inside a write transaction, applies one domain command
(``collector.domain.lifecycle``), appends the audit record, queues any notice (e.g. a new
risk grade) and saves, all or nothing. Domain rule violations raise ``DomainError`` with
a message written for the officer; an unknown id raises ``UnknownIncident``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from collector.domain.canonical_json import JsonValue
from collector.domain.checklists import checklist
from collector.domain.grouping import attach_alert, split_alert
from collector.domain.incident import IncidentState, ReportType, SubjectsGround
from collector.domain.incident_record import IncidentRecord
from collector.domain.instants import iso_utc
from collector.domain.lifecycle import (
    Assess,
    Close,
    Command,
    CompleteTask,
    Confirm,
    CorrectAwareness,
    DecideNotReportable,
    DecideReportable,
    Dismiss,
    ExemptSubjects,
    InformSubjects,
    NotifyIco,
    RecordAction,
    RecordFamilyTold,
    RecordIcoOutcome,
    RecordNotification,
    Reopen,
    apply,
)
from collector.domain.risk import RiskAssessment, confirm_assessment, score_assessment
from collector.store.workflow_base import WorkflowStore
from collector.workflow.batch import IncidentBatch
from collector.workflow.errors import NothingToAssess, WorkflowError
from collector.workflow.policy import WorkflowPolicy
from collector.workflow.times import from_us, to_us


class IncidentCommands:
    """The life-cycle steps, over a store, a policy and a clock."""

    def __init__(self, store: WorkflowStore, policy: WorkflowPolicy, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock

    def run(self, incident_id: str, build: Callable[[IncidentRecord, datetime], Command]) -> IncidentRecord:
        """Apply the command ``build`` makes from the current incident; returns the incident after it."""
        now = self._clock()
        with self._store.transaction() as tx:
            batch = IncidentBatch(tx, now, self._policy)
            record = batch.load(incident_id)
            batch.apply(apply(record.incident, build(record, now), now, self._policy.clock))
            batch.finish()
            return batch.load(incident_id)

    def confirm(
        self, incident_id: str, *, by: str, aware_at: datetime, reason: str, justification: str = ""
    ) -> IncidentRecord:
        """Confirm the breach; the statutory clock runs from ``aware_at``."""
        return self.run(incident_id, lambda _r, _n: Confirm(by, reason, aware_at, justification))

    def correct_awareness(
        self, incident_id: str, *, by: str, aware_at: datetime, reason: str, justification: str = ""
    ) -> IncidentRecord:
        """Correct when the organisation became aware (audited with the old and new values)."""
        return self.run(incident_id, lambda _r, _n: CorrectAwareness(by, reason, aware_at, justification))

    def dismiss(self, incident_id: str, *, by: str, reason: str, near_miss: bool = False) -> IncidentRecord:
        """Not a personal data breach after all (``near_miss``: a security incident that compromised no data)."""
        return self.run(incident_id, lambda _r, _n: Dismiss(by, reason, near_miss))

    def assess(
        self,
        incident_id: str,
        *,
        by: str,
        likelihood: int | None = None,
        severity: int | None = None,
        vulnerable: bool | None = None,
        note: str = "",
    ) -> IncidentRecord:
        """Record a confirmed assessment: the draft accepted (or changed, with a note), or scored by hand."""

        def build(record: IncidentRecord, now: datetime) -> Command:
            return Assess(by, self._assessment(record, now, by, likelihood, severity, vulnerable, note))

        return self.run(incident_id, build)

    def _assessment(
        self,
        record: IncidentRecord,
        now: datetime,
        by: str,
        likelihood: int | None,
        severity: int | None,
        vulnerable: bool | None,
        note: str,
    ) -> RiskAssessment:
        risk = self._policy.risk
        if record.draft is not None:
            return confirm_assessment(
                record.draft, by=by, at=now, likelihood=likelihood, severity=severity,
                involves_vulnerable=vulnerable, note=note, policy=risk,
            )  # fmt: skip
        if likelihood is None or severity is None or not note.strip():
            raise NothingToAssess(
                "there is no drafted assessment to confirm: give --likelihood, --severity and a --note saying why"
            )
        return score_assessment(
            likelihood, severity,
            involves_vulnerable=self._policy.pre_assessment.assume_vulnerable if vulnerable is None else vulnerable,
            rationale=(), assessed_at=now, assessed_by=by, draft=False, note=note.strip(), policy=risk,
        )  # fmt: skip

    def decide(self, incident_id: str, *, by: str, reportable: bool, reason: str) -> IncidentRecord:
        """Decide whether the ICO must be told."""
        command: Command = DecideReportable(by, reason) if reportable else DecideNotReportable(by, reason)
        return self.run(incident_id, lambda _r, _n: command)

    def notify_ico(
        self,
        incident_id: str,
        *,
        by: str,
        follow_up: bool = False,
        submitted_at: datetime | None = None,
        ico_case_reference: str = "",
        late_reasons: str = "",
        note: str = "",
    ) -> IncidentRecord:
        """Record a report made to the ICO (initial, or a follow-up)."""
        kind = ReportType.FOLLOW_UP if follow_up else ReportType.INITIAL
        command = NotifyIco(by, kind, submitted_at, ico_case_reference, late_reasons, note)
        return self.run(incident_id, lambda _r, _n: command)

    def inform_subjects(
        self, incident_id: str, *, by: str, how: str, informed_at: datetime | None = None
    ) -> IncidentRecord:
        """Record that the people affected were told, and how."""
        return self.run(incident_id, lambda _r, _n: InformSubjects(by, how, informed_at))

    def exempt_subjects(self, incident_id: str, *, by: str, ground: SubjectsGround, reason: str) -> IncidentRecord:
        """Record not telling the people affected, on a ground, with a reason."""
        return self.run(incident_id, lambda _r, _n: ExemptSubjects(by, ground, reason))

    def close(
        self, incident_id: str, *, by: str, note: str = "", root_cause: str = "", lessons_learned: str = ""
    ) -> IncidentRecord:
        """Close an incident whose decisions are complete (root cause, lessons and an action recorded)."""
        return self.run(incident_id, lambda _r, _n: Close(by, note, root_cause, lessons_learned))

    def reopen(self, incident_id: str, *, by: str, reason: str) -> IncidentRecord:
        """Reopen on new evidence (the assessment is withdrawn)."""
        return self.run(incident_id, lambda _r, _n: Reopen(by, reason))

    def record_notification(
        self, incident_id: str, *, by: str, body: str, reference: str = "", told_at: datetime | None = None,
        note: str = "",
    ) -> IncidentRecord:
        """Record telling a body (``dspt``, ``police`` with its crime reference, or a configured key)."""
        known = {"dspt", "police", *(o.key for o in self._policy.obligations.others)}
        if body not in known:
            raise WorkflowError(f"unknown body {body!r}: one of {', '.join(sorted(known))}")
        return self.run(incident_id, lambda _r, _n: RecordNotification(by, body, reference, told_at, note))

    def record_family_told(
        self, incident_id: str, *, by: str, label: str, how: str, told_at: datetime | None = None
    ) -> IncidentRecord:
        """Record that one family, under IG's label (not a name), was told under Art. 34."""
        return self.run(incident_id, lambda _r, _n: RecordFamilyTold(by, label, how, told_at))

    def complete_task(self, incident_id: str, *, by: str, task: str, note: str = "") -> IncidentRecord:
        """Tick one task of the incident's checklist (it must be on the configured checklist)."""

        def build(record: IncidentRecord, _now: datetime) -> Command:
            tasks = {t for t, _ in checklist(record.incident, self._policy.checklists)}
            if task not in tasks:
                raise WorkflowError(f"“{task}” is not on this incident's checklist")
            return CompleteTask(by, task, note)

        return self.run(incident_id, build)

    def record_ico_outcome(self, incident_id: str, *, by: str, outcome: str) -> IncidentRecord:
        """Record what the ICO decided about the report."""
        return self.run(incident_id, lambda _r, _n: RecordIcoOutcome(by, outcome))

    def record_action(self, incident_id: str, *, by: str, text: str) -> IncidentRecord:
        """Record a containment, mitigation or prevention step."""
        return self.run(incident_id, lambda _r, _n: RecordAction(by, text))

    def split(self, incident_id: str, alert_id: str, *, by: str, reason: str) -> IncidentRecord:
        """Move one alert into a new incident of its own; returns the new incident."""
        now = self._clock()
        with self._store.transaction() as tx:
            batch = IncidentBatch(tx, now, self._policy)
            new_id = batch.new_incident_id()
            result = split_alert(batch.load(incident_id).incident, alert_id, new_id, now, by, reason)
            batch.apply(result.remaining)
            created = batch.apply(result.split_off)
            batch.opened(new_id)
            tx.save_incident(created, to_us(now))  # before the alert's index row points at it
            alert = result.split_off.incident.alerts[0]
            tx.index_alert(alert.alert_id, str(alert.kind), alert.device_id, to_us(alert.received_at), new_id)
            batch.finish()
            return batch.load(new_id)

    def merge(self, target_id: str, source_id: str, *, by: str, reason: str) -> IncidentRecord:
        """Move every alert of a suspected incident into ``target_id``; the source is dismissed as merged.

        Only a suspected source can be merged: once confirmed it has its own aware_at and
        decisions, which must not vanish into another incident. The source keeps its alerts
        in its own history (grouping never discards a field); the alert index and every
        future grouping point at the target. Returns the target after the merge.
        """
        if not reason.strip():
            raise WorkflowError("say why the incidents belong together")
        if target_id == source_id:
            raise WorkflowError("an incident cannot be merged into itself")
        now = self._clock()
        with self._store.transaction() as tx:
            batch = IncidentBatch(tx, now, self._policy)
            source = batch.load(source_id).incident
            target = batch.load(target_id).incident
            if source.state is not IncidentState.SUSPECTED:
                raise WorkflowError(
                    f"{source_id} is {source.state}: only a suspected incident can be merged into another"
                )
            for alert in source.alerts:
                target = batch.apply(attach_alert(target, alert, now, by)).incident
                tx.index_alert(alert.alert_id, str(alert.kind), alert.device_id, to_us(alert.received_at), target_id)
            why = f"merged into {target_id}: {reason.strip()}"
            batch.apply(apply(source, Dismiss(by, why), now, self._policy.clock))
            batch.audit(by, "incident.merge", target_id, {"merged_from": source_id, "alerts": len(source.alerts)})
            batch.finish()
            return batch.load(target_id)

    def device_found(self, device: str, *, by: str, reason: str) -> None:
        """A device reported lost is back with IT: its check-ins stop raising alerts (audited).

        Its incidents are left as they are: record what happened on them (``record_action``).
        """
        if not by.strip() or not reason.strip():
            raise WorkflowError("say who found the device and how (--by, --reason)")
        now = self._clock()
        with self._store.transaction() as tx:
            lost_at = tx.device_lost_at(device)
            if lost_at is None or not tx.clear_lost(device):
                raise WorkflowError(f"device {device!r} is not marked lost")
            details: dict[str, JsonValue] = {"reason": reason.strip(), "lost_at": iso_utc(from_us(lost_at))}
            IncidentBatch(tx, now, self._policy).audit(by, "device.found", device, details)
