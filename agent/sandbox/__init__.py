"""The sandboxed extraction worker: PDF text (pdfium) and OCR (Tesseract) in a confined process.

``Sandbox`` is the ``HeavyReader`` the classifier uses by default (``default_sandbox``); the worker's
readers (``pdf``, ``images``, ``ocr``) take bytes and give text; ``confine`` holds every platform
specific (rlimits, network namespace, killing a process tree).
"""

from __future__ import annotations

import threading

from agent.sandbox.runner import Sandbox

__all__ = ["Sandbox", "default_sandbox"]

_default: Sandbox | None = None
_default_lock = threading.Lock()


def default_sandbox() -> Sandbox:
    """The process-wide ``Sandbox`` (created on first use, Tesseract found on PATH)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Sandbox()
        return _default
