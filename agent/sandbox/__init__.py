"""The sandboxed extraction worker: PDF text (pdfium) and OCR (Tesseract) in a confined process.

``Sandbox`` is the ``HeavyReader`` the classifier uses by default (``default_sandbox``, a pool of
long-lived workers started on first need, sized by ``configure_default_sandbox``); the worker's
readers (``pdf``, ``images``, ``ocr``) take bytes and give text; ``confine`` holds every platform
specific (rlimits, network namespace, killing a process tree).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.sandbox.runner import Sandbox

__all__ = ["Sandbox", "configure_default_sandbox", "default_sandbox"]

# The runner (multiprocessing) is imported on first use, not when the classifier imports
# ``agent.sandbox.job``: an idle agent carries none of it (bench/footprint.py).
_default: Sandbox | None = None
_default_lock = threading.Lock()
_settings: dict[str, int] = {}  # from [case_files]; the runner's defaults until configured


def default_sandbox() -> Sandbox:
    """The process-wide ``Sandbox`` (created on first use, Tesseract found on PATH)."""
    global _default
    from agent.sandbox import runner

    with _default_lock:
        if _default is None:
            _default = runner.Sandbox(
                workers=_settings.get("workers", runner.WORKERS),
                recycle_after_jobs=_settings.get("recycle_after_jobs", runner.RECYCLE_AFTER_JOBS),
            )
        return _default


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from agent.sandbox.runner import Sandbox

        return Sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def configure_default_sandbox(*, workers: int, recycle_after_jobs: int) -> None:
    """Size the process-wide pool (``[case_files] extraction_workers`` and ``extraction_worker_jobs``).
    Starts nothing: workers start when the first PDF or image needs one."""
    with _default_lock:
        _settings.update(workers=workers, recycle_after_jobs=recycle_after_jobs)
        if _default is not None:
            _default.configure(workers=workers, recycle_after_jobs=recycle_after_jobs)
