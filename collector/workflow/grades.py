"""The risk grade the IG team is told about: a one-word summary of the grid's verdict."""

from __future__ import annotations

import enum

from collector.domain.incident_record import IncidentRecord
from collector.domain.risk import RiskAssessment


class RiskGrade(enum.StrEnum):
    """What the grid says, in one word; notifications go out when it changes."""

    UNASSESSED = "unassessed"
    LOW = "low"  # unlikely to result in a risk: record internally
    REPORTABLE = "reportable"  # notify the ICO
    HIGH = "high"  # notify the ICO and tell the people affected


def grade_of(assessment: RiskAssessment | None) -> RiskGrade:
    """The grade of an assessment (None: unassessed)."""
    if assessment is None:
        return RiskGrade.UNASSESSED
    if assessment.high_risk:
        return RiskGrade.HIGH
    return RiskGrade.REPORTABLE if assessment.ico_reportable else RiskGrade.LOW


def current_assessment(record: IncidentRecord) -> RiskAssessment | None:
    """The confirmed assessment if there is one, else the drafted pre-assessment."""
    return record.incident.assessment or record.draft


def current_grade(record: IncidentRecord) -> RiskGrade:
    """The grade of ``current_assessment``."""
    return grade_of(current_assessment(record))
