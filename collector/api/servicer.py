"""The Collector gRPC servicer: authenticate, decode, hand to storage, reply. Nothing else."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NoReturn, Protocol

import grpc

from caseguard.v1 import collector_pb2, collector_pb2_grpc
from collector.api.guarded import peer_address
from collector.api.identity import CallerRefused, DeviceAuthenticator
from collector.api.limits import SlidingWindowLimit
from collector.api.lost_reports import file_lost_report
from collector.domain.networks import address_class
from collector.enrollment.certificates import issue_from_csr
from collector.ingest.quota import DeviceQuota, Throttled, split_by_class
from collector.ops.metrics import CollectorMetrics, reason_label
from collector.pki import PkiError, PkiPaths
from collector.store.base import Device, IncomingEvent, Store, StoreError, UnknownDevice
from collector.store.enrollment_base import EnrollmentStore
from collector.store.group_commit import GroupCommitWriter
from collector.wire import codec

log = logging.getLogger(__name__)

MAX_EVENTS_PER_BATCH = 5_000
# A staff member reports a lost laptop once; a device filing more than this is misbehaving.
LOST_REPORTS_PER_HOUR = 5
# Trailing metadata on a throttled SendEvents: whole seconds until the device may send routine events.
RETRY_AFTER_KEY = "caseguard-retry-after-s"

LOST_DEVICE_TOLD = (
    "The device is now marked lost and the information-governance team is being alerted now ({channels}). "
    "They will contact you about what was on it. If it turns up, hand it to IT before using it."
)
LOST_DEVICE_NOT_TOLD = (
    "The device is now marked lost, but nobody has been alerted automatically: the collector has no "
    "notification channel set up. Tell the information-governance team and your manager yourself now, "
    "quoting this reference. If it turns up, hand it to IT before using it."
)


def lost_device_message(channels: tuple[str, ...]) -> str:
    """What the reporter is told happens next, truthfully for the channels configured."""
    return LOST_DEVICE_TOLD.format(channels=" and ".join(channels)) if channels else LOST_DEVICE_NOT_TOLD


class WorkflowHooks(Protocol):
    """What the servicer tells the breach workflow (``collector.workflow.service``); hooks never raise."""

    def lost_device_reported(self, device: str, report_event_id: str) -> str | None:
        """A stored lost-device report: open its incident now; the incident id, or None."""
        ...

    def lost_device_heard(self, device: str, at_us: int, network: str = "") -> None:
        """A device marked lost called Heartbeat from ``network`` (an address class, never the address)."""
        ...

    @property
    def notify_channels(self) -> tuple[str, ...]:
        """The notification channels configured; empty when nobody can be told."""
        ...


class CollectorServicer(collector_pb2_grpc.CollectorServicer):
    """Implements caseguard.v1.Collector over a store."""

    def __init__(
        self,
        store: Store,
        writer: GroupCommitWriter,
        *,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        workflow: WorkflowHooks | None = None,
        pki: PkiPaths | None = None,
        enrollment: EnrollmentStore | None = None,
        lost_report_limit: SlidingWindowLimit | None = None,
        metrics: CollectorMetrics | None = None,
        quota: DeviceQuota | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._writer = writer
        self._auth = DeviceAuthenticator(store)
        self._clock_us = clock_us
        self._workflow = workflow
        self._pki = pki
        self._enrollment = enrollment
        self._lost_reports = lost_report_limit or SlidingWindowLimit(LOST_REPORTS_PER_HOUR, 3600 * 1_000_000)
        self._metrics = metrics
        self._quota = quota
        self._monotonic = monotonic
        self._throttle_log = SlidingWindowLimit(1, 60 * 1_000_000)  # one warning per device a minute

    def SendEvents(
        self, request: collector_pb2.SendEventsRequest, context: grpc.ServicerContext
    ) -> collector_pb2.SendEventsResponse:
        """Store a batch durably, then acknowledge every event now safely stored."""
        started = time.monotonic()
        device = self._authenticate(context)
        if len(request.events) > MAX_EVENTS_PER_BATCH:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                   f"batch of {len(request.events)} events exceeds {MAX_EVENTS_PER_BATCH}; send smaller batches")
        batch = codec.decode_send_events(request, self._clock_us())
        forged = batch.claimed_devices - {device.name}
        if forged:
            log.warning("device %s sent events claiming another device; batch refused", device.name)
            _abort(context, grpc.StatusCode.PERMISSION_DENIED,
                   f"events claim device {sorted(forged)[0]!r} but the certificate is {device.name!r}")
        events, throttled = batch.events, None
        if events and self._quota is not None:
            events, throttled = self._apply_quota(context, device.name, events)
        if events:
            self._store_or_abort(context, device.name, events)
        if throttled is not None:
            self._refuse_throttled(context, device.name, len(batch.events) - len(events), throttled)
        if batch.rejected:
            log.warning("device %s: %d malformed event(s) rejected", device.name, len(batch.rejected))
        if batch.skewed:
            log.warning("device %s: clock ahead of the collector's on %d event(s)", device.name, batch.skewed)
        if self._metrics is not None:
            self._count(self._metrics, len(request.events), batch, time.monotonic() - started)
        return codec.send_events_response((e.event_id for e in batch.events), batch.rejected)

    def _apply_quota(
        self, context: grpc.ServicerContext, device: str, events: list[IncomingEvent]
    ) -> tuple[list[IncomingEvent], Throttled | None]:
        """The events to store now and, if the device is over a limit, why its routine ones were held."""
        assert self._quota is not None
        critical, routine = split_by_class(events)
        stored = 0
        if routine and self._quota.limits.bytes_stored:
            try:
                stored = self._store.stored_bytes(device)
            except StoreError as exc:
                _abort(context, grpc.StatusCode.UNAVAILABLE, f"storage unavailable, retry later: {exc}")
        incoming = sum(len(e.body) for e in routine)
        throttled = self._quota.check(device, len(routine), len(critical), stored, incoming, self._monotonic())
        return (events, None) if throttled is None else (critical, throttled)

    def _refuse_throttled(self, context: grpc.ServicerContext, device: str, held: int, throttled: Throttled) -> None:
        """End the call RESOURCE_EXHAUSTED, naming the limit, with the retry-after in trailing metadata."""
        if self._metrics is not None:
            self._metrics.events_throttled.labels(throttled.limit).inc(held)
            self._metrics.batches_throttled.labels(throttled.limit).inc()
        if self._throttle_log.allow(device, self._clock_us()):
            log.warning("device %s is over its %s limit (%s): %d routine event(s) held, retry after %d s",
                        device, throttled.limit, throttled.setting, held, throttled.retry_after_s)
        context.set_trailing_metadata(((RETRY_AFTER_KEY, str(throttled.retry_after_s)),))
        _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, throttled.message)

    @staticmethod
    def _count(metrics: CollectorMetrics, received: int, batch: codec.DecodedBatch, seconds: float) -> None:
        metrics.events_received.inc(received)
        for reason in batch.rejected.values():
            metrics.events_rejected.labels(reason_label(reason)).inc()
        if batch.skewed:
            metrics.events_skewed.inc(batch.skewed)
        metrics.batch_seconds.observe(seconds)

    def Heartbeat(
        self, request: collector_pb2.HeartbeatRequest, context: grpc.ServicerContext
    ) -> collector_pb2.HeartbeatResponse:
        """Record a sighting and tell the device how the collector sees it."""
        device = self._authenticate(context)
        now = self._clock_us()
        try:
            self._store.touch_device(device.name, now)
        except StoreError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"storage unavailable: {exc}")
        if device.lost_at_us is not None and self._workflow is not None:
            network = address_class(peer_address(context.peer()))
            self._workflow.lost_device_heard(device.name, now, network)
        return codec.heartbeat_response(
            device.name, device.lost_at_us is not None, datetime.fromtimestamp(now / 1e6, UTC)
        )

    def ReportLostDevice(
        self, request: collector_pb2.ReportLostDeviceRequest, context: grpc.ServicerContext
    ) -> collector_pb2.ReportLostDeviceResponse:
        """Mark a device lost, record the report as an event of that device, and open its incident.

        The reply's reference is the incident id when the workflow opened (or joined) one at
        once, else the report's own id (the workflow's next tick will place it).
        """
        reporter = self._authenticate(context)
        now = self._clock_us()
        try:
            name, body, lost_at = codec.decode_lost_report(request, reporter.name, now)
        except codec.InvalidRequest as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if not name:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "report.device_name is required")
        if name == reporter.name:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                   "a device cannot report itself lost: use the web console or another enrolled device")
        if not self._lost_reports.allow(reporter.name, now):
            _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                   "too many lost-device reports from this device; ask the IG team or use the web console")
        try:
            filed = file_lost_report(
                self._store, self._writer, self._workflow, name, body, lost_at_us=lost_at, now_us=now
            )
        except UnknownDevice:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"no enrolled device named {name!r}")
        except (StoreError, TimeoutError) as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"storage unavailable, retry later: {exc}")
        log.warning("device %s reported lost by %s (reference %s)", name, reporter.name, filed.reference)
        channels = self._workflow.notify_channels if self._workflow is not None else ()
        return codec.lost_report_response(filed.reference, lost_device_message(channels))

    def RenewCertificate(
        self, request: collector_pb2.RenewCertificateRequest, context: grpc.ServicerContext
    ) -> collector_pb2.RenewCertificateResponse:
        """A new certificate for this device's new key; the old one stays valid until it expires."""
        device = self._authenticate(context)
        if self._pki is None:
            _abort(context, grpc.StatusCode.UNIMPLEMENTED, "this collector does not renew certificates")
        try:
            issued = issue_from_csr(self._pki, request.csr_der, device.name)
            self._store.add_certificate(device.name, issued.fingerprint, self._clock_us())
        except PkiError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except StoreError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"storage unavailable: {exc}")
        log.info("renewed the certificate of device %s", device.name)
        return codec.renew_response(issued.cert_pem, issued.not_after)

    def GetPolicy(
        self, request: collector_pb2.GetPolicyRequest, context: grpc.ServicerContext
    ) -> collector_pb2.GetPolicyResponse:
        """The current signed policy when it is newer than the agent's."""
        self._authenticate(context)
        if self._enrollment is None:
            return collector_pb2.GetPolicyResponse(changed=False)
        try:
            current = self._enrollment.current_policy()
        except StoreError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"storage unavailable: {exc}")
        if current is None or current.version <= request.have_version:
            return collector_pb2.GetPolicyResponse(changed=False)
        return codec.policy_response(current.version, current.body, current.signature, current.signer_pem)

    def RetireDevice(
        self, request: collector_pb2.RetireDeviceRequest, context: grpc.ServicerContext
    ) -> collector_pb2.RetireDeviceResponse:
        """Revoke the calling device: its laptop has enrolled again under a new identity."""
        device = self._authenticate(context)
        try:
            self._store.revoke_device(device.name, self._clock_us())
        except StoreError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"storage unavailable: {exc}")
        log.info("device %s retired its identity (%s)", device.name, request.reason[:64] or "no reason given")
        return collector_pb2.RetireDeviceResponse(device_id=device.name)

    def _authenticate(self, context: grpc.ServicerContext) -> Device:
        try:
            return self._auth.authenticate(context)
        except CallerRefused as refused:
            _abort(context, refused.code, refused.message)

    def _store_or_abort(self, context: grpc.ServicerContext, device: str, events: list[IncomingEvent]) -> None:
        try:
            self._writer.submit(device, events)
        except (StoreError, TimeoutError) as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"storage unavailable, retry later: {exc}")


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("unreachable: context.abort raises")
