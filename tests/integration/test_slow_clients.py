"""Stalled calls hold no worker: other laptops deliver and enrol as usual (real collector, real mTLS)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from caseguard.v1 import collector_pb2, collector_pb2_grpc, enrollment_pb2, enrollment_pb2_grpc, events_pb2
from tests.integration.harness import Agent, Collector, free_port, run_cli

pytestmark = pytest.mark.integration

STALLED = 32


def _channel(collector: Collector, certs: Path) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=(certs / "ca.pem").read_bytes(),
        private_key=(certs / "device.key").read_bytes(),
        certificate_chain=(certs / "device.pem").read_bytes(),
    )
    return grpc.secure_channel(collector.address, creds)


def _stall(channel: grpc.Channel, method: str, release: threading.Event, count: int = STALLED) -> list[grpc.Future]:
    """Start ``count`` calls whose request never arrives (until ``release``), as a slow or hostile client would."""

    def never() -> Iterator[bytes]:
        release.wait(120)
        yield b""

    call = channel.stream_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return [call.future(never(), timeout=120) for _ in range(count)]


def _status(future: grpc.Future) -> grpc.StatusCode | None:
    """The status a finished call failed with; None if it is still open or succeeded."""
    if not future.done():
        return None
    exc = future.exception()
    return exc.code() if isinstance(exc, grpc.Call) else None


def _send_latency(channel: grpc.Channel, device: str, seq: int) -> float:
    ev = events_pb2.Event(event_id=str(uuid.uuid4()), seq=seq, device_id=device, agent_version="t")
    ev.occurred_at.GetCurrentTime()
    ev.test.index = seq
    t0 = time.monotonic()
    reply = collector_pb2_grpc.CollectorStub(channel).SendEvents(
        collector_pb2.SendEventsRequest(events=[ev]), timeout=10
    )
    assert list(reply.acknowledged_event_ids) == [ev.event_id]
    return time.monotonic() - t0


def test_stalled_calls_from_revoked_and_enrolled_devices_do_not_delay_a_good_device(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    collector.start()
    good_certs = make_agent("good-laptop").cert_dir
    revoked_certs = collector.issue("revoked-laptop", tmp_path / "revoked")
    run_cli("collector", "devices", "revoke", "revoked-laptop", "--data-dir", str(collector.data_dir))
    greedy_certs = collector.issue("greedy-laptop", tmp_path / "greedy")
    release = threading.Event()
    with _channel(collector, good_certs) as good, _channel(collector, revoked_certs) as revoked, \
            _channel(collector, greedy_certs) as greedy:
        baseline = max(_send_latency(good, "good-laptop", seq) for seq in range(1, 4))
        refused = _stall(revoked, "/caseguard.v1.Collector/SendEvents", release)
        held = _stall(greedy, "/caseguard.v1.Collector/SendEvents", release)
        time.sleep(1.0)  # every stalled call is open at the server
        under_abuse = max(_send_latency(good, "good-laptop", seq) for seq in range(4, 10))
        # The revoked device was refused before its requests arrived (or, past its cap of calls in
        # flight, before even that); the greedy one beyond its cap.
        codes = [code for code in map(_status, refused) if code is not None]
        assert len(codes) == STALLED and grpc.StatusCode.PERMISSION_DENIED in codes
        assert set(codes) <= {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.RESOURCE_EXHAUSTED}
        over_cap = [code for code in map(_status, held) if code is not None]
        assert all(code is grpc.StatusCode.RESOURCE_EXHAUSTED for code in over_cap)
        assert len(over_cap) >= STALLED - 8
        release.set()
    assert under_abuse < max(1.0, 10 * baseline), (baseline, under_abuse)


def test_stalled_anonymous_enrolment_calls_do_not_stop_enrolment(collector: Collector) -> None:
    enrol_port = free_port()
    collector.start("--enroll-listen", f"127.0.0.1:{enrol_port}")
    release = threading.Event()
    with grpc.insecure_channel(f"127.0.0.1:{enrol_port}") as stalled, \
            grpc.insecure_channel(f"127.0.0.1:{enrol_port}") as other:
        # Four workers serve enrolment: 16 stalled calls held all of them. Sixteen is within one
        # address's allowance (a NAT'd office), so this is about workers, not the per-address cap.
        futures = _stall(stalled, "/caseguard.v1.Enrollment/Enroll", release, 16)
        time.sleep(1.0)
        t0 = time.monotonic()
        reply = enrollment_pb2_grpc.EnrollmentStub(other).GetCA(enrollment_pb2.GetCARequest(), timeout=5)
        elapsed = time.monotonic() - t0
        release.set()
        deadline = time.monotonic() + 30
        while not all(f.done() for f in futures) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(f.done() for f in futures), "a stalled enrolment call was still open 30 s after release"
    assert reply.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert elapsed < 2.0
