"""The collector's metrics, on a registry of its own, via prometheus_client.

Counters and histograms are updated where things happen (the gRPC servicer, the
group-commit writer, the workflow runner, the console's sign-in). Figures that live in the
database (incidents by state, the notice queue, silent devices, workflow lag) are read at
scrape time by ``StoreCollector``, so they are never stale and cost nothing between scrapes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from collector.store.base import IngestOutcome

log = logging.getLogger(__name__)

_REASONS: tuple[tuple[str, str], ...] = (
    ("event_id", "bad_event_id"),
    ("seq must be 1", "bad_seq"),
    ("seq must be at most", "out_of_range"),
    ("event has no body", "no_body"),
    ("occurred_at is required", "no_time"),
)


def reason_label(reason: str) -> str:
    """A small, fixed label for a rejection reason (the text itself would explode cardinality)."""
    for prefix, label in _REASONS:
        if reason.startswith(prefix):
            return label
    if "made by the collector" in reason:
        return "collector_only"
    if "clock" in reason:
        return "implausible_time"
    if "storable range" in reason:
        return "out_of_range"
    return "other"


class CollectorMetrics:
    """Every counter and histogram the collector keeps."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_received = Counter("caseguard_events_received", "Events received in SendEvents calls", registry=r)
        self.events_stored = Counter("caseguard_events_stored", "Events newly stored (duplicates excluded)", registry=r)
        self.events_duplicate = Counter("caseguard_events_duplicate", "Redelivered events already stored", registry=r)
        self.events_rejected = Counter(
            "caseguard_events_rejected", "Events refused at the boundary, by reason", ["reason"], registry=r
        )
        self.events_skewed = Counter(
            "caseguard_events_clock_skewed", "Stored events whose device clock ran ahead of the collector's", registry=r
        )
        self.batch_seconds = Histogram(
            "caseguard_send_events_seconds", "Time to store and acknowledge one SendEvents batch", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.group_commit_batches = Histogram(
            "caseguard_group_commit_batches", "Batches stored per group commit", registry=r,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )
        self.events_throttled = Counter(
            "caseguard_events_throttled",
            "Routine events refused because their device was over a limit (rate or storage), by limit",
            ["limit"], registry=r,
        )
        self.batches_throttled = Counter(
            "caseguard_send_events_throttled", "SendEvents calls answered RESOURCE_EXHAUSTED by a device limit",
            ["limit"], registry=r,
        )
        self.ingest_failures = Counter("caseguard_ingest_failures", "Batches that could not be stored", registry=r)
        self.workflow_rounds = Counter(
            "caseguard_workflow_rounds", "Workflow runner rounds, by step and outcome", ["step", "outcome"], registry=r
        )
        self.sign_in_failures = Counter(
            "caseguard_console_sign_in_failures", "Console password checks that failed", registry=r
        )
        self.sign_in_throttled = Counter(
            "caseguard_console_sign_in_throttled", "Console password checks refused by the throttle (429)", registry=r
        )
        self.audit_checkpoint_steps = Counter(
            "caseguard_audit_checkpoint_steps",
            "Automatic audit checkpoint steps (write, or sending by a channel), by outcome",
            ["step", "outcome"], registry=r,
        )
        self.audit_checkpoint_written = Gauge(
            "caseguard_audit_checkpoint_last_written_timestamp_seconds",
            "When the last automatic audit checkpoint was written (0: none since start)", registry=r,
        )

    def observe_group(self, batches: int, outcome: IngestOutcome | None) -> None:
        """``GroupCommitWriter`` hook: one group stored (or, with None, a batch that failed)."""
        if outcome is None:
            self.ingest_failures.inc()
            return
        self.group_commit_batches.observe(batches)
        self.events_stored.inc(outcome.stored)
        self.events_duplicate.inc(outcome.duplicates)

    def observe_checkpoint(self, step: str, ok: bool) -> None:
        """``AuditCheckpointer`` hook: one write or send ran."""
        self.audit_checkpoint_steps.labels(step, "ok" if ok else "failed").inc()
        if ok and step == "write":
            self.audit_checkpoint_written.set_to_current_time()

    def observe_round(self, step: str, ok: bool) -> None:
        """``WorkflowRunner`` hook: one step of a round ran."""
        self.workflow_rounds.labels(step, "ok" if ok else "failed").inc()


@dataclass(frozen=True)
class StoreFigures:
    """Figures read from the database at scrape time."""

    incidents_by_state: dict[str, int]
    notices_queued: int
    notices_failing: int
    oldest_undelivered_age_s: float | None
    deadline_warnings_due: int
    silent_devices: int
    workflow_lag_s: float
    quarantined_events: int = 0


class StoreCollector(Collector):
    """Yields the ``StoreFigures`` gauges on each scrape; a failing read is one error gauge, not a 500."""

    def __init__(self, read: Callable[[], StoreFigures]) -> None:
        self._read = read
        self.last_error: str | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges, read now."""
        up = GaugeMetricFamily("caseguard_store_up", "1 when the scrape could read the database")
        try:
            figures = self._read()
        except Exception as exc:
            self.last_error = str(exc)
            log.warning("metrics: reading the store failed: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        self.last_error = None
        up.add_metric([], 1)
        yield up
        by_state = GaugeMetricFamily("caseguard_incidents", "Incidents by state", labels=["state"])
        for state, count in sorted(figures.incidents_by_state.items()):
            by_state.add_metric([state], count)
        yield by_state
        yield GaugeMetricFamily("caseguard_notices_queued", "Notices not yet delivered", value=figures.notices_queued)
        yield GaugeMetricFamily(
            "caseguard_notices_failing", "Undelivered notices whose last attempt failed", value=figures.notices_failing
        )
        yield GaugeMetricFamily(
            "caseguard_notice_oldest_undelivered_seconds", "Age of the oldest undelivered notice (0: none)",
            value=figures.oldest_undelivered_age_s or 0.0,
        )
        yield GaugeMetricFamily(
            "caseguard_deadline_warnings_due", "Open incidents within 24 hours of, or past, a deadline",
            value=figures.deadline_warnings_due,
        )
        yield GaugeMetricFamily("caseguard_silent_devices", "Devices silent past the policy's limit",
                                value=figures.silent_devices)
        yield GaugeMetricFamily(
            "caseguard_workflow_lag_seconds",
            "Age of the oldest breach-class event the workflow has not handled (ahead of its cursor, or passed by it"
            " and waiting for the sweep); quarantined events do not count",
            value=figures.workflow_lag_s,
        )
        yield GaugeMetricFamily(
            "caseguard_workflow_quarantined_events",
            "Events the workflow could not turn into alerts (see `caseguard-collector workflow quarantine list`)",
            value=figures.quarantined_events,
        )


def monotonic_s() -> float:
    """Seconds on the monotonic clock (a seam for tests)."""
    return time.monotonic()
