"""The audit trail for auditors and officers: the chain's integrity, and its entries newest first."""

from __future__ import annotations

import json

from starlette.responses import Response

from collector.console.context import Ctx, page
from collector.console.roles import Permission
from collector.workflow.audit import verify_audit

PAGE_SIZE = 200


def audit(ctx: Ctx) -> Response:
    """GET /audit?subject=X&page=N."""
    store = ctx.deps.workflow.store
    count, problems = verify_audit(store)
    subject = ctx.request.query_params.get("subject", "").strip()
    entries = [e for e in store.audit_entries() if not subject or e.subject == subject]
    entries.reverse()
    try:
        number = max(1, int(ctx.request.query_params.get("page", "1")))
    except ValueError:
        number = 1
    shown = entries[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    rows = [(e, json.loads(e.details_json)) for e in shown]
    return ctx.render(
        "audit.html", count=count, problems=problems, rows=rows, subject=subject, number=number,
        more=len(entries) > number * PAGE_SIZE,
    )  # fmt: skip


ROUTES = [page("/audit", audit, needs=Permission.VIEW_AUDIT)]
