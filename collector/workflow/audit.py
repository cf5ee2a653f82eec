"""Checking the audit log: every entry, every link, and the head recorded apart from the rows."""

from __future__ import annotations

from collector.domain.audit_chain import ChainProblem, ProblemKind, verify
from collector.store.workflow_base import WorkflowStore


def verify_audit(store: WorkflowStore) -> tuple[int, list[ChainProblem]]:
    """(entries checked, problems found); no problems means the log is intact.

    Edited, reordered, inserted or deleted entries break hashes or links; entries removed
    from the end, or a missing head, show against the recorded head.
    """
    entries = list(store.audit_entries())
    head = store.audit_head()
    problems = verify(entries, expected_head=head)
    if head is None and entries:
        last = entries[-1]
        problems.append(
            ChainProblem(len(entries) - 1, last.seq, ProblemKind.HEAD_MISMATCH, "the recorded chain head is missing")
        )
    return len(entries), problems
