"""Evidence about a lost device that the store holds: its last posture and when it was last heard from."""

from __future__ import annotations

import logging
from datetime import datetime

from collector.domain.alerts import AlertKind
from collector.domain.event_facts import DevicePosture
from collector.domain.incident import Incident
from collector.store.workflow_base import WorkflowReads
from collector.wire.event_codec import POSTURE_KINDS, EventDecodeError, device_posture
from collector.workflow.times import from_us

log = logging.getLogger(__name__)

_LOSS_KINDS = frozenset({AlertKind.LOST_DEVICE, AlertKind.DEVICE_SILENT})


def lost_device(incident: Incident) -> str | None:
    """The device an incident says is lost or silent, if any (the first such alert's)."""
    return next((a.device_id for a in incident.alerts if a.kind in _LOSS_KINDS), None)


def lost_device_evidence(reads: WorkflowReads, incident: Incident) -> tuple[DevicePosture | None, datetime | None]:
    """(last posture, last heard from) of the incident's lost device; (None, None) when there is none."""
    device = lost_device(incident)
    if device is None:
        return None, None
    posture = None
    try:
        posture = device_posture(reads.latest_posture_events(device, POSTURE_KINDS))
    except EventDecodeError as exc:
        log.warning("posture of a lost device cannot be read (%s); going without it", exc)
    heard = reads.last_heard_from(device)
    return posture, None if heard is None else from_us(heard)
