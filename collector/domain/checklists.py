"""Task checklists per incident type: what IG and IT do for a lost device, a USB copy, a cloud copy, a lock failure.

The lists come from configuration (``WorkflowPolicy.checklists``); ``DEFAULT_CHECKLISTS`` is
a starting point drawn from the staff policy (a lost laptop is reported to the manager at
once and the service user advised) and the ICO's breach guidance (contain, assess, notify,
review). Ticking a task is the life cycle's ``CompleteTask`` step: who did it, and when.
"""

from __future__ import annotations

from collections.abc import Mapping

from collector.domain.alerts import AlertKind
from collector.domain.event_facts import DestinationClass
from collector.domain.incident import Incident, TaskDone

LOST_DEVICE = "lost_device"
USB_EGRESS = "usb_egress"
PERSONAL_CLOUD = "personal_cloud"
LOCK_FAILURE = "lock_failure"

TYPE_TEXT: Mapping[str, str] = {
    LOST_DEVICE: "Lost or stolen device",
    USB_EGRESS: "Case files copied to removable media",
    PERSONAL_CLOUD: "Case files copied to a personal cloud",
    LOCK_FAILURE: "Screen lock failure",
}

DEFAULT_CHECKLISTS: Mapping[str, tuple[str, ...]] = {
    LOST_DEVICE: (
        "Manager told",
        "Remote lock or wipe requested from IT",
        "Police told if stolen (crime reference recorded)",
        "Service users advised",
        "Device account credentials reset",
    ),
    USB_EGRESS: (
        "Media recovered or confirmed destroyed",
        "Staff member spoken to",
        "Copies on other devices checked",
    ),
    PERSONAL_CLOUD: (
        "Files deleted from the personal account (confirmed by the staff member)",
        "Account sharing links checked",
        "Staff member spoken to",
    ),
    LOCK_FAILURE: (
        "Device lock settings checked by IT",
        "Staff member reminded of the lock policy",
    ),
}


def incident_types(incident: Incident) -> tuple[str, ...]:
    """The incident's types, in a fixed order (an incident can be more than one)."""
    kinds = {a.kind for a in incident.alerts}
    destinations = {a.destination_class for a in incident.alerts if a.kind is AlertKind.CASE_FILE_EGRESS}
    found: list[str] = []
    if kinds & {AlertKind.LOST_DEVICE, AlertKind.DEVICE_SILENT, AlertKind.LOST_DEVICE_CHECK_IN}:
        found.append(LOST_DEVICE)
    if DestinationClass.REMOVABLE_VOLUME in destinations or AlertKind.CASE_FILES_FOUND in kinds:
        found.append(USB_EGRESS)
    if DestinationClass.PERSONAL_CLOUD in destinations:
        found.append(PERSONAL_CLOUD)
    if AlertKind.LOCK_FAILED in kinds:
        found.append(LOCK_FAILURE)
    return tuple(found)


def checklist(
    incident: Incident, checklists: Mapping[str, tuple[str, ...]] = DEFAULT_CHECKLISTS
) -> tuple[tuple[str, TaskDone | None], ...]:
    """Every task for the incident's types, each with its completion (None while still to do)."""
    done = {t.task: t for t in incident.tasks_done}
    tasks = dict.fromkeys(task for kind in incident_types(incident) for task in checklists.get(kind, ()))
    return tuple((task, done.get(task)) for task in tasks)
