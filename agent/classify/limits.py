"""Bounds on what one classification may read, decompress and spend, and the budget that enforces them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.classify.errors import ExtractionError
from agent.sandbox.job import HeavyReader

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Resource bounds for classifying one file (including everything inside it).

    Every bound, when hit, ends extraction with an ``error`` reason on the verdict; nothing raises
    to the caller. Defaults suit a laptop agent judging documents as they are copied.
    """

    max_read_bytes: int = 64 * MIB
    """Bytes of one file or archive member held in memory for extraction. Larger files are still hashed."""
    max_hash_bytes: int = 1024 * MIB
    """Files larger than this are not hashed (sha256 left empty; reason ``too-large``)."""
    max_total_bytes: int = 256 * MIB
    """Decompressed bytes across all zip members and XML parts of one classification."""
    max_ratio: float = 200.0
    """Largest decompressed/compressed ratio allowed for one zip member, checked while streaming."""
    ratio_floor_bytes: int = 1 * MIB
    """The ratio is only enforced once a member has produced this many bytes (tiny parts compress well)."""
    max_depth: int = 3
    """Deepest zip-inside-zip nesting followed; the outer archive's members are depth 1."""
    max_members: int = 2000
    """Archive members (files) examined in one classification, and entries allowed in one central directory."""
    time_budget_s: float = 3.0
    """Wall-time for reading, hashing and extracting one file."""
    max_text_chars: int = 8_000_000
    """Characters of extracted text kept; the rest is not scanned (reason ``text-limit``)."""
    ocr: bool = True
    """Read text from images (PNG, JPEG, TIFF) and image-only PDF pages with Tesseract. Off: such files
    are reported unjudged (reason ``ocr-off``), never passed as clean."""
    ocr_time_budget_s: float = 20.0
    """Wall-time one classification may spend on OCR, on top of ``time_budget_s``."""
    max_ocr_pages: int = 8
    """Images (TIFF frames, image-only PDF pages) read by OCR per classification (reason ``ocr-page-limit``)."""
    max_ocr_pixels: int = 12_000_000
    """Pixels of one image or rendered page given to OCR; larger ones are scaled down to this. An image
    declaring more than four times this is refused unread (reason ``over-budget``)."""
    worker_memory_bytes: int = 1024 * MIB
    """Address space of the extraction worker process (PDF and OCR run there; reason ``over-budget``)."""


DEFAULT_LIMITS = Limits()


class Budget:
    """The running account of one classification against its ``Limits``: time and decompressed bytes.

    Shared by every archive member and XML part of one file, so a nested bomb cannot reset it.
    ``reader`` runs PDF and image extraction (the sandboxed worker when None).
    """

    def __init__(
        self, limits: Limits, clock: Callable[[], float] = time.monotonic, reader: HeavyReader | None = None
    ) -> None:
        self.limits = limits
        self.reader = reader
        self._clock = clock
        self._deadline = clock() + limits.time_budget_s
        self.decompressed = 0
        self.members = 0
        self.ocr_left_s = limits.ocr_time_budget_s

    def remaining_s(self) -> float:
        """Wall-time left for reading and extracting (0 once spent)."""
        return max(0.0, self._deadline - self._clock())

    def charge_ocr(self, seconds: float) -> None:
        """Count ``seconds`` of OCR against ``ocr_time_budget_s``; the time budget grows by as much, so
        OCR does not starve the rest of the file (archive siblings, attachments)."""
        granted = min(max(0.0, seconds), self.ocr_left_s)
        self.ocr_left_s -= granted
        self._deadline += granted

    def check_time(self) -> None:
        """Raise ``ExtractionError("time-budget")`` once the wall-time budget is spent."""
        if self._clock() > self._deadline:
            raise ExtractionError("time-budget")

    def charge_bytes(self, n: int) -> None:
        """Count ``n`` decompressed bytes against the total; raise when over it."""
        self.decompressed += n
        if self.decompressed > self.limits.max_total_bytes:
            raise ExtractionError("zip-total-exceeded")

    def charge_member(self) -> None:
        """Count one archive member against ``max_members``; raise when over it."""
        self.members += 1
        if self.members > self.limits.max_members:
            raise ExtractionError("zip-too-many-members")
