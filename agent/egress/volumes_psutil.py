"""Fallback volume source for systems without a native backend: psutil partitions.

Used only when the OS backend cannot start. It knows less: the bus is ``unknown`` and there
is no serial. A partition counts as removable when the OS says so in its options (Windows) or
it is mounted where removable media are mounted (``/media``, ``/run/media``, ``/Volumes``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import psutil

from agent.egress.model import BUS_UNKNOWN, Volume, VolumeIdentity

DEFAULT_REMOVABLE_ROOTS: tuple[str, ...] = ("/media/", "/run/media/", "/Volumes/")


class PsutilVolumeSource:
    """Snapshots from ``psutil.disk_partitions``; change detection is plain polling."""

    def __init__(
        self,
        serial_key: bytes,
        *,
        partitions: Callable[[], Sequence[Any]] = lambda: psutil.disk_partitions(all=False),
        disk_usage: Callable[[str], Any] = psutil.disk_usage,
        stat: Callable[[str], os.stat_result] = os.stat,
        removable_roots: Sequence[str] = DEFAULT_REMOVABLE_ROOTS,
    ) -> None:
        self._serial_key = serial_key  # kept for parity with native sources; no serial is known here
        self._partitions = partitions
        self._disk_usage = disk_usage
        self._stat = stat
        self._removable_roots = tuple(removable_roots)

    def snapshot(self) -> frozenset[Volume]:
        """The partitions that look removable, mounted now."""
        volumes: set[Volume] = set()
        for part in self._partitions():
            options = str(part.opts).split(",")
            flagged = "removable" in options
            if not (flagged or str(part.mountpoint).startswith(self._removable_roots)):
                continue
            try:
                size = int(self._disk_usage(part.mountpoint).total)
                token = str(self._stat(part.mountpoint).st_dev)
            except OSError:
                continue
            label = os.path.basename(str(part.mountpoint).rstrip("/\\")) or str(part.mountpoint)
            identity = VolumeIdentity(
                label=label,
                filesystem=str(part.fstype),
                size_bytes=size,
                bus=BUS_UNKNOWN,
                serial_hmac="",
                removable_flag=flagged,
                mount_point=str(part.mountpoint),
            )
            volumes.add(Volume(identity=identity, mount_token=token, device=str(part.device)))
        return frozenset(volumes)

    def wait_for_change(self, stop: threading.Event, timeout: float) -> None:
        """No notification here: just wait ``timeout`` (or until ``stop``)."""
        stop.wait(timeout)
