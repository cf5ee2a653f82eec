"""Console actions in the workflow's hash-chained audit log (the same chain `audit verify` checks).

Workflow commands audit themselves; this is for what only the console does: sign-ins and
sign-outs, assignments, notes, device owners, revocations, account changes. Details name
what changed, never what someone typed (notes and reasons stay in their own tables).
"""

from __future__ import annotations

from collections.abc import Mapping

from collector.domain.canonical_json import JsonValue
from collector.workflow.batch import IncidentBatch
from collector.workflow.service import WorkflowService


class ConsoleAudit:
    """Appends console entries through the workflow's own audit facility."""

    def __init__(self, workflow: WorkflowService) -> None:
        self._workflow = workflow

    def record(self, actor: str, action: str, subject: str, details: Mapping[str, JsonValue] | None = None) -> None:
        """Append one entry (its own transaction)."""
        with self._workflow.store.transaction() as tx:
            batch = IncidentBatch(tx, self._workflow.clock(), self._workflow.policy)
            batch.audit(actor, action, subject, dict(details or {}))
