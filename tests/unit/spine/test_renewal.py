"""Certificate renewal with a real CA and a fake collector that signs with it; the clock is injected."""

from __future__ import annotations

import logging
import stat
import threading
from datetime import datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.config import AgentConfig, parse_config
from agent.transport.client import DeliveryError
from agent.transport.credentials import DeviceCredentials
from agent.transport.enrollment import EnrollmentError
from agent.transport.renewal import CertificateRenewer
from collector.enrollment.certificates import issue_from_csr
from collector.pki import PkiPaths, init_pki, issue_device_certificate, write_device_bundle

WAIT_S = 10.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    paths = PkiPaths.in_data_dir(tmp_path_factory.mktemp("collector"))
    init_pki(paths, [])
    return paths


@pytest.fixture
def config(tmp_path: Path, pki: PkiPaths) -> AgentConfig:
    certs = tmp_path / "certs"
    write_device_bundle(certs, issue_device_certificate(pki, "laptop-7"), pki.ca_cert.read_bytes())
    raw = {
        "state_dir": str(tmp_path / "state"),
        "collector": {"address": "c:1", "ca": str(certs / "ca.pem"), "cert": str(certs / "device.pem"),
                      "key": str(certs / "device.key"), "renew_before_days": 30},
    }
    return parse_config(raw, base_dir=tmp_path)


class FakeCollector:
    """A RenewalClient that signs each request with the real CA (``wrong_key``: a certificate for another key)."""

    def __init__(self, pki: PkiPaths, *, fail: grpc.StatusCode | None = None, wrong_key: bool = False) -> None:
        self._pki = pki
        self._fail = fail
        self._wrong_key = wrong_key
        self.device_id = "laptop-7"
        self.requests = 0
        self.reloaded: list[DeviceCredentials] = []
        self.called = threading.Event()

    def renew_certificate(self, csr_der: bytes) -> bytes:
        self.requests += 1
        self.called.set()
        if self._fail is not None:
            raise DeliveryError(self._fail, "scripted", "127.0.0.1:1")
        if self._wrong_key:
            return issue_device_certificate(self._pki, self.device_id).cert_pem
        return issue_from_csr(self._pki, csr_der, self.device_id).cert_pem

    def reload_credentials(self, credentials: DeviceCredentials) -> None:
        self.reloaded.append(credentials)


def _expiry(config: AgentConfig) -> datetime:
    return x509.load_pem_x509_certificate(config.collector.cert.read_bytes()).not_valid_after_utc


def test_nothing_happens_while_the_certificate_is_far_from_expiry(config: AgentConfig, pki: PkiPaths) -> None:
    client = FakeCollector(pki)
    before = config.collector.cert.read_bytes()
    renewer = CertificateRenewer(config, client, threading.Event(), clock=lambda: _expiry(config) - timedelta(days=31))
    assert renewer.renew_if_due() is False
    assert client.requests == 0 and config.collector.cert.read_bytes() == before


def test_within_the_window_a_new_key_and_certificate_replace_the_old_and_the_client_reloads(
    config: AgentConfig, pki: PkiPaths
) -> None:
    c = config.collector
    old_cert, old_key = c.cert.read_bytes(), c.key.read_bytes()
    client = FakeCollector(pki)
    renewer = CertificateRenewer(config, client, threading.Event(), clock=lambda: _expiry(config) - timedelta(days=29))
    assert renewer.renew_if_due() is True
    assert renewer.renewed == 1
    new_cert, new_key = c.cert.read_bytes(), c.key.read_bytes()
    assert new_cert != old_cert and new_key != old_key, "a new key made on the laptop, not a re-signed old one"
    assert stat.S_IMODE(c.key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(new_cert)
    key = serialization.load_pem_private_key(new_key, None)
    assert cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
        == key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert [r.cert_pem for r in client.reloaded] == [new_cert]
    assert client.reloaded[0].device_id == "laptop-7"


def test_a_certificate_for_another_key_is_refused_and_the_old_pair_stays(config: AgentConfig, pki: PkiPaths) -> None:
    c = config.collector
    old = (c.cert.read_bytes(), c.key.read_bytes())
    client = FakeCollector(pki, wrong_key=True)
    renewer = CertificateRenewer(config, client, threading.Event(), clock=lambda: _expiry(config))
    with pytest.raises(EnrollmentError):
        renewer.renew_if_due()
    assert (c.cert.read_bytes(), c.key.read_bytes()) == old
    assert client.reloaded == []


def test_the_thread_logs_a_failed_renewal_keeps_the_old_pair_and_stops_at_once(
    config: AgentConfig, pki: PkiPaths, caplog: pytest.LogCaptureFixture
) -> None:
    c = config.collector
    old = (c.cert.read_bytes(), c.key.read_bytes())
    client = FakeCollector(pki, fail=grpc.StatusCode.UNAVAILABLE)
    stop = threading.Event()
    renewer = CertificateRenewer(config, client, stop, check_every_s=3600, clock=lambda: _expiry(config))
    with caplog.at_level(logging.WARNING, logger="agent.transport.renewal"):
        renewer.start()
        assert client.called.wait(WAIT_S)
        stop.set()  # ends the hour's wait at once
        renewer.join(WAIT_S)
    assert not renewer.is_alive()
    assert "certificate renewal failed" in caplog.text
    assert (c.cert.read_bytes(), c.key.read_bytes()) == old and renewer.renewed == 0
