"""Staff report a lost or stolen laptop: one of their own devices, when and where, locked or not, what was on it.

The report takes the same path as gRPC ReportLostDevice (``collector.api.lost_reports``):
stored as an event of the lost device, the device marked lost, the incident opened at
once. Staff never see the incident, only its reference and what happens next. Which
devices a person may report is decided on the server (``devices assign-owner``).
"""

from __future__ import annotations

import argparse
import logging

from starlette.responses import RedirectResponse, Response

from collector.api.lost_reports import file_lost_report, lost_report_body
from collector.console.context import Ctx, form_values, page
from collector.console.presenters import london_us
from collector.console.roles import Permission
from collector.store.base import StoreError
from collector.workflow.moments import moment
from collector.workflow.times import to_us

log = logging.getLogger(__name__)

LIMIT = 4000  # characters of free text per answer
HOW = {"lost": "Lost", "stolen": "Stolen", "not_sure": "Not sure whether lost or stolen"}
LOCKED = {"yes": True, "no": False, "not_sure": None}


def form(ctx: Ctx, status: int = 200, error: str = "", values: dict[str, str] | None = None) -> Response:
    """GET /report: the staff member's devices and the questions."""
    deps = ctx.deps
    mine = [d for d in (deps.events.get_device(n) for n in deps.console.devices_of(ctx.name)) if d is not None]
    return ctx.render(
        "report.html", status=status, devices=mine, error=error, values=values or {}, london_us=london_us,
    )  # fmt: skip


def submit(ctx: Ctx) -> Response:
    """POST /report: file the report now."""
    deps = ctx.deps
    device = ctx.field("device")
    if device not in deps.console.devices_of(ctx.name):
        return form(ctx, 422, "Choose one of your devices.", form_values(ctx))
    how = ctx.field("how")
    where = ctx.field("where").strip()[:LIMIT]
    what = ctx.field("what_happened").strip()[:LIMIT]
    if how not in HOW or not where:
        return form(ctx, 422, "Say whether it was lost or stolen, and where.", form_values(ctx))
    if ctx.field("locked") not in LOCKED:
        return form(ctx, 422, "Say whether it was locked (or that you are not sure).", form_values(ctx))
    try:
        lost_at = moment(ctx.field("lost_at")) if ctx.field("lost_at").strip() else None
    except argparse.ArgumentTypeError:
        return form(ctx, 422, "Give the time as a date and time, or leave it empty.", form_values(ctx))
    now = deps.now()
    if lost_at is not None and lost_at > now:
        return form(ctx, 422, "The time it was lost cannot be in the future.", form_values(ctx))
    if deps.writer is None:
        return form(ctx, 503, "Reports cannot be taken right now. Phone the IG team.", form_values(ctx))
    circumstances = f"{HOW[how]}. Where: {where}." + (f" What happened: {what}" if what else "")
    body = lost_report_body(
        device, reported_by=f"console:{ctx.name}", lost_at=lost_at, circumstances=circumstances,
        was_locked=LOCKED[ctx.field("locked")], contents_note=ctx.field("contents").strip()[:LIMIT],
    )  # fmt: skip
    try:
        filed = file_lost_report(
            deps.events, deps.writer, deps.workflow, device, body,
            lost_at_us=to_us(lost_at) if lost_at else 0, now_us=to_us(now),
        )  # fmt: skip
    except (StoreError, TimeoutError):
        log.exception("console lost-device report for %s not stored", device)
        return form(ctx, 503, "The report could not be saved. Try again, or phone the IG team.", form_values(ctx))
    log.warning("device %s reported lost from the console (reference %s)", device, filed.reference)
    return ctx.redirect(
        "/report/filed", text="Your report has been received.", reference=filed.reference, device=device
    )


def filed(ctx: Ctx) -> Response:
    """GET /report/filed: the reference and what happens next (once, after a report)."""
    if ctx.flash is None or "reference" not in ctx.flash:
        return RedirectResponse("/report", status_code=303)
    return ctx.render(
        "report_filed.html",
        reference=ctx.flash["reference"],
        device=ctx.flash.get("device", ""),
        channels=ctx.deps.workflow.notify_channels,
    )


ROUTES = [
    page("/report", form, needs=Permission.SELF_REPORT),
    page("/report", submit, needs=Permission.SELF_REPORT, methods=("POST",)),
    page("/report/filed", filed, needs=Permission.SELF_REPORT),
]
