"""Reading a file once: SHA-256 over every byte as it streams, the first part kept for extraction."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass

from agent.classify.errors import ExtractionError
from agent.classify.limits import Budget

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class FileRead:
    """The bytes kept from one file and what reading found.

    ``data`` is the whole file when ``complete``, else its first ``max_read_bytes``. ``sha256`` (lower-case hex)
    covers the whole file, or is empty when the file was too large or too slow to hash, or unreadable.
    """

    data: bytes
    sha256: str
    size: int
    complete: bool
    error: str | None = None


def read_and_hash(path: str | os.PathLike[str], budget: Budget) -> FileRead:
    """Read ``path`` once, hashing every byte (hashlib releases the GIL); never raises.

    A file that fits ``max_read_bytes`` is read in one call into one buffer (no copies beyond the kernel's);
    a larger one streams in chunks, hashed throughout, keeping only its first ``max_read_bytes``.
    """
    limits = budget.limits
    digest = hashlib.sha256()
    kept: list[bytes] = []
    total = 0
    complete = True
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return FileRead(b"", "", 0, False, "unreadable")  # FIFOs and devices would block or never end
        with open(path, "rb", buffering=0) as f:
            expected = os.fstat(f.fileno()).st_size
            if expected <= limits.max_read_bytes:
                # One extra byte tells whether the file grew since fstat (then the chunk loop carries on).
                first = f.read(expected + 1)
                digest.update(first)
                total = len(first)
                kept.append(first)
                if total <= expected:
                    return FileRead(first, digest.hexdigest(), total, True)
                budget.check_time()
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                total += len(chunk)
                if total <= limits.max_read_bytes:
                    kept.append(chunk)
                elif complete:
                    complete = False
                    room = limits.max_read_bytes - (total - len(chunk))
                    kept.append(chunk[:room])
                if total > limits.max_hash_bytes:
                    return FileRead(b"".join(kept), "", total, False, "too-large")
                budget.check_time()
    except FileNotFoundError:
        return FileRead(b"", "", 0, False, "not-found")
    except PermissionError:
        return FileRead(b"", "", 0, False, "permission-denied")
    except ExtractionError as exc:
        return FileRead(b"".join(kept), "", total, False, exc.reason)
    except OSError:
        return FileRead(b"", "", 0, False, "unreadable")
    return FileRead(b"".join(kept), digest.hexdigest(), total, complete, None if complete else "too-large")
