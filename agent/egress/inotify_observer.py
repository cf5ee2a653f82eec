"""A watchdog inotify observer that tells us when coverage was lost (Linux only).

watchdog 7.1 handles an ``IN_Q_OVERFLOW`` by logging a warning and rebuilding its recursive
watches (``InotifyWatchGroup.on_queue_overflow``); the event handler hears nothing, so files
created while the kernel queue was full are silently missed. It also drops a watch quietly when
the kernel removes it (``IN_IGNORED`` after an unmount). This module subclasses the watch group
to call a ``CoverageListener`` in both cases, and uses the *full* emitter so that a file moved in
from an unwatched folder arrives as a ``FileMovedEvent`` with an empty source, not as "created".

One inotify instance serves all watches, and the kernel queue belongs to the instance, so an
overflow is reported once per watch group: every watched tree may have lost events.

watchdog 7.0 (which pyproject still allows) discards ``IN_Q_OVERFLOW`` before any callback sees
it and does not rebuild watches. There the observer spots the overflow in the raw read buffer
itself and reports it with ``watches_rebuilt=False``, so the watcher re-adds each watch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from watchdog.events import FileSystemEvent
from watchdog.observers.api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver, EventQueue, ObservedWatch
from watchdog.observers.inotify import InotifyFullEmitter, InotifyWatchGroup
from watchdog.observers.inotify_c import (
    DEFAULT_EVENT_BUFFER_SIZE,
    InotifyConstants,
    InotifyEvent,
    InotifyFD,
    WatchDescriptor,
)

# watchdog >= 7.1 hands IN_Q_OVERFLOW to each watch group and rebuilds recursive watches.
NATIVE_OVERFLOW_HOOK = hasattr(InotifyWatchGroup, "on_queue_overflow")


class CoverageListener(Protocol):
    """Told when an inotify watch can no longer be trusted. Called on watchdog's reader thread."""

    def on_overflow(self, root: str, *, watches_rebuilt: bool = True) -> None:
        """The kernel queue overflowed; events under ``root`` may have been lost.

        ``watches_rebuilt`` is False when watchdog did not re-add the watches of folders created
        meanwhile, so the watch must be added afresh.
        """
        ...

    def on_root_watch_lost(self, root: str) -> None:
        """The kernel removed the watch on ``root`` itself (unmounted, deleted or moved away)."""
        ...


@dataclass
class _ReportingWatchGroup(InotifyWatchGroup):
    listener: CoverageListener | None = None

    def on_queue_overflow(self) -> None:
        native = getattr(super(), "on_queue_overflow", None)
        if native is not None:
            native()
        if self.listener is not None and self.is_active:
            self.listener.on_overflow(os.fsdecode(self.path))

    def on_watch_deleted(self, wd: WatchDescriptor) -> None:
        with self._lock:
            was_root = self._active_callbacks_by_watch.get(wd) == self.path
        super().on_watch_deleted(wd)
        if was_root and self.listener is not None and self.is_active:
            self.listener.on_root_watch_lost(os.fsdecode(self.path))


class _ReportingEmitter(InotifyFullEmitter):
    def __init__(
        self,
        event_queue: EventQueue,
        watch: ObservedWatch,
        *,
        timeout: float,
        event_filter: list[type[FileSystemEvent]] | None = None,
        inotify_fd: InotifyFD | None = None,
        listener: CoverageListener | None = None,
    ) -> None:
        super().__init__(event_queue, watch, timeout=timeout, event_filter=event_filter, inotify_fd=inotify_fd)
        self._listener = listener

    def on_thread_start(self) -> None:
        # As InotifyEmitter.on_thread_start, with the reporting watch group.
        self._inotify = _ReportingWatchGroup(
            self._inotify_fd,
            os.fsencode(self.watch.path),
            is_recursive=self.watch.is_recursive,
            event_mask=self.get_event_mask_from_filter(),
            follow_symlink=self.watch.follow_symlink,
            listener=self._listener,
        )


class _OverflowSpottingFD(InotifyFD):
    """An inotify instance that notices ``IN_Q_OVERFLOW`` itself (for watchdog 7.0)."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__()
        self._on_overflow = on_overflow

    def read_events(self, *, event_buffer_size: int = DEFAULT_EVENT_BUFFER_SIZE) -> list[InotifyEvent]:
        events: list[InotifyEvent] = []
        overflow = False
        for wd, mask, cookie, name in InotifyFD._parse_event_buffer(self._read_event_buffer(event_buffer_size)):
            if wd == -1:
                overflow = overflow or bool(mask & InotifyConstants.IN_Q_OVERFLOW)
            else:
                events.append(InotifyEvent(wd, mask, cookie, name))
        if overflow:
            self._on_overflow()
        return events


class ReportingInotifyObserver(BaseObserver):
    """``InotifyObserver`` with its own inotify instance, full move events and coverage reports.

    ``native_overflow=False`` forces the 7.0 behaviour (overflow spotted in the read buffer,
    watches not rebuilt by watchdog); it is the default only where watchdog lacks the hook.
    """

    def __init__(
        self,
        listener: CoverageListener,
        *,
        timeout: float = DEFAULT_OBSERVER_TIMEOUT,
        native_overflow: bool = NATIVE_OVERFLOW_HOOK,
    ) -> None:
        self._listener = listener
        self._inotify_fd = InotifyFD() if native_overflow else _OverflowSpottingFD(self._overflow_everywhere)
        self._inotify_fd.start()
        super().__init__(_ReportingEmitter, timeout=timeout, inotify_fd=self._inotify_fd, listener=listener)

    def _overflow_everywhere(self) -> None:
        with self._lock:
            roots = [emitter.watch.path for emitter in self.emitters if emitter.is_alive()]
        for root in roots:
            self._listener.on_overflow(root, watches_rebuilt=False)

    def on_thread_stop(self) -> None:
        super().on_thread_stop()
        self._inotify_fd.stop()
        if self._inotify_fd.is_alive():
            self._inotify_fd.join()
