"""The collector servicer over a real SQLite store and group-commit writer, called with a fake context.

Each refusal is also checked against what the agent's retry rules do with its status code, so the
two sides cannot drift apart silently (e.g. a storage outage must make agents back off, not hold).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent.ids import uuid7
from agent.outbox import PendingEvent
from agent.transport import codec as agent_codec
from agent.transport.retry import Action, action_for
from caseguard.v1 import collector_pb2, events_pb2
from collector.api.servicer import MAX_EVENTS_PER_BATCH, CollectorServicer
from collector.pki import PkiPaths, init_pki, issue_device_certificate
from collector.store.base import IncomingEvent, StoreError
from collector.store.events import SQLiteStore
from collector.store.group_commit import GroupCommitWriter

NOW_US = 1_780_000_000_000_000  # the servicer's clock; events claim this instant too (it checks their range)


class Aborted(Exception):
    """What grpc's context.abort raises, with the status it was given."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class FakeContext:
    """The parts of grpc.ServicerContext the servicer uses: the peer certificate and abort."""

    def __init__(self, cert_pem: bytes | None) -> None:
        self._auth = {"x509_pem_cert": [cert_pem]} if cert_pem else {}

    def auth_context(self) -> dict[str, list[bytes]]:
        return self._auth

    def peer(self) -> str:
        return "ipv4:192.168.1.20:50123"

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise Aborted(code, details)


class FailingWriter(GroupCommitWriter):
    """A writer whose database is down."""

    def submit(self, device: str, events: Sequence[IncomingEvent], timeout_s: float = 30.0) -> None:
        raise StoreError("database is locked")


class Workflow:
    notify_channels: tuple[str, ...] = ("email",)

    def __init__(self) -> None:
        self.heard: list[tuple[str, int]] = []
        self.networks: list[str] = []

    def lost_device_reported(self, device: str, report_event_id: str) -> str | None:
        return None

    def lost_device_heard(self, device: str, at_us: int, network: str = "") -> None:
        self.heard.append((device, at_us))
        self.networks.append(network)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    paths = PkiPaths.in_data_dir(tmp_path_factory.mktemp("collector"))
    init_pki(paths, [])
    return paths


@pytest.fixture(scope="module")
def certs(pki: PkiPaths) -> dict[str, Any]:
    return {name: issue_device_certificate(pki, name) for name in ("laptop-1", "laptop-2", "stranger")}


@pytest.fixture
def store(tmp_path: Path, certs: dict[str, Any]) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "collector.sqlite3")
    for name in ("laptop-1", "laptop-2"):
        s.register_device(name, certs[name].fingerprint, NOW_US)
    yield s
    s.close()


@pytest.fixture
def servicer(store: SQLiteStore) -> Iterator[tuple[CollectorServicer, Workflow]]:
    writer = GroupCommitWriter(store)
    workflow = Workflow()
    yield CollectorServicer(store, writer, clock_us=lambda: NOW_US, workflow=workflow), workflow
    writer.stop()


def _events(n: int, device: str = "laptop-1", first_seq: int = 1) -> list[bytes]:
    return [
        agent_codec.encode_event(
            PendingEvent(str(uuid7()), first_seq + i, NOW_US / 1_000_000, "test", {"index": i}),
            device_id=device,
            agent_version="test",
        )
        for i in range(n)
    ]


def _request(payloads: Sequence[bytes]) -> collector_pb2.SendEventsRequest:
    return collector_pb2.SendEventsRequest.FromString(agent_codec.encode_send_events(payloads))


def _ids(payloads: Sequence[bytes]) -> list[str]:
    return [events_pb2.Event.FromString(p).event_id for p in payloads]


def _send(svc: CollectorServicer, payloads: Sequence[bytes], cert: bytes | None) -> tuple[list[str], dict[str, str]]:
    reply = svc.SendEvents(_request(payloads), FakeContext(cert))  # type: ignore[arg-type]
    return agent_codec.decode_send_events_response(reply.SerializeToString())


def _refusal(call: Any) -> grpc.StatusCode:
    with pytest.raises(Aborted) as refused:
        call()
    return refused.value.code


def test_a_batch_is_stored_before_every_event_in_it_is_acknowledged(servicer, store, certs) -> None:
    svc, _ = servicer
    payloads = _events(3)
    acked, rejected = _send(svc, payloads, certs["laptop-1"].cert_pem)
    assert acked == _ids(payloads) and rejected == {}
    assert store.count_events("laptop-1") == 3 and store.count_events("laptop-2") == 0


def test_a_resent_batch_is_acknowledged_again_but_stored_once(servicer, store, certs) -> None:
    svc, _ = servicer
    payloads = _events(4)
    first = _send(svc, payloads, certs["laptop-1"].cert_pem)
    again = _send(svc, payloads, certs["laptop-1"].cert_pem)  # the agent never saw the first reply
    assert first == again == (_ids(payloads), {})
    assert store.count_events("laptop-1") == 4


def test_a_malformed_event_is_rejected_with_a_reason_and_the_rest_stored(servicer, store, certs) -> None:
    svc, _ = servicer
    good = _events(2)
    no_body = events_pb2.Event(event_id=str(uuid7()), seq=3, device_id="laptop-1")
    no_body.occurred_at.FromMicroseconds(NOW_US)
    acked, rejected = _send(svc, [*good, no_body.SerializeToString()], certs["laptop-1"].cert_pem)
    assert acked == _ids(good)
    assert rejected == {no_body.event_id: "event has no body"}  # the agent dead-letters it
    assert store.count_events("laptop-1") == 2


def test_events_claiming_another_device_are_refused_whole(servicer, store, certs) -> None:
    svc, _ = servicer
    forged = [*_events(1), *_events(1, device="laptop-2", first_seq=2)]
    code = _refusal(lambda: _send(svc, forged, certs["laptop-1"].cert_pem))
    assert code is grpc.StatusCode.PERMISSION_DENIED and action_for(code) is Action.HOLD
    assert store.count_events() == 0


@pytest.mark.parametrize("who", ["no certificate", "unregistered", "revoked"])
def test_callers_without_a_valid_enrolled_certificate_are_refused(servicer, store, certs, who: str) -> None:
    svc, _ = servicer
    cert = {"no certificate": None, "unregistered": certs["stranger"].cert_pem,
            "revoked": certs["laptop-2"].cert_pem}[who]
    if who == "revoked":
        store.revoke_device("laptop-2", NOW_US)
    code = _refusal(lambda: _send(svc, _events(1, device="laptop-2"), cert))
    expected = grpc.StatusCode.UNAUTHENTICATED if who == "no certificate" else grpc.StatusCode.PERMISSION_DENIED
    assert code is expected and action_for(code) is Action.HOLD
    assert store.count_events() == 0


def test_an_oversized_batch_is_refused_so_the_agent_halves_it(servicer, store, certs) -> None:
    svc, _ = servicer
    code = _refusal(lambda: _send(svc, _events(MAX_EVENTS_PER_BATCH + 1), certs["laptop-1"].cert_pem))
    assert code is grpc.StatusCode.INVALID_ARGUMENT and action_for(code) is Action.SHRINK
    assert store.count_events() == 0


def test_a_storage_outage_makes_agents_back_off_not_give_up(store, certs) -> None:
    writer = FailingWriter(store)
    try:
        svc = CollectorServicer(store, writer, clock_us=lambda: NOW_US)
        code = _refusal(lambda: _send(svc, _events(2), certs["laptop-1"].cert_pem))
    finally:
        writer.stop()
    assert code is grpc.StatusCode.UNAVAILABLE and action_for(code) is Action.BACKOFF


def test_heartbeat_records_the_sighting_and_tells_the_workflow_about_a_lost_device(servicer, store, certs) -> None:
    svc, workflow = servicer
    request = collector_pb2.HeartbeatRequest()
    reply = svc.Heartbeat(request, FakeContext(certs["laptop-1"].cert_pem))
    assert reply.device_id == "laptop-1" and reply.reported_lost is False
    device = store.get_device("laptop-1")
    assert device is not None and device.last_seen_at_us == NOW_US
    assert workflow.heard == []
    store.mark_lost("laptop-1", NOW_US - 1)
    reply = svc.Heartbeat(request, FakeContext(certs["laptop-1"].cert_pem))
    assert reply.reported_lost is True and workflow.heard == [("laptop-1", NOW_US)]
    assert workflow.networks == ["a private network (office, home or VPN)"]  # the class, never the address


def test_get_policy_without_an_enrolment_store_says_nothing_changed(servicer, certs) -> None:
    svc, _ = servicer
    reply = svc.GetPolicy(collector_pb2.GetPolicyRequest(have_version=0),
                          FakeContext(certs["laptop-1"].cert_pem))
    assert reply.changed is False
