"""Devices: posture, last seen, lost and revoked, owners; IT revokes, records a lost device found, links owners.

Revoking is the same store call as `caseguard-collector devices revoke`, and is audited
here; "found" is the workflow's own `device_found` command (audited by it).
"""

from __future__ import annotations

from starlette.responses import Response

from collector.console.context import ConsoleDeps, Ctx, page, refuse
from collector.console.presenters import ENCRYPTION_TEXT, london, london_us
from collector.console.roles import Permission, Role
from collector.domain.event_facts import DevicePosture
from collector.store.base import Device, StoreError, UnknownDevice
from collector.wire.event_codec import POSTURE_KINDS, EventDecodeError, device_posture
from collector.workflow.errors import WorkflowError
from collector.workflow.times import to_us

QUARANTINE_SHOWN = 200


def latest_postures(deps: ConsoleDeps) -> list[tuple[Device, DevicePosture | None]]:
    """Every enrolled device with its latest posture (None when none was reported, or it cannot be read)."""
    out = []
    for d in deps.events.list_devices():
        try:
            posture = device_posture(deps.workflow.store.latest_posture_events(d.name, POSTURE_KINDS))
        except EventDecodeError:
            posture = None
        out.append((d, posture))
    return out


def devices(ctx: Ctx, status: int = 200, error: str = "") -> Response:
    """GET /devices."""
    deps = ctx.deps
    owners = deps.console.owners()
    rows = [(d, posture, owners.get(d.name, [])) for d, posture in latest_postures(deps)]
    staff = [u.name for u in deps.console.list_users() if u.active and u.role == Role.STAFF]
    quarantined = deps.workflow.store.quarantined(limit=QUARANTINE_SHOWN) if ctx.can(Permission.VIEW_INCIDENTS) else []
    return ctx.render(
        "devices.html", status=status, rows=rows, staff=staff, error=error, london=london, london_us=london_us,
        encryption_text=ENCRYPTION_TEXT, manage=ctx.can(Permission.MANAGE_DEVICES), quarantined=quarantined,
        quarantine_count=deps.workflow.store.quarantine_count() if quarantined else 0,
    )  # fmt: skip


def _device_or_404(ctx: Ctx) -> str | Response:
    name = ctx.param("device")
    if ctx.deps.events.get_device(name) is None:
        return refuse(ctx.request, ctx.deps, 404, "There is no enrolled device with that name.", ctx)
    return name


def revoke(ctx: Ctx) -> Response:
    """POST /devices/{device}/revoke: refuse the device from now on."""
    name = _device_or_404(ctx)
    if isinstance(name, Response):
        return name
    deps = ctx.deps
    deps.audit.record(ctx.name, "device.revoke", name, {})
    try:
        deps.events.revoke_device(name, to_us(deps.now()))
    except UnknownDevice:
        return refuse(ctx.request, deps, 404, "There is no enrolled device with that name.", ctx)
    return ctx.redirect("/devices", text=f"{name} is revoked: the collector refuses it from now on.")


def found(ctx: Ctx) -> Response:
    """POST /devices/{device}/found: a device reported lost is back with IT."""
    name = _device_or_404(ctx)
    if isinstance(name, Response):
        return name
    try:
        ctx.deps.workflow.commands.device_found(name, by=ctx.name, reason=ctx.field("reason"))
    except WorkflowError as exc:
        return devices(ctx, 422, str(exc))
    return ctx.redirect("/devices", text=f"{name} is no longer marked lost. Record what happened on its incident.")


def add_owner(ctx: Ctx) -> Response:
    """POST /devices/{device}/owners: link a staff account (it may then report this device lost)."""
    name = _device_or_404(ctx)
    if isinstance(name, Response):
        return name
    deps = ctx.deps
    who = ctx.field("user").strip()
    user = deps.console.get_user(who) if who else None
    if user is None or not user.active or user.role != Role.STAFF:
        return devices(ctx, 422, "Choose an active staff account.")
    deps.audit.record(ctx.name, "device.owner_add", name, {"owner": who})
    try:
        deps.console.assign_owner(name, who, to_us(deps.now()))
    except StoreError as exc:
        return devices(ctx, 422, str(exc))
    return ctx.redirect("/devices", text=f"{who} can now report {name} lost.")


def remove_owner(ctx: Ctx) -> Response:
    """POST /devices/{device}/owners/remove."""
    name = _device_or_404(ctx)
    if isinstance(name, Response):
        return name
    who = ctx.field("user").strip()
    ctx.deps.audit.record(ctx.name, "device.owner_remove", name, {"owner": who})
    ctx.deps.console.remove_owner(name, who)
    return ctx.redirect("/devices", text=f"{who} no longer owns {name}.")


ROUTES = [
    page("/devices", devices, needs=Permission.VIEW_DEVICES),
    page("/devices/{device}/revoke", revoke, needs=Permission.MANAGE_DEVICES, methods=("POST",)),
    page("/devices/{device}/found", found, needs=Permission.MANAGE_DEVICES, methods=("POST",)),
    page("/devices/{device}/owners", add_owner, needs=Permission.MANAGE_DEVICES, methods=("POST",)),
    page("/devices/{device}/owners/remove", remove_owner, needs=Permission.MANAGE_DEVICES, methods=("POST",)),
]
