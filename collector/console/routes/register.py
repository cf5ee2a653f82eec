"""The Art. 33(5) breach register: every incident, reported or not, and its CSV download (audited)."""

from __future__ import annotations

import io

from starlette.responses import Response

from collector.console.context import Ctx, page
from collector.console.roles import Permission
from collector.domain.register import REGISTER_COLUMNS, register_rows, write_register_csv
from collector.workflow.exports import register_scope


def register(ctx: Ctx) -> Response:
    """GET /register: the register as a table."""
    deps = ctx.deps
    records = deps.workflow.store.list_incidents()
    scope = register_scope(deps.workflow.store, records, deps.org, deps.now())
    rows = register_rows((r.incident for r in records), scope)
    return ctx.render("register.html", rows=rows, columns=REGISTER_COLUMNS)


def register_csv(ctx: Ctx) -> Response:
    """GET /register.csv: the same rows as the CLI's `incidents register`, recorded in the audit log."""
    rows = ctx.deps.workflow.exports.export_register(by=ctx.name)
    buffer = io.StringIO(newline="")
    write_register_csv(rows, buffer)
    stamp = ctx.deps.now().strftime("%Y%m%d-%H%M")
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="breach-register-{stamp}.csv"'},
    )


ROUTES = [
    page("/register", register, needs=Permission.VIEW_INCIDENTS),
    page("/register.csv", register_csv, needs=Permission.EXPORT),
]
