"""The one exception extraction uses internally, with its reason codes.

It never escapes the package: the classifier turns it into a verdict's ``error`` field.
"""

from __future__ import annotations

from agent.errors import AgentError

# Reasons after which nothing more of the file is read: the file is hostile or the budget is gone.
# A member's own limits (its ratio, its size) are not among them: one very compressible member is
# reported unread and its siblings are still judged, within the archive-wide totals below.
FATAL_REASONS: frozenset[str] = frozenset(
    {
        "zip-overlap",
        "zip-total-exceeded",
        "zip-too-many-members",
        "zip-depth-exceeded",
        "time-budget",
        "timeout",
    }
)

# Every reason extraction can report, for documentation and tests.
ALL_REASONS: frozenset[str] = FATAL_REASONS | {
    "zip-ratio-exceeded",
    "xml-forbidden-entity",
    "xml-malformed",
    "truncated",
    "corrupt",
    "encrypted",
    "format-mismatch",
    "unsupported-format",
    "unsupported-compression",
    "text-limit",
    "too-large",
    "not-found",
    "permission-denied",
    "unreadable",
    "extract-failed",
    "timeout",
    "over-budget",
    "ocr-unavailable",
    "ocr-off",
    "ocr-page-limit",
}


# Reasons that leave a file unjudged: what is in it is unknown (all but a file that vanished before it
# could be read). A file like this at an egress destination is reported as ``uninspectable_file``.
UNJUDGED_REASONS: frozenset[str] = ALL_REASONS - {"not-found"}


class ExtractionError(AgentError):
    """Extraction stopped for ``reason`` (one of ``ALL_REASONS``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def fatal(self) -> bool:
        """True when the rest of the file (other archive members too) must not be read."""
        return self.reason in FATAL_REASONS
