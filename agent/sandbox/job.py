"""Work the classifier hands to the sandboxed extraction worker: PDFs and images, bytes in, text out.

Parsing PDFs and running OCR are the riskiest things the agent does with hostile bytes (native code,
unbounded pages), so they run in a separate process with hard limits (``agent.sandbox``). This module
holds only the plain values that cross the process boundary and the reader's calling convention, so
the classifier stays free of process handling and tests can pass a reader of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol

HeavyKind = Literal["pdf", "image"]


@dataclass(frozen=True)
class HeavyJob:
    """One document for the worker, with every bound it must keep."""

    kind: HeavyKind
    data: bytes
    time_s: float
    """Wall seconds for reading text layers (pages are checked against it)."""
    ocr: bool
    ocr_time_s: float
    """Wall seconds OCR may take in this job, on top of ``time_s``."""
    max_ocr_pages: int
    max_ocr_pixels: int
    max_chars: int
    memory_bytes: int

    @property
    def deadline_s(self) -> float:
        """The whole job's wall time; past it (plus start-up grace) the worker is killed."""
        return self.time_s + (self.ocr_time_s if self.ocr else 0.0)


@dataclass(frozen=True)
class HeavyResult:
    """What the worker read: page texts in order (partial when it stopped early), PDF info entries,
    the reason it stopped early (an ``ALL_REASONS`` code) and the seconds spent in OCR."""

    pages: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    error: str | None = None
    ocr_s: float = 0.0


class HeavyReader(Protocol):
    """Runs a ``HeavyJob`` to its ``HeavyResult``; never raises for anything about the document."""

    def __call__(self, job: HeavyJob) -> HeavyResult:
        """Read ``job``."""
        ...
