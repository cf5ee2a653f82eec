"""An incident as the workflow keeps it: the domain value plus the workflow's notes about it.

It lives beside the domain (not in ``collector.store``) because the workflow owns its
meaning; the store only persists it, and importing it from here keeps store -> workflow
free of a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.domain.incident import Incident
from collector.domain.risk import RiskAssessment


@dataclass(frozen=True)
class IncidentRecord:
    """An incident as stored: the domain value plus the workflow's own notes about it.

    ``draft`` is the evidence-based pre-assessment (None when the domain offers none);
    ``notified_grade`` is the risk grade the IG team was last told about.
    """

    incident: Incident
    draft: RiskAssessment | None = None
    notified_grade: str | None = None
    updated_at_us: int = 0

    @property
    def incident_id(self) -> str:
        """The incident's id."""
        return self.incident.incident_id
