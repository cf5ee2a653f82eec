"""The breach workflow for one collector: ingest hook, periodic tick, commands, exports, notices.

``WorkflowService`` is what ``serve`` and the CLI build. Its hooks for the gRPC side
(``on_committed``, ``lost_device_reported``, ``lost_device_heard``) never raise: the
workflow failing must never make ingest fail. Events stay stored and acknowledged, the
failure is logged, and the next tick catches up from the cursor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from collector.domain.ico_prefill import OrgProfile
from collector.notify.base import Channel
from collector.store.base import IncomingEvent, IngestOutcome
from collector.store.workflow_base import WorkflowStore
from collector.workflow.checks import device_signal_alerts, send_deadline_warnings
from collector.workflow.commands import IncidentCommands
from collector.workflow.dispatch import Dispatcher, DispatchReport
from collector.workflow.exports import Exports
from collector.workflow.intake import WORKFLOW_VERSION, Intake, IntakeReport, RetryReport
from collector.workflow.policy import DEFAULT_WORKFLOW_POLICY, WorkflowPolicy
from collector.workflow.times import from_us, utc_now

log = logging.getLogger(__name__)

NO_ORGANISATION = OrgProfile(organisation_name="", ico_registration_number="")


@dataclass(frozen=True)
class TickReport:
    """What one tick did: the catch-up, new alerts from device checks, warnings queued, notices sent."""

    intake: IntakeReport
    signal_alerts: int
    warnings: int
    dispatch: DispatchReport


class WorkflowService:
    """Everything the collector does with breach-class signals, over one store and one clock."""

    def __init__(
        self,
        store: WorkflowStore,
        *,
        policy: WorkflowPolicy = DEFAULT_WORKFLOW_POLICY,
        org: OrgProfile = NO_ORGANISATION,
        email: Channel | None = None,
        webhook: Channel | None = None,
        clock: Callable[[], datetime] = utc_now,
        version: str = WORKFLOW_VERSION,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.version = version
        self.intake = Intake(store, policy, clock, version)
        self.commands = IncidentCommands(store, policy, clock)
        self.exports = Exports(store, policy, org, clock)
        self.dispatcher = Dispatcher(store, clock, email=email, webhook=webhook)
        self.wake = threading.Event()  # set after each commit; the runner waits on it
        self._lock = threading.Lock()  # one workflow writer per process (the store serialises processes)
        self._dispatch_lock = threading.Lock()

    @property
    def notify_channels(self) -> tuple[str, ...]:
        """The notification channels configured ("email", "webhook"); empty means nobody is told."""
        return self.dispatcher.channels

    # -- driving it --------------------------------------------------------------------

    def catch_up(self) -> IntakeReport:
        """Turn every event stored since the cursor into alerts and incidents."""
        with self._lock:
            return self.intake.catch_up()

    def sweep(self) -> IntakeReport:
        """Handle any breach-class event the cursor passed without handling (see ``Intake.sweep``)."""
        with self._lock:
            report = self.intake.sweep()
        if report.alerts:
            self.wake.set()  # send the new incidents' notices promptly
        return report

    def retry_quarantine(self, *, other_versions_only: bool = False) -> RetryReport:
        """Handle quarantined events again (all, or those another version quarantined)."""
        with self._lock:
            return self.intake.retry_quarantined(other_versions_only=other_versions_only)

    def tick(self) -> TickReport:
        """Catch up, retry what another version quarantined, run the device checks, queue due
        deadline warnings, then send notices."""
        with self._lock:
            intake = self.intake.catch_up()
            self.intake.retry_quarantined(other_versions_only=True)
            signals = self.intake.place_alerts(device_signal_alerts(self.store, self.clock(), self.policy))
            warnings = send_deadline_warnings(self.store, self.clock, self.policy)
            self.intake.save_cursor()
        return TickReport(intake, signals, warnings, self.dispatch())

    def dispatch(self) -> DispatchReport:
        """Send queued notices (network I/O: never under the workflow lock)."""
        with self._dispatch_lock:
            return self.dispatcher.dispatch()

    # -- hooks for the gRPC side (never raise) -----------------------------------------

    def on_committed(self, batches: Sequence[tuple[str, Sequence[IncomingEvent]]], outcome: IngestOutcome) -> None:
        """``GroupCommitWriter`` hook: new events are durable; wake the runner (cheap, on the writer thread)."""
        if outcome.stored:
            self.wake.set()

    def lost_device_reported(self, device: str, report_event_id: str) -> str | None:
        """Open (or join) the lost device's incident now; its id, or None if the workflow failed."""
        try:
            with self._lock:
                incident_id = self.intake.place_event(device, report_event_id)
        except Exception:
            log.exception("lost-device report for %s not yet in an incident (the tick will retry)", device)
            return None
        self.wake.set()  # send the new-incident notice promptly
        return incident_id

    def lost_device_heard(self, device: str, at_us: int, network: str = "") -> None:
        """A device marked lost called in (Heartbeat) from ``network`` (an address class): raise the check-in alert."""
        try:
            with self._lock:
                self.intake.lost_device_heard(device, from_us(at_us), network=network)
        except Exception:
            log.exception("check-in of lost device %s not recorded", device)
            return
        self.wake.set()
