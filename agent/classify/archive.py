"""Walking the members of a plain zip archive, bounded by depth, member count, size and time."""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

from agent.classify.errors import ExtractionError
from agent.classify.limits import Budget
from agent.classify.zipread import open_zip, read_member

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveMember:
    """One file inside an archive: its extension and bytes, or the reason it could not be read."""

    extension: str
    data: bytes = b""
    error: str | None = None


def member_extension(name: str) -> str:
    """Lower-case extension of a member name, without the dot ('' if none)."""
    ext = posixpath.splitext(name)[1]
    return ext[1:].lower() if ext else ""


def iter_members(data: bytes, depth: int, budget: Budget) -> Iterator[ArchiveMember]:
    """Yield each file member of the archive ``data``, whose members sit at nesting ``depth``.

    Members that cannot be read (encrypted, broken, too large) come back with an ``error``; bounds that
    mean the archive is hostile (depth, member count, ratio, total size, time) raise ``ExtractionError``.
    """
    if depth > budget.limits.max_depth:
        raise ExtractionError("zip-depth-exceeded")
    with open_zip(data, budget) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            budget.charge_member()
            budget.check_time()
            extension = member_extension(info.filename)
            try:
                member = ArchiveMember(extension, read_member(zf, info, budget))
            except ExtractionError as exc:
                if exc.fatal:
                    raise
                member = ArchiveMember(extension, error=exc.reason)
            except Exception as exc:  # the boundary: a zipfile path nobody anticipated must not escape
                _log.warning("archive member unreadable (%s)", type(exc).__name__)
                member = ArchiveMember(extension, error="extract-failed")
            yield member
