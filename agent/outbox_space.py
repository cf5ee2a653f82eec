"""Room for breach-class events on a full disk: a reserve file released when SQLite says "full".

The outbox keeps a preallocated file (``<outbox>.reserve``) beside itself. When a commit fails
because the disk is full, the reserve is deleted, which gives the outbox room for the events at
hand and the ``coverage_degraded(disk-full)`` report; when even that fills, events wait in a
bounded queue in memory (agent/outbox.py) and are committed as soon as space returns. Once it
has, the reserve is made again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_RESERVE_BYTES = 8 * 1024 * 1024
_SQLITE_FULL = 13


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error means the disk (or quota) is full."""
    if isinstance(exc, OSError):
        return exc.errno in (28, 122)  # ENOSPC, EDQUOT
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and int(code) & 0xFF == _SQLITE_FULL:
        return True
    return "disk is full" in str(exc)


class DiskReserve:
    """A file of ``size`` bytes that holds space for the outbox until it is needed."""

    def __init__(self, path: Path, size: int = DEFAULT_RESERVE_BYTES) -> None:
        self._path = path
        self._size = size

    @property
    def held(self) -> bool:
        """Whether the reserve is in place."""
        try:
            return self._path.stat().st_size >= self._size
        except OSError:
            return False

    def make(self) -> bool:
        """Allocate the reserve (again); False when there is not room for it (yet)."""
        if self._size <= 0 or self.held:
            return True
        tmp = self._path.with_name(self._path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                if hasattr(os, "posix_fallocate"):
                    os.posix_fallocate(fd, 0, self._size)
                else:  # no fallocate (macOS, Windows): write the blocks
                    chunk = b"\0" * (1 << 20)
                    for _ in range(0, self._size, len(chunk)):
                        os.write(fd, chunk)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self._path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            if not is_disk_full(exc):
                log.warning("outbox reserve: cannot be made (%s)", exc.strerror)
            return False
        return True

    def release(self) -> bool:
        """Delete the reserve to give its space to the outbox; False if there was none."""
        try:
            self._path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.error("outbox reserve: cannot be released (%s)", exc.strerror)
            return False
        log.error("disk full: released the outbox reserve so breach-class events can still be committed")
        return True
