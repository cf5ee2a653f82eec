"""The sender thread: delivers outbox batches, deletes only what the collector acknowledged."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from agent.outbox import Outbox
from agent.transport import codec
from agent.transport.client import DeliveryError
from agent.transport.retry import Action, Backoff, action_for

log = logging.getLogger(__name__)


class EventClient(Protocol):
    """What the sender needs from a transport (CollectorClient in production)."""

    def send_events(self, payloads: Sequence[bytes]) -> tuple[list[str], Mapping[str, str]]: ...


class Sender(threading.Thread):
    """Moves events from the outbox to the collector until stopped.

    At-least-once: an event leaves the outbox only after the collector has said it is
    durably stored (or, for malformed events, moved to the dead-letter table).
    """

    def __init__(
        self,
        outbox: Outbox,
        client: EventClient,
        *,
        backoff: Backoff,
        batch_size: int = 500,
        max_message_bytes: int = 4 * 1024 * 1024,
        idle_poll_s: float = 1.0,
        pause: Callable[[float], object] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``pause(seconds)`` waits between retries; by default on the stop event, so ``stop()``
        interrupts it (tests pass a recorder to see which delay each failure earned)."""
        super().__init__(name="caseguard-sender", daemon=True)
        self._outbox = outbox
        self._client = client
        self._backoff = backoff
        self._batch_size = batch_size
        self._current_batch = batch_size
        self._max_bytes = max_message_bytes - 1024  # room for framing
        self._idle_poll_s = idle_poll_s
        self._stop_event = threading.Event()
        self._wake = threading.Event()
        self._pause_for = pause if pause is not None else self._stop_event.wait
        self._attempt = 0
        self._monotonic = monotonic
        self._throttled_until: float | None = None  # the collector holds our routine events until then
        self.delivered = 0

    def wake(self) -> None:
        """New events were committed: deliver now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Ask the thread to finish; it returns from any wait at once."""
        self._stop_event.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                progressed = self._deliver_once()
            except Exception:  # keep the thread alive whatever happens; events stay on disk
                log.exception("sender: unexpected error; will retry")
                self._pause(self._backoff.delay(self._attempt))
                self._attempt += 1
                continue
            if not progressed:
                self._wake.wait(self._idle_poll_s)
                self._wake.clear()

    def _deliver_once(self) -> bool:
        """One batch; returns True to go again at once (delivered, or already waited after a failure)."""
        self._outbox.take_shed_report()
        throttled = self._still_throttled()
        batch = (self._outbox.peek_critical if throttled else self._outbox.peek)(self._current_batch)
        if not batch:
            return False
        payloads = [e.payload for e in batch]
        n = codec.fitting_prefix(payloads, self._max_bytes)
        batch, payloads = batch[:n], payloads[:n]
        try:
            acked, rejected = self._client.send_events(payloads)
        except DeliveryError as exc:
            self._outbox.note_error(str(exc))
            action = action_for(exc.code, exc.retry_after_s)
            if action is Action.THROTTLED and exc.retry_after_s is not None:
                self._throttle(exc.retry_after_s, exc.details)
                if throttled:  # even breach-class events refused (a collector that should not): wait
                    self._pause(self._backoff.max_s)
                return True  # else on at once: breach-class events may still go
            if action is Action.SHRINK and self._current_batch > 1:
                self._current_batch = max(1, self._current_batch // 2)
                log.warning("sender: %s; batch size now %d", exc.code.name, self._current_batch)
                return True
            delay = self._backoff.delay(self._attempt)
            if action is Action.HOLD or (action is Action.SHRINK):
                delay = self._backoff.max_s
                log.error("sender: collector refuses delivery (%s); holding events", exc.code.name)
            else:
                log.warning("sender: delivery failed (%s); retry in %.1fs", exc.code.name, delay)
            self._attempt += 1
            self._pause(delay)
            return True  # the pause was the wait: retry now, not after another idle poll
        self._attempt = 0
        self._current_batch = min(self._batch_size, self._current_batch * 2)
        self._outbox.ack(acked)
        if rejected:
            self._outbox.dead_letter(rejected)
        self.delivered += len(acked)
        if len(acked) + len(rejected) < len(batch):
            # The collector stored only part of the batch (it is shedding load): pause briefly.
            self._pause(self._backoff.initial_s)
        return bool(acked or rejected)

    @property
    def throttled(self) -> bool:
        """True while the collector holds this device's routine events (breach-class ones still go)."""
        return self._throttled_until is not None

    def _throttle(self, seconds: float, why: str) -> None:
        if self._throttled_until is None:
            log.warning("sender: collector throttles this device (%s); routine events held for %.0f s,"
                        " breach-class events still sent", why, seconds)
        self._throttled_until = self._monotonic() + seconds

    def _still_throttled(self) -> bool:
        if self._throttled_until is None:
            return False
        if self._monotonic() < self._throttled_until:
            return True
        self._throttled_until = None
        log.info("sender: throttle over; sending routine events again")
        return False

    def _pause(self, seconds: float) -> None:
        self._pause_for(seconds)
