"""Group commit: concurrent SendEvents calls share one transaction and one fsync.

Each gRPC handler submits its batch and waits; a single writer thread takes everything
queued, stores it in one durable transaction, then releases all the waiters. Throughput
grows with the number of agents instead of being capped by fsyncs per second.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from collector.store.base import IncomingEvent, IngestOutcome, IngestTimedOut, Store, StoreError

log = logging.getLogger(__name__)

_Item = tuple[str, Sequence[IncomingEvent], "Future[None]"]


class GroupCommitWriter:
    """Serialises ingest through one thread, batching whatever is waiting."""

    def __init__(
        self,
        store: Store,
        *,
        max_group_events: int = 20_000,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        on_committed: Callable[[Sequence[tuple[str, Sequence[IncomingEvent]]], IngestOutcome], None] | None = None,
        on_group: Callable[[int, IngestOutcome | None], None] | None = None,
    ) -> None:
        self._store = store
        self._max = max_group_events
        self._clock_us = clock_us
        self._on_committed = on_committed
        self._on_group = on_group  # (batches in the group, outcome or None if it failed): for metrics
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="caseguard-writer", daemon=True)
        self._stopping = False
        self._thread.start()

    def submit(self, device: str, events: Sequence[IncomingEvent], timeout_s: float = 30.0) -> None:
        """Store ``events`` durably; returns only after commit. Raises StoreError on failure."""
        if self._stopping:
            raise StoreError("collector is shutting down")
        fut: Future[None] = Future()
        self._queue.put((device, events, fut))
        fut.result(timeout=timeout_s)

    def stop(self) -> None:
        """Finish what is queued, then stop the writer thread."""
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            size = len(first[1])
            stop_after = False
            while size < self._max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop_after = True
                    break
                group.append(item)
                size += len(item[1])
            self._commit(group)
            if stop_after:
                return

    def _observe(self, batches: int, outcome: IngestOutcome | None) -> None:
        if self._on_group is not None:
            try:
                self._on_group(batches, outcome)
            except Exception:
                log.exception("group-commit metrics hook failed")

    def _commit(self, group: list[_Item]) -> None:
        batches = [(device, events) for device, events, _ in group]
        try:
            outcome = self._store.ingest(batches, self._clock_us())
        except IngestTimedOut as exc:
            # The database is slow or locked, not one batch bad: storing each alone would take
            # a timeout per batch. Every waiter hears "retry later" (nothing was stored).
            log.error("ingest of a group of %d batches timed out: %s", len(group), exc)
            for _, _, fut in group:
                fut.set_exception(exc)
            self._observe(len(group), None)
            return
        except Exception as exc:  # every waiter must hear about it, whatever it was
            if len(group) > 1:
                # One device's bad batch must not fail the others it happened to share a
                # transaction with: store each alone, so only the guilty one fails.
                log.warning("group of %d batches failed (%s); storing each alone", len(group), exc)
                for item in group:
                    self._commit([item])
                return
            log.error("ingest of a batch from %s failed: %s", group[0][0], exc)
            group[0][2].set_exception(exc if isinstance(exc, StoreError) else StoreError(str(exc)))
            self._observe(1, None)
            return
        for _, _, fut in group:
            fut.set_result(None)
        self._observe(len(group), outcome)
        if self._on_committed is not None:
            try:
                self._on_committed(batches, outcome)
            except Exception:
                log.exception("post-commit hook failed (events are stored)")
