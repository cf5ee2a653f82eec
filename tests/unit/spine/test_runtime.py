"""The agent runtime with every real part except the network: a fake collector client is injected.

Real outbox, sender, policy applier, renewer, posture monitor, session channel and heartbeat
threads run; the thread-leak fixture checks that stop() ends every one of them.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent.config import AgentConfig, parse_config
from agent.policy.session_file import read_lockdown, read_session_policy
from agent.runtime import AgentRuntime, open_outbox
from agent.transport.client import DeliveryError
from agent.transport.codec import SignedPolicyWire
from agent.transport.credentials import DeviceCredentials
from caseguard.v1 import events_pb2
from collector.pki import PkiPaths, init_pki, issue_device_certificate, write_device_bundle
from collector.policy.document import canonical, parse_policy_toml
from collector.policy.signing import sign

WAIT_S = 15.0


class FakeCollector:
    """An AgentClient: acknowledges (or refuses) events, serves one policy, records everything."""

    def __init__(self, *, refuse: grpc.StatusCode | None = None, policy: SignedPolicyWire | None = None) -> None:
        self.device_id = "laptop-9"
        self.refuse = refuse
        self.policy = policy
        self.delivered: list[tuple[str, str, events_pb2.Event]] = []  # (event_id, kind, event)
        self.attempts = 0
        self.closed = False
        self.reported_lost = False
        self.check_ins = 0
        self.changed = threading.Condition()

    def send_events(self, payloads: Sequence[bytes]) -> tuple[list[str], Mapping[str, str]]:
        with self.changed:
            self.attempts += 1
            self.changed.notify_all()
            if self.refuse is not None:
                raise DeliveryError(self.refuse, "scripted", "127.0.0.1:1")
            events = [events_pb2.Event.FromString(p) for p in payloads]
            self.delivered += [(e.event_id, str(e.WhichOneof("body")), e) for e in events]
            self.changed.notify_all()
            return [e.event_id for e in events], {}

    def heartbeat(self, outbox_depth: int, agent_version: str) -> dict[str, Any]:
        with self.changed:
            self.check_ins += 1
            self.changed.notify_all()
        if self.refuse is not None:
            raise DeliveryError(self.refuse, "scripted", "127.0.0.1:1")
        return {"device_id": self.device_id, "reported_lost": self.reported_lost, "policy_version": ""}

    def get_policy(self, have_version: int) -> SignedPolicyWire | None:
        return self.policy if self.policy is not None and self.policy.version > have_version else None

    def renew_certificate(self, csr_der: bytes) -> bytes:
        raise DeliveryError(grpc.StatusCode.UNIMPLEMENTED, "not in this test", "127.0.0.1:1")

    def reload_credentials(self, credentials: DeviceCredentials) -> None:
        raise AssertionError("no renewal expected")

    def close(self) -> None:
        self.closed = True

    def kinds(self) -> list[str]:
        return [k for _, k, _ in self.delivered]

    def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, WAIT_S), f"never saw {what}; delivered {self.kinds()}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    paths = PkiPaths.in_data_dir(tmp_path_factory.mktemp("collector"))
    init_pki(paths, [])
    return paths


@pytest.fixture
def short_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="cg-rt-", dir="/tmp"))  # Unix socket paths must stay short
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def make_config(tmp_path: Path, pki: PkiPaths, short_dir: Path) -> Callable[..., AgentConfig]:
    certs = tmp_path / "certs"
    write_device_bundle(certs, issue_device_certificate(pki, "laptop-9"), pki.ca_cert.read_bytes())

    def make(socket: Path | None = None, heartbeat_s: float = 3600.0) -> AgentConfig:
        raw = {
            "state_dir": str(tmp_path / "state"),
            "collector": {"address": "127.0.0.1:1", "ca": str(certs / "ca.pem"), "cert": str(certs / "device.pem"),
                          "key": str(certs / "device.key"), "policy_interval_s": 3600},
            "retry": {"initial_backoff_s": 0.05, "max_backoff_s": 60.0},
            "heartbeat": {"interval_s": heartbeat_s},
            "egress": {"enabled": False},
            "session": {"socket": str(socket or short_dir / "session.sock")},
        }
        return parse_config(raw, base_dir=tmp_path)

    return make


@pytest.fixture
def runtimes() -> Iterator[list[AgentRuntime]]:
    started: list[AgentRuntime] = []
    yield started
    for rt in started:
        rt.stop("test teardown")


def _start(runtimes: list[AgentRuntime], config: AgentConfig, client: FakeCollector) -> AgentRuntime:
    rt = AgentRuntime(config, client=client)
    runtimes.append(rt)
    rt.start()
    return rt


def _outbox_kinds(config: AgentConfig) -> list[str]:
    ob = open_outbox(config, "laptop-9")
    try:
        return [e.kind for e in ob.peek(100)]
    finally:
        ob.close()


def test_start_delivers_agent_started_and_stop_ends_every_thread(make_config, runtimes) -> None:
    config = make_config()
    client = FakeCollector()
    rt = _start(runtimes, config, client)
    client.wait_until(lambda: "agent_started" in client.kinds(), "agent_started")
    started = next(e for _, k, e in client.delivered if k == "agent_started")
    assert started.device_id == "laptop-9" and started.seq == 1
    rt.stop("test")
    for thread in (rt.sender, rt.policy, rt.renewer):
        assert not thread.is_alive(), f"{thread.name} still running after stop()"
    assert client.closed
    # agent_stopping was committed before the sender stopped: delivered, or waiting in the outbox.
    assert "agent_stopping" in client.kinds() + _outbox_kinds(config)
    rt.stop("again")  # a second stop is harmless


def test_events_undelivered_at_stop_are_delivered_by_the_next_run(make_config, runtimes) -> None:
    config = make_config()
    refusing = FakeCollector(refuse=grpc.StatusCode.UNAUTHENTICATED)
    first = _start(runtimes, config, refusing)
    refusing.wait_until(lambda: refusing.attempts >= 1, "a delivery attempt")
    first.stop("test")  # interrupts the sender's 60 s hold at once
    assert not first.sender.is_alive()
    assert _outbox_kinds(config)[:1] == ["agent_started"]

    accepting = FakeCollector()
    _start(runtimes, config, accepting)
    accepting.wait_until(lambda: accepting.kinds().count("agent_started") == 2, "both runs' agent_started")
    kinds = accepting.kinds()
    assert kinds.index("agent_stopping") < kinds.index("agent_started", 1), "in commit order across the restart"
    seqs = [e.seq for _, _, e in accepting.delivered]
    assert seqs == sorted(seqs) and seqs[0] == 1


def test_a_session_channel_that_cannot_listen_is_reported_and_the_agent_runs_on(
    make_config, runtimes, short_dir: Path
) -> None:
    blocker = short_dir / "not-a-dir"
    blocker.write_text("a file where the socket's folder should be")
    client = FakeCollector()
    rt = _start(runtimes, make_config(socket=blocker / "session.sock"), client)
    client.wait_until(lambda: "coverage_degraded" in client.kinds(), "coverage_degraded")
    degraded = next(e for _, k, e in client.delivered if k == "coverage_degraded")
    assert degraded.coverage_degraded.component == "session-channel"
    assert degraded.coverage_degraded.reason == "session-channel-unavailable"
    rt.stop("test")  # and it still shuts down cleanly: every thread, the outbox
    assert not rt.sender.is_alive() and not rt.policy.is_alive()
    assert client.closed


def test_a_central_policy_reaches_the_session_components_without_a_restart(
    make_config, runtimes, pki: PkiPaths
) -> None:
    body = canonical(parse_policy_toml("[lock]\nidle_timeout_s = 120\n"))
    signature, signer = sign(pki, body)
    config = make_config()
    client = FakeCollector(policy=SignedPolicyWire(2, body, signature, signer))
    rt = _start(runtimes, config, client)
    client.wait_until(lambda: "policy_applied" in client.kinds(), "policy_applied")
    session_policy = read_session_policy(config.state_dir)
    assert session_policy is not None
    assert (session_policy["version"], session_policy["idle_timeout_s"]) == (2, 120)
    assert rt.config.lock.idle_timeout_s == 120 and rt.heartbeat_body()["posture"]["policy_version"] == "2"


def test_heartbeats_keep_coming_with_the_policy_version_in_force(make_config, runtimes) -> None:
    client = FakeCollector()
    _start(runtimes, make_config(heartbeat_s=0.05), client)
    client.wait_until(lambda: client.kinds().count("heartbeat") >= 2, "two heartbeats")
    beat = next(e for _, k, e in client.delivered if k == "heartbeat").heartbeat
    assert beat.posture.policy_version == "0"  # local settings only


def test_a_device_reported_lost_is_locked_down_until_the_collector_says_it_was_found(
    runtimes: list[AgentRuntime], make_config: Callable[..., AgentConfig]
) -> None:
    """Issue 15: the heartbeat reply's reported_lost starts the lockdown (at start, not after an interval)."""
    config = make_config()
    client = FakeCollector()
    client.reported_lost = True
    rt = _start(runtimes, config, client)
    client.wait_until(lambda: client.check_ins >= 1, "a check-in at start")
    deadline = time.monotonic() + WAIT_S
    while not read_lockdown(config.state_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert read_lockdown(config.state_dir), "no lockdown after the collector reported the device lost"
    client.refuse = grpc.StatusCode.UNAVAILABLE  # offline: the lockdown stays as it was
    assert rt.check_in() is None and read_lockdown(config.state_dir)
    client.refuse = None
    client.reported_lost = False  # IT recorded it found
    assert rt.check_in() is False and not read_lockdown(config.state_dir)
