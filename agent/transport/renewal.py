"""Renewing the device certificate before it expires, with a new key made on the laptop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from agent.atomic_files import write_atomically
from agent.config import AgentConfig
from agent.transport.client import DeliveryError
from agent.transport.credentials import CertFacts, DeviceCredentials, cert_facts, load_credentials

log = logging.getLogger(__name__)


class RenewalClient(Protocol):
    """What renewal needs from a transport (CollectorClient in production)."""

    device_id: str

    def renew_certificate(self, csr_der: bytes) -> bytes: ...

    def reload_credentials(self, credentials: DeviceCredentials) -> None: ...


class CertificateRenewer(threading.Thread):
    """Checks the certificate's expiry; within ``renew_before`` of it, renews and reloads the client."""

    def __init__(
        self,
        config: AgentConfig,
        client: RenewalClient,
        stop: threading.Event,
        *,
        check_every_s: float = 3600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        read_cert: Callable[[bytes], CertFacts] = cert_facts,
    ) -> None:
        super().__init__(name="caseguard-renewal", daemon=True)
        self._config = config
        self._client = client
        self._stop_event = stop
        self._every = check_every_s
        self._clock = clock
        self._read_cert = read_cert  # the running agent passes agent.crypto_child.cert_facts_in_child
        self.renewed = 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.renew_if_due()
            except (DeliveryError, OSError, ValueError, RuntimeError) as exc:  # EnrollmentError, ChildFailed too
                log.warning("certificate renewal failed (%s); will retry", exc)
            if self._stop_event.wait(self._every):
                return

    def renew_if_due(self) -> bool:
        """Renew now if the certificate expires within the configured window; True if renewed."""
        c = self._config.collector
        if self._read_cert(c.cert.read_bytes()).not_after - self._clock() > timedelta(days=c.renew_before_days):
            return False
        # Renewal is rare (days before expiry): only then is cryptography loaded here.
        from agent.transport.enrollment import check_issued, new_key_and_request

        request = new_key_and_request(self._client.device_id)
        cert_pem = self._client.renew_certificate(request.csr_der)
        check_issued(cert_pem, c.ca.read_bytes(), request.public_der)
        # Key first, then certificate: a crash in between leaves a pair the next renewal repairs.
        write_atomically(c.key, request.key_pem, 0o600)
        write_atomically(c.cert, cert_pem, 0o644)
        self._client.reload_credentials(load_credentials(c.ca, c.cert, c.key, self._read_cert))
        self.renewed += 1
        log.info("device certificate renewed; valid until %s", self._read_cert(cert_pem).not_after.isoformat())
        return True
