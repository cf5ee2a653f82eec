"""The sandboxed extraction worker: PDF text (pdfium) and OCR (Tesseract) in a confined process.

``Sandbox`` is the ``HeavyReader`` the classifier uses by default (``default_sandbox``); the worker's
readers (``pdf``, ``images``, ``ocr``) take bytes and give text; ``confine`` holds every platform
specific (rlimits, network namespace, killing a process tree).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.sandbox.runner import Sandbox

__all__ = ["Sandbox", "default_sandbox"]

# The runner (multiprocessing) is imported on first use, not when the classifier imports
# ``agent.sandbox.job``: an idle agent carries none of it (bench/footprint.py).
_default: Sandbox | None = None
_default_lock = threading.Lock()


def default_sandbox() -> Sandbox:
    """The process-wide ``Sandbox`` (created on first use, Tesseract found on PATH)."""
    global _default
    from agent.sandbox.runner import Sandbox

    with _default_lock:
        if _default is None:
            _default = Sandbox()
        return _default


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from agent.sandbox.runner import Sandbox

        return Sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
