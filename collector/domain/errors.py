"""The one hierarchy of errors the breach domain raises.

Every error is a ``DomainError``; callers (the gRPC layer, the console) can catch that
one class and show its message, which is written for an IG officer.
"""

from __future__ import annotations

from collector.errors import CollectorError


class DomainError(CollectorError):
    """Base class for every error raised by ``collector.domain``."""


class InvalidTimestamp(DomainError, ValueError):
    """A datetime that is naive, not UTC, or impossible in context (e.g. in the future)."""


class InvalidTransition(DomainError):
    """The incident's current state does not allow the requested step."""

    def __init__(self, state: str, event: str, allowed: tuple[str, ...]) -> None:
        self.state = state
        self.event = event
        self.allowed = allowed
        options = ", ".join(allowed) if allowed else "nothing"
        super().__init__(f"cannot {event} an incident that is {state}; from {state} you can: {options}")


class MissingReason(DomainError):
    """A step that the law or policy requires to be explained was given no written reason."""


class AwarenessJustificationRequired(MissingReason):
    """aware_at was set later than the provisional clock's start without a written justification."""


class LateReasonsRequired(MissingReason):
    """An initial ICO report recorded after the 72-hour deadline has no reasons for the delay."""


class InvalidCommand(DomainError, ValueError):
    """A step was asked for with values that make no sense (e.g. a draft assessment, a bad ground)."""


class GroupingError(DomainError):
    """An alert cannot be attached to or split from an incident as asked."""


class InvalidDraftField(DomainError, ValueError):
    """An ICO report draft was given an unknown field or a value outside the form's choices."""
