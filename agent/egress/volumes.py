"""Removable volumes: the source interface, snapshot diffing, the monitor thread, backend choice.

A *volume source* (one module per OS: ``volumes_linux``, ``volumes_windows``, ``volumes_macos``)
takes snapshots of the removable volumes mounted now and can block until the mount table may
have changed. ``VolumeMonitor`` turns successive snapshots into ``on_added`` / ``on_removed``
calls. The first snapshot reports every removable volume already mounted as added.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.egress.model import Volume

logger = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL_S = 1.0


class VolumeSource(Protocol):
    """Where the removable volumes mounted right now come from."""

    def snapshot(self) -> frozenset[Volume]:
        """The removable volumes mounted now. Raises ``OSError`` when the OS cannot be asked."""
        ...

    def wait_for_change(self, stop: threading.Event, timeout: float) -> None:
        """Block until the mount table may have changed, ``timeout`` passes or ``stop`` is set."""
        ...


@dataclass(frozen=True)
class VolumeChanges:
    """The difference between two snapshots, each side sorted by mount point."""

    added: tuple[Volume, ...]
    removed: tuple[Volume, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


def diff_snapshots(old: frozenset[Volume], new: frozenset[Volume]) -> VolumeChanges:
    """What appeared in ``new`` and what went from ``old``. A remount is one of each."""

    def ordered(volumes: frozenset[Volume]) -> tuple[Volume, ...]:
        return tuple(sorted(volumes, key=lambda v: (v.identity.mount_point, v.mount_token)))

    return VolumeChanges(added=ordered(new - old), removed=ordered(old - new))


class VolumeMonitor:
    """Reports removable volumes as they are mounted and unmounted.

    ``poll_once`` can be driven by hand (tests, or a caller's own loop); ``start`` runs it on a
    daemon thread until ``stop`` is called or the ``stop_event`` given at construction is set.
    Callbacks run on that thread; an exception from one is logged and does not stop the monitor.
    """

    def __init__(
        self,
        source: VolumeSource,
        on_added: Callable[[Volume], None],
        on_removed: Callable[[Volume], None],
        *,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        stop_event: threading.Event | None = None,
        on_failure: Callable[[OSError | None], None] | None = None,
    ) -> None:
        self._source = source
        self._on_failure = on_failure  # called with the error when snapshots start failing, None when back
        self._on_added = on_added
        self._on_removed = on_removed
        self._poll_interval_s = poll_interval_s
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._current: frozenset[Volume] = frozenset()
        self._thread: threading.Thread | None = None
        self._failing = False

    @property
    def current(self) -> frozenset[Volume]:
        """The volumes reported as present by the last successful poll."""
        return self._current

    def poll_once(self) -> VolumeChanges:
        """Take a snapshot, report the differences from the previous one and return them.

        When the snapshot fails, nothing is reported (a failure is not an unmount) and the
        previous snapshot stays current.
        """
        try:
            new = self._source.snapshot()
        except OSError as exc:
            if not self._failing:
                logger.warning("volume snapshot failed (%s); keeping the previous view", type(exc).__name__)
                self._report_failure(exc)
            self._failing = True
            return VolumeChanges((), ())
        if self._failing:
            self._report_failure(None)
        self._failing = False
        changes = diff_snapshots(self._current, new)
        self._current = new
        for volume in changes.removed:
            self._call(self._on_removed, volume, "on_removed")
        for volume in changes.added:
            self._call(self._on_added, volume, "on_added")
        if changes:
            logger.info(
                "removable volumes: %d added, %d removed, %d present",
                len(changes.added),
                len(changes.removed),
                len(new),
            )
        return changes

    def start(self) -> None:
        """Run the monitor on a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("VolumeMonitor already started")
        self._thread = threading.Thread(target=self._run, name="caseguard-volume-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Signal the thread to stop and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._source.wait_for_change(self._stop, self._poll_interval_s)

    def _report_failure(self, exc: OSError | None) -> None:
        if self._on_failure is None:
            return
        try:
            self._on_failure(exc)
        except Exception:
            logger.exception("volume monitor: on_failure callback failed")

    @staticmethod
    def _call(callback: Callable[[Volume], None], volume: Volume, name: str) -> None:
        try:
            callback(volume)
        except Exception:
            logger.exception("volume monitor: %s callback failed", name)


def default_volume_source(
    serial_key: bytes, *, platform: str = sys.platform, media_roots: Sequence[str] | None = None
) -> VolumeSource:
    """The volume source for this OS, chosen once; falls back to a psutil-based one with a warning.

    ``media_roots`` (Linux): where udisks mounts removable media; None for the usual ones.
    """
    try:
        if platform.startswith("linux"):
            from agent.egress.model import DEFAULT_MEDIA_ROOTS
            from agent.egress.volumes_linux import LinuxVolumeSource

            roots = DEFAULT_MEDIA_ROOTS if media_roots is None else media_roots
            return LinuxVolumeSource(serial_key, media_roots=roots)
        if platform == "win32":
            from agent.egress.volumes_windows import WindowsVolumeSource

            return WindowsVolumeSource(serial_key)
        if platform == "darwin":
            from agent.egress.volumes_macos import MacVolumeSource

            return MacVolumeSource(serial_key)
    except (ImportError, OSError) as exc:
        logger.warning("native volume source unavailable (%s); falling back to psutil", type(exc).__name__)
    from agent.egress.volumes_psutil import PsutilVolumeSource

    return PsutilVolumeSource(serial_key)
