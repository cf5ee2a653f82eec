"""Errors of the workflow service (domain rule violations stay ``collector.domain.errors``)."""

from __future__ import annotations

from collector.errors import CollectorError


class WorkflowError(CollectorError):
    """Base class for errors raised by ``collector.workflow``; messages are for IG officers."""


class UnknownIncident(WorkflowError):
    """No incident has that id."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident {incident_id!r}: see `caseguard-collector incidents list`")
        self.incident_id = incident_id


class NothingToAssess(WorkflowError):
    """An assessment was asked for without scores and without a drafted assessment to confirm."""
