"""The ICO report draft (prefilled, edited, exported) and the Art. 33(5) breach register.

Officers' edits to a draft are kept as field -> JSON value and applied over a fresh
prefill each time, so the draft follows the incident while keeping what people wrote.
Every edit and every export is appended to the audit log (field names only: the values
an officer types are theirs to keep out of the log).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from collector.domain.canonical_json import JsonValue
from collector.domain.ico_form import LABELS
from collector.domain.ico_prefill import OrgProfile, prefill_ico_report
from collector.domain.ico_report import IcoReportDraft, missing_answers, update_draft
from collector.domain.incident_record import IncidentRecord
from collector.domain.register import RegisterRow, register_rows
from collector.store.workflow_base import WorkflowReads, WorkflowStore
from collector.workflow.batch import IncidentBatch
from collector.workflow.evidence import lost_device_evidence
from collector.workflow.policy import WorkflowPolicy
from collector.workflow.times import to_us


def build_ico_draft(
    reads: WorkflowReads,
    record: IncidentRecord,
    org: OrgProfile,
    now: datetime,
    *,
    include_recorded_actions: bool = False,
    extra_edits: Mapping[str, JsonValue] | None = None,
) -> IcoReportDraft:
    """The prefilled draft for ``record`` with the stored edits (and ``extra_edits``) applied."""
    posture, _ = lost_device_evidence(reads, record.incident)
    draft = prefill_ico_report(
        record.incident, org, now, posture=posture, include_recorded_actions=include_recorded_actions
    )
    edits = {**reads.ico_edits(record.incident_id), **(extra_edits or {})}
    return update_draft(draft, **edits) if edits else draft


def register_scope(
    reads: WorkflowReads, records: Iterable[IncidentRecord], org: OrgProfile, now: datetime
) -> dict[str, tuple[int | None, tuple[str, ...]]]:
    """Each incident's number of people and data categories, as its ICO draft answers them."""
    scope: dict[str, tuple[int | None, tuple[str, ...]]] = {}
    for record in records:
        draft = build_ico_draft(reads, record, org, now)
        scope[record.incident_id] = (draft.approx_people, tuple(LABELS.get(c, str(c)) for c in draft.data_categories))
    return scope


class Exports:
    """ICO drafts and the register, over a store, the organisation profile and a clock."""

    def __init__(
        self, store: WorkflowStore, policy: WorkflowPolicy, org: OrgProfile, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._policy = policy
        self._org = org
        self._clock = clock

    def edit_ico_draft(self, incident_id: str, changes: Mapping[str, JsonValue], *, by: str) -> IcoReportDraft:
        """Keep an officer's answers (validated against the form); returns the edited draft."""
        now = self._clock()
        with self._store.transaction() as tx:
            batch = IncidentBatch(tx, now, self._policy)
            record = batch.load(incident_id)
            draft = build_ico_draft(tx, record, self._org, now, extra_edits=changes)
            tx.save_ico_edits(incident_id, {**tx.ico_edits(incident_id), **changes}, to_us(now), by)
            fields: list[JsonValue] = list(sorted(changes))
            batch.audit(by, "ico_draft.edit", incident_id, {"fields": fields})
            return draft

    def export_ico_draft(self, incident_id: str, *, by: str, include_recorded_actions: bool = False) -> IcoReportDraft:
        """The draft as it stands, with the export recorded in the audit log."""
        now = self._clock()
        with self._store.transaction() as tx:
            batch = IncidentBatch(tx, now, self._policy)
            record = batch.load(incident_id)
            draft = build_ico_draft(tx, record, self._org, now, include_recorded_actions=include_recorded_actions)
            details: dict[str, JsonValue] = {
                "include_recorded_actions": include_recorded_actions,
                "report_type": str(draft.report_type),
                "still_to_answer": [str(name) for name in missing_answers(draft)],
            }
            batch.audit(by, "ico_draft.export", incident_id, details)
            return draft

    def export_register(self, *, by: str) -> list[RegisterRow]:
        """Every incident's register row, with the export recorded in the audit log."""
        now = self._clock()
        with self._store.transaction() as tx:
            records = tx.list_incidents()
            rows = register_rows((r.incident for r in records), register_scope(tx, records, self._org, now))
            IncidentBatch(tx, now, self._policy).audit(by, "register.export", "register", {"incidents": len(rows)})
            return rows
