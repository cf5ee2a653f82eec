"""The workflow's thread inside ``serve``: catch up after commits, tick and sweep on timers, send notices.

Waits are on events that ``stop`` sets, so shutdown is prompt. A failing round is logged
and retried at the next wake or tick; it never stops the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from collector.workflow.service import WorkflowService

log = logging.getLogger(__name__)


class WorkflowRunner:
    """Runs ``WorkflowService.tick`` every ``interval_s``, a catch-up whenever ingest commits, and the
    sweep for events the cursor passed every ``sweep_s`` (the policy's ``sweep_interval`` by default)."""

    def __init__(
        self,
        service: WorkflowService,
        *,
        interval_s: float | None = None,
        sweep_s: float | None = None,
        settle_s: float = 0.2,
        monotonic: Callable[[], float] = time.monotonic,
        on_round: Callable[[str, bool], None] | None = None,
    ) -> None:
        self._service = service
        self._interval = interval_s if interval_s is not None else service.policy.tick_interval.total_seconds()
        self._sweep = sweep_s if sweep_s is not None else service.policy.sweep_interval.total_seconds()
        self._settle = settle_s
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caseguard-workflow", daemon=True)
        self._on_round = on_round
        self.last_success: float | None = None  # monotonic time of the last round in which every step worked
        self.failing: dict[str, str] = {}  # step -> the error of its last failure, while it keeps failing

    def start(self) -> None:
        """Start the thread (the first tick runs at once)."""
        if not self._service.notify_channels:
            log.warning(
                "no notification channel is configured ([notify] in collector.toml): incidents, lost-device "
                "reports and deadline warnings are queued but sent to nobody until one is"
            )
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the current round."""
        self._stop.set()
        self._service.wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        """Whether the runner's thread is running."""
        return self._thread.is_alive()

    def progressed_within(self, seconds: float) -> bool:
        """Whether a round fully succeeded in the last ``seconds`` (for the readiness probe)."""
        return self.last_success is not None and self._monotonic() - self.last_success <= seconds

    def _run(self) -> None:
        next_tick = self._monotonic()
        next_sweep = next_tick  # at start too: after an upgrade, events older versions missed
        woke = False
        while not self._stop.is_set():
            if self._monotonic() >= next_sweep:
                self._safely("sweep", self._service.sweep)
                next_sweep = self._monotonic() + self._sweep
            if self._monotonic() >= next_tick:
                ok = self._safely("tick", self._service.tick)
                next_tick = self._monotonic() + self._interval
                if ok:
                    self.last_success = self._monotonic()
            elif woke:
                ok = self._safely("catch-up", self._service.catch_up)
                ok = self._safely("dispatch", self._service.dispatch) and ok
                if ok and not self.failing:
                    self.last_success = self._monotonic()
            woke = self._service.wake.wait(max(0.0, min(next_tick, next_sweep) - self._monotonic()))
            self._service.wake.clear()
            self._stop.wait(self._settle)  # let a burst of commits settle into one round

    def _safely(self, what: str, step: Callable[[], object]) -> bool:
        try:
            step()
        except Exception as exc:
            if what not in self.failing:
                log.exception("workflow %s failed; retrying at the next wake or tick", what)
            else:
                log.error("workflow %s still failing: %s", what, exc)
            self.failing[what] = f"{type(exc).__name__}: {exc}"
            self._report(what, False)
            return False
        if self.failing.pop(what, None) is not None:
            log.warning("workflow %s recovered", what)
        self._report(what, True)
        return True

    def _report(self, what: str, ok: bool) -> None:
        if self._on_round is not None:
            try:
                self._on_round(what, ok)
            except Exception:
                log.exception("workflow round hook failed")
