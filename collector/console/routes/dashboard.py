"""The SIRO's and DPO's dashboard: charts as server-rendered SVG, each with its CSV download (audited)."""

from __future__ import annotations

import csv
import io

from markupsafe import Markup
from starlette.responses import Response

from collector.console.charts import bar_chart, chart_link
from collector.console.context import Ctx, page, refuse
from collector.console.roles import Permission
from collector.console.routes.devices import latest_postures
from collector.domain.dashboard import Chart, chart_csv_rows, device_chart, incident_charts, incident_figures
from collector.domain.register import neutralise_cell

MONTHS = 12


def _charts(ctx: Ctx) -> tuple[Chart, ...]:
    deps = ctx.deps
    figures = [incident_figures(r.incident) for r in deps.workflow.store.list_incidents()]
    postures = [(d.name, posture) for d, posture in latest_postures(deps)]
    return (*incident_charts(figures, deps.now(), MONTHS), device_chart(postures))


def dashboard(ctx: Ctx) -> Response:
    """GET /dashboard."""
    charts = [(c, Markup(bar_chart(c)), chart_link(c)) for c in _charts(ctx)]  # every text escaped in bar_chart
    return ctx.render("dashboard.html", charts=charts, months=MONTHS, can_export=ctx.can(Permission.EXPORT))


def chart_csv(ctx: Ctx) -> Response:
    """GET /dashboard/{chart}.csv: one chart's table (recorded in the audit trail, like the register)."""
    key = ctx.param("chart")
    chosen = next((c for c in _charts(ctx) if c.key == key), None)
    if chosen is None:
        return refuse(ctx.request, ctx.deps, 404, "There is no such chart.", ctx)
    ctx.deps.audit.record(ctx.name, "dashboard.download", key, {})
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    for row in chart_csv_rows(chosen):
        writer.writerow([neutralise_cell(cell) for cell in row])
    stamp = ctx.deps.now().strftime("%Y%m%d-%H%M")
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{key}-{stamp}.csv"'},
    )


ROUTES = [
    page("/dashboard", dashboard, needs=Permission.VIEW_INCIDENTS),
    page("/dashboard/{chart}.csv", chart_csv, needs=Permission.EXPORT),
]
