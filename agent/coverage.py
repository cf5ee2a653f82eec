"""Coverage bookkeeping: say once that a part stopped working, and once that it is back.

Every part of the agent that can fail on its own (a destination, a protected root, a watch, a
sensor) reports through a :class:`CoverageTracker`. The tracker turns a stream of "still
failing / working again" observations into ``coverage_degraded`` events: one with
``recovered=false`` when a part first fails (or fails for a new reason), one with
``recovered=true`` when it works again. Repeating the same failure on every retry says
nothing new and is not reported again.

Reasons are short codes (:func:`reason_for_error`), never paths or file names: an errno is
about the folder, and the folder's name may be a child's.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

REASON_PERMISSION_DENIED = "permission-denied"
REASON_MISSING = "missing"
REASON_UNMOUNTED = "unmounted"
REASON_IO_ERROR = "io-error"
REASON_FAILED = "failed"

_ERRNO_REASONS: Mapping[int, str] = {
    errno.EACCES: REASON_PERMISSION_DENIED,
    errno.EPERM: REASON_PERMISSION_DENIED,
    errno.ENOENT: REASON_MISSING,
    errno.ENOTDIR: REASON_MISSING,
    errno.ENODEV: REASON_UNMOUNTED,
    errno.ENXIO: REASON_UNMOUNTED,
    errno.ESTALE: REASON_UNMOUNTED,
    errno.ENOTCONN: REASON_UNMOUNTED,
    errno.EIO: REASON_IO_ERROR,
}

Emit = Callable[[str, Mapping[str, Any]], None]


def reason_for_error(exc: BaseException) -> str:
    """The reason code for a failure: ``permission-denied``, ``missing``, ``unmounted``, ``io-error``…"""
    if isinstance(exc, OSError) and exc.errno is not None:
        return _ERRNO_REASONS.get(exc.errno, REASON_IO_ERROR)
    return REASON_FAILED


def probe_dir(path: str) -> str | None:
    """None if ``path`` is a folder this process can list, else the reason code why not."""
    import os

    try:
        with os.scandir(path) as entries:
            next(entries, None)
    except OSError as exc:
        return reason_for_error(exc)
    return None


class CoverageTracker:
    """Reports each part's failure once and its recovery once (thread-safe).

    A part is named by ``(component, key)``; ``key`` tells parts of one scope apart (it may be a
    path, which is only ever used here as a dictionary key and never leaves the tracker).
    """

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], tuple[str, str]] = {}  # (component, key) -> (reason, scope)

    def failing(self, component: str, key: str, scope: str, reason: str) -> None:
        """The part is not working for ``reason``: report it unless already reported for that reason."""
        with self._lock:
            if self._open.get((component, key)) == (reason, scope):
                return
            self._open[(component, key)] = (reason, scope)
        log.warning("coverage degraded: %s (%s) %s", component, scope, reason)
        self._send(component, scope, reason, recovered=False)

    def working(self, component: str, key: str) -> None:
        """The part works: report its recovery if its failure was reported."""
        with self._lock:
            opened = self._open.pop((component, key), None)
        if opened is None:
            return
        reason, scope = opened
        log.warning("coverage restored: %s (%s) after %s", component, scope, reason)
        self._send(component, scope, reason, recovered=True)

    def forget(self, component: str, key: str) -> None:
        """Stop tracking the part (it is no longer wanted), reporting nothing."""
        with self._lock:
            self._open.pop((component, key), None)

    def open_count(self) -> int:
        """How many parts are failing now."""
        with self._lock:
            return len(self._open)

    def _send(self, component: str, scope: str, reason: str, *, recovered: bool) -> None:
        body = {"component": component, "reason": reason, "scope": scope, "recovered": recovered}
        try:
            self._emit("coverage_degraded", body)
        except Exception:  # the outbox may be failing too: the log line above still says it
            log.exception("could not record coverage_degraded")
