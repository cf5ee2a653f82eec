"""The inbox: open incidents, most urgent first, with filters by state and "assigned to me"."""

from __future__ import annotations

from starlette.responses import Response

from collector.console.context import Ctx, page
from collector.console.presenters import STATE_TEXT, inbox_rows
from collector.console.roles import Permission
from collector.domain.incident import OPEN_STATES, IncidentState
from collector.workflow.views import incident_summary

OPEN = sorted(str(s) for s in OPEN_STATES)
FILTERS = {"open": OPEN, "all": [str(s) for s in IncidentState], **{str(s): [str(s)] for s in IncidentState}}


def inbox(ctx: Ctx) -> Response:
    """GET /inbox?state=open|all|STATE&mine=1."""
    deps = ctx.deps
    chosen = ctx.request.query_params.get("state", "open")
    states = FILTERS.get(chosen, OPEN)
    mine = ctx.request.query_params.get("mine") == "1"
    now = deps.now()
    records = deps.workflow.store.list_incidents(states)
    assignments = deps.console.assignments()
    if mine:
        records = [
            r for r in records if r.incident_id in assignments and assignments[r.incident_id].user_name == ctx.name
        ]
    policy = deps.workflow.policy
    summaries = [(r, incident_summary(r, now, policy.clock, policy.obligations)) for r in records]
    rows = inbox_rows(summaries, assignments, deps.console.owners())
    choices = [("open", "All open"), ("all", "Everything"), *((str(s), STATE_TEXT[str(s)]) for s in IncidentState)]
    return ctx.render("inbox.html", rows=rows, chosen=chosen, mine=mine, choices=choices, states=STATE_TEXT)


ROUTES = [page("/inbox", inbox, needs=Permission.VIEW_INCIDENTS)]
