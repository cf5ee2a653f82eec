"""What the worker sends back, one piece at a time, so text read before a kill is not lost."""

from __future__ import annotations

from typing import Any

from agent.errors import AgentError

Piece = tuple[str, Any]
"""``("properties", dict)``, ``("page", str)``, ``("ocr_s", float)`` (OCR seconds so far),
``("stop", reason)`` (ended early) or ``("done", None)`` (the last piece of a finished job)."""


class Stop(AgentError):
    """Reading stopped for ``reason`` (one of the classifier's ``ALL_REASONS``); never leaves the worker."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
