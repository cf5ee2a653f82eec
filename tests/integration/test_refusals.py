"""Bad clients get a clear status and nothing stored, while good agents keep delivering."""

from __future__ import annotations

import contextlib
import socket
import ssl
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from caseguard.v1 import collector_pb2, collector_pb2_grpc, events_pb2
from tests.integration.harness import Agent, Collector, run_cli, wait_for

pytestmark = pytest.mark.integration


def _channel(collector: Collector, certs: Path, *, ca: Path | None = None, client_cert: bool = True) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=(ca or certs / "ca.pem").read_bytes(),
        private_key=(certs / "device.key").read_bytes() if client_cert else None,
        certificate_chain=(certs / "device.pem").read_bytes() if client_cert else None,
    )
    return grpc.secure_channel(collector.address, creds, options=[("grpc.max_send_message_length", 64 << 20)])


def _event(device: str, seq: int = 1, event_id: str | None = None) -> events_pb2.Event:
    ev = events_pb2.Event(event_id=event_id or str(uuid.uuid4()), seq=seq, device_id=device,
                          agent_version="test")
    ev.occurred_at.GetCurrentTime()
    ev.test.index = seq
    return ev


def _send(channel: grpc.Channel, *events: events_pb2.Event) -> collector_pb2.SendEventsResponse:
    stub = collector_pb2_grpc.CollectorStub(channel)
    return stub.SendEvents(collector_pb2.SendEventsRequest(events=list(events)), timeout=10)


def _code(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details() or ""


@pytest.fixture
def busy_collector(collector: Collector, make_agent: Callable[..., Agent]) -> Iterator[tuple[Collector, Agent]]:
    """A running collector with a good agent delivering throughout the test."""
    collector.start()
    good = make_agent("good-laptop")
    good.emit(2_000)
    good.start()
    yield collector, good
    good.emit(500)
    wait_for(lambda: collector.count("test", "good-laptop") == 2_500, 60, "the good agent's events after the abuse")


def test_client_from_another_ca_is_refused(busy_collector, tmp_path: Path) -> None:
    collector, _ = busy_collector
    rogue = Collector(tmp_path / "rogue")
    rogue.data_dir.mkdir()
    rogue.init_pki()
    certs = rogue.issue("rogue-laptop", tmp_path / "rogue-certs")
    with _channel(collector, certs, ca=collector.data_dir / "pki" / "ca.pem") as ch:
        code, _ = _code(lambda: _send(ch, _event("rogue-laptop")))
    assert code is grpc.StatusCode.UNAVAILABLE  # the TLS handshake fails
    assert collector.count(device="rogue-laptop") == 0


def test_client_trusting_another_ca_will_not_talk_to_us(busy_collector, tmp_path: Path, make_agent) -> None:
    collector, _ = busy_collector
    rogue = Collector(tmp_path / "rogue2")
    rogue.data_dir.mkdir()
    rogue.init_pki()
    certs = make_agent("laptop-x").cert_dir
    with _channel(collector, certs, ca=rogue.data_dir / "pki" / "ca.pem") as ch:
        code, _ = _code(lambda: _send(ch, _event("laptop-x")))
    assert code is grpc.StatusCode.UNAVAILABLE


def test_no_client_certificate_is_refused(busy_collector, make_agent) -> None:
    collector, _ = busy_collector
    certs = make_agent("laptop-n").cert_dir
    with _channel(collector, certs, client_cert=False) as ch:
        code, _ = _code(lambda: _send(ch, _event("laptop-n")))
    assert code is grpc.StatusCode.UNAVAILABLE
    assert collector.count(device="laptop-n") == 0


def test_revoked_device_is_refused(busy_collector, make_agent) -> None:
    collector, _ = busy_collector
    certs = make_agent("laptop-r").cert_dir
    with _channel(collector, certs) as ch:
        assert len(_send(ch, _event("laptop-r", 1)).acknowledged_event_ids) == 1
        run_cli("collector", "devices", "revoke", "laptop-r", "--data-dir", str(collector.data_dir))
        code, details = _code(lambda: _send(ch, _event("laptop-r", 2)))
    assert code is grpc.StatusCode.PERMISSION_DENIED and "revoked" in details
    assert collector.count(device="laptop-r") == 1


def test_event_claiming_another_device_is_refused(busy_collector, make_agent) -> None:
    collector, _ = busy_collector
    certs = make_agent("laptop-f").cert_dir
    with _channel(collector, certs) as ch:
        code, details = _code(lambda: _send(ch, _event("laptop-f", 1), _event("good-laptop", 99_999)))
    assert code is grpc.StatusCode.PERMISSION_DENIED and "good-laptop" in details
    assert collector.count(device="laptop-f") == 0
    store = collector.store()
    assert all(e.seq != 99_999 for e in store.list_events("good-laptop"))
    store.close()


def test_oversized_message_is_refused(busy_collector, make_agent) -> None:
    collector, _ = busy_collector
    certs = make_agent("laptop-o").cert_dir
    big = _event("laptop-o")
    big.test.note = "x" * (5 * 1024 * 1024)
    with _channel(collector, certs) as ch:
        code, _ = _code(lambda: _send(ch, big))
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_garbage_bytes_on_the_wire_do_not_hurt_the_server(busy_collector) -> None:
    collector, _ = busy_collector
    for payload in (b"\x00" * 64, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", bytes(range(256)) * 40):
        with socket.create_connection(("127.0.0.1", collector.port), timeout=5) as s:
            s.sendall(payload)
            s.settimeout(5)
            with contextlib.suppress(TimeoutError, ConnectionResetError):
                s.recv(4096)
    # a TLS client without a certificate is cut off at the handshake
    ctx = ssl.create_default_context(cafile=str(collector.data_dir / "pki" / "ca.pem"))
    with (
        pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)),
        socket.create_connection(("127.0.0.1", collector.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        if not tls.recv(1):
            raise ConnectionResetError("closed")


def test_malformed_protobuf_and_malformed_events_get_clear_answers(busy_collector, make_agent) -> None:
    collector, _ = busy_collector
    certs = make_agent("laptop-m").cert_dir
    with _channel(collector, certs) as ch:
        raw = ch.unary_unary("/caseguard.v1.Collector/SendEvents", request_serializer=lambda b: b,
                             response_deserializer=lambda b: b)
        code, _ = _code(lambda: raw(b"\x0a\xff\xff\xff\xff\x0f garbage", timeout=10))
        assert code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT)
        good = _event("laptop-m", 1)
        bad_id = _event("laptop-m", 2, event_id="not-a-uuid")
        no_body = events_pb2.Event(event_id=str(uuid.uuid4()), seq=3, device_id="laptop-m")
        reply = _send(ch, good, bad_id, no_body)
    assert list(reply.acknowledged_event_ids) == [good.event_id]
    reasons = {r.event_id: r.reason for r in reply.rejected}
    assert "UUID" in reasons["not-a-uuid"] and len(reasons) == 2
    assert collector.count(device="laptop-m") == 1


def test_health_and_reflection_answer_standard_tools(busy_collector, make_agent) -> None:
    collector, _ = busy_collector
    certs = make_agent("laptop-h").cert_dir
    with _channel(collector, certs) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for service in ("", "caseguard.v1.Collector"):
            assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status == \
                health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        replies = list(refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                 timeout=5))
        names = {s.name for s in replies[0].list_services_response.service}
    assert {"caseguard.v1.Collector", "grpc.health.v1.Health"} <= names
