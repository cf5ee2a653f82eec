"""The policy applier with a real signing PKI and a fake collector: verify, keep, apply, refuse."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent.config import AgentConfig, parse_config
from agent.policy.applier import POLICY_FILE, AppliedPolicy, PolicyApplier, load_cached
from agent.transport.client import DeliveryError
from agent.transport.codec import SignedPolicyWire
from collector.pki import PkiPaths, init_pki
from collector.policy.document import canonical, parse_policy_toml
from collector.policy.signing import sign

WAIT_S = 10.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    paths = PkiPaths.in_data_dir(tmp_path_factory.mktemp("collector"))
    init_pki(paths, [])
    return paths


def _local(tmp_path: Path, pki: PkiPaths, **extra: Any) -> AgentConfig:
    raw = {
        "state_dir": str(tmp_path / "state"),
        "collector": {"address": "c:1", "ca": str(pki.ca_cert), "cert": "c", "key": "k", **extra},
        "lock": {"idle_timeout_s": 600},
    }
    return parse_config(raw, base_dir=tmp_path)


def _wire(pki: PkiPaths, version: int, text: str, tamper: bool = False) -> SignedPolicyWire:
    body = canonical(parse_policy_toml(text))
    signature, signer = sign(pki, body)
    if tamper:
        body = body.replace(b"120", b"999")
    return SignedPolicyWire(version, body, signature, signer)


class FakeCollector:
    """A PolicySource: serves ``current`` when newer than what the agent has; ``fail`` raises first."""

    def __init__(self, current: SignedPolicyWire | None, fail: list[grpc.StatusCode] | None = None) -> None:
        self.current = current
        self.fail = list(fail or [])
        self.asked: list[int] = []
        self.called = threading.Event()

    def get_policy(self, have_version: int) -> SignedPolicyWire | None:
        self.asked.append(have_version)
        self.called.set()
        if self.fail:
            raise DeliveryError(self.fail.pop(0), "scripted", "127.0.0.1:1")
        if self.current is None or self.current.version <= have_version:
            return None
        return self.current


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, kind: str, body: Mapping[str, Any]) -> None:
        self.events.append((kind, dict(body)))


def test_a_newer_signed_policy_is_applied_kept_and_reported(tmp_path: Path, pki: PkiPaths) -> None:
    local = _local(tmp_path, pki)
    applied: list[AppliedPolicy] = []
    sink = Sink()
    collector = FakeCollector(_wire(pki, 3, "[lock]\nidle_timeout_s = 120\n"))
    applier = PolicyApplier(local, collector, sink, applied.append, threading.Event(), None)
    assert applier.version == 0
    assert applier.check_once() is True
    assert [a.version for a in applied] == [3]
    assert applied[0].merged.config.lock.idle_timeout_s == 120
    assert applier.version == 3
    assert sink.events == [("policy_applied", {"version": 3, "tightened_locally": []})]
    assert applier.check_once() is False, "the same version is not applied twice"
    assert collector.asked == [0, 3]
    # Kept on disk, and still trusted after a restart (verified again).
    assert json.loads((local.state_dir / POLICY_FILE).read_text())["version"] == 3
    cached = load_cached(local)
    assert cached is not None and cached.version == 3 and cached.merged.config.lock.idle_timeout_s == 120


def test_the_laptops_own_stricter_setting_wins_and_is_reported(tmp_path: Path, pki: PkiPaths) -> None:
    local = _local(tmp_path, pki)
    sink = Sink()
    applier = PolicyApplier(local, FakeCollector(_wire(pki, 1, "[lock]\nidle_timeout_s = 900\n")), sink,
                            lambda a: None, threading.Event(), None)
    assert applier.check_once()
    assert applier.current is not None and applier.current.merged.config.lock.idle_timeout_s == 600
    assert sink.events[0][1]["tightened_locally"] == ["lock.idle_timeout_s"]


def test_a_tampered_policy_is_refused_reported_and_never_kept(
    tmp_path: Path, pki: PkiPaths, caplog: pytest.LogCaptureFixture
) -> None:
    local = _local(tmp_path, pki)
    applied: list[AppliedPolicy] = []
    sink = Sink()
    collector = FakeCollector(_wire(pki, 4, "[lock]\nidle_timeout_s = 120\n", tamper=True))
    applier = PolicyApplier(local, collector, sink, applied.append, threading.Event(), None)
    with caplog.at_level(logging.ERROR):
        assert applier.check_once() is False
    assert applied == [] and applier.version == 0
    assert not (local.state_dir / POLICY_FILE).exists()
    assert sink.events[0][0] == "policy_applied" and sink.events[0][1]["version"] == 4
    assert "signature" in sink.events[0][1]["error"]
    assert "refused" in caplog.text


def test_a_cached_policy_that_no_longer_verifies_is_not_used(tmp_path: Path, pki: PkiPaths) -> None:
    local = _local(tmp_path, pki)
    assert PolicyApplier(local, FakeCollector(_wire(pki, 2, "[lock]\nidle_timeout_s = 120\n")), Sink(),
                         lambda a: None, threading.Event(), None).check_once()
    path = local.state_dir / POLICY_FILE
    saved = json.loads(path.read_text())
    saved["body"] = saved["body"].replace(b"120".hex(), b"999".hex())
    path.write_text(json.dumps(saved))
    assert load_cached(local) is None


def test_the_thread_outlives_an_unreachable_collector_and_stops_at_once(tmp_path: Path, pki: PkiPaths) -> None:
    local = _local(tmp_path, pki, policy_interval_s=0.01)
    got = threading.Event()
    stop = threading.Event()
    collector = FakeCollector(
        _wire(pki, 5, "[lock]\nidle_timeout_s = 120\n"),
        fail=[grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED],
    )
    applier = PolicyApplier(local, collector, Sink(), lambda a: got.set(), stop, None)
    applier.start()
    try:
        assert got.wait(WAIT_S), "policy never applied after the outage"
    finally:
        stop.set()
        applier.join(WAIT_S)
    assert not applier.is_alive()
    assert collector.asked[:3] == [0, 0, 0] and applier.version == 5


def test_a_failing_apply_keeps_the_old_version_so_the_next_check_retries(tmp_path: Path, pki: PkiPaths) -> None:
    local = _local(tmp_path, pki, policy_interval_s=0.01)
    attempts: list[int] = []
    done = threading.Event()
    stop = threading.Event()

    def apply(a: AppliedPolicy) -> None:
        attempts.append(a.version)
        if len(attempts) == 1:
            raise RuntimeError("egress pipeline failed to restart")
        done.set()

    collector = FakeCollector(_wire(pki, 6, "[lock]\nidle_timeout_s = 120\n"))
    applier = PolicyApplier(local, collector, Sink(), apply, stop, None)
    applier.start()
    try:
        assert done.wait(WAIT_S)
    finally:
        stop.set()
        applier.join(WAIT_S)
    assert attempts == [6, 6] and applier.version == 6
