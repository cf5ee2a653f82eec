"""Writing a file so that readers see the old content or the new, never half of it."""

from __future__ import annotations

import os
import time
from pathlib import Path

# Windows refuses to replace a file another process has open (a session part reading it): retry.
_REPLACE_TRIES = 10
_REPLACE_PAUSE_S = 0.05


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    for attempt in range(_REPLACE_TRIES):
        try:
            os.replace(tmp, path)
            return
        except PermissionError:
            if os.name != "nt" or attempt == _REPLACE_TRIES - 1:
                raise
            time.sleep(_REPLACE_PAUSE_S)
