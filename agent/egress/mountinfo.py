"""Parse Linux ``/proc/<pid>/mountinfo`` (see proc(5)). Pure: bytes in, entries out."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# The kernel escapes space, tab, newline and backslash in paths as three-digit octal (\040 ...).
_OCTAL_ESCAPE = re.compile(rb"\\([0-7]{3})")


@dataclass(frozen=True)
class MountEntry:
    """One line of mountinfo.

    ``mount_id`` is unique per mount and is not reused while the mount exists, so a remount of the
    same device at the same place gets a new one.
    """

    mount_id: int
    parent_id: int
    major: int
    minor: int
    root: str
    mount_point: str
    options: tuple[str, ...]
    fstype: str
    source: str
    super_options: tuple[str, ...]

    @property
    def device_number(self) -> str:
        """``major:minor``, the name of the device under ``/sys/dev/block``."""
        return f"{self.major}:{self.minor}"


def unescape(field: bytes) -> str:
    """Undo mountinfo's octal escapes and decode with the file-system encoding."""
    raw = _OCTAL_ESCAPE.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF]), field)
    return os.fsdecode(raw)


def parse_mountinfo(data: bytes) -> list[MountEntry]:
    """All well-formed entries in ``data``; malformed lines are skipped and counted in the log."""
    entries: list[MountEntry] = []
    skipped = 0
    for line in data.splitlines():
        if not line.strip():
            continue
        entry = _parse_line(line)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    if skipped:
        logger.warning("mountinfo: skipped %d malformed lines", skipped)
    return entries


def _parse_line(line: bytes) -> MountEntry | None:
    fields = line.split(b" ")
    try:
        separator = fields.index(b"-", 6)
        mount_id, parent_id = int(fields[0]), int(fields[1])
        major, minor = (int(part) for part in fields[2].split(b":", 1))
        fstype, source = fields[separator + 1], fields[separator + 2]
        super_options = fields[separator + 3] if len(fields) > separator + 3 else b""
    except (ValueError, IndexError):
        return None
    return MountEntry(
        mount_id=mount_id,
        parent_id=parent_id,
        major=major,
        minor=minor,
        root=unescape(fields[3]),
        mount_point=unescape(fields[4]),
        options=tuple(unescape(fields[5]).split(",")),
        fstype=unescape(fstype),
        source=unescape(source),
        super_options=tuple(unescape(super_options).split(",")) if super_options else (),
    )
