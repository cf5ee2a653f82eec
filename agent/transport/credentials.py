"""Loading the device's mTLS material and reading its identity from the certificate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.crypto_child import CertFacts, cert_facts


class CredentialsError(RuntimeError):
    """The device certificate, key or CA cannot be used."""


@dataclass(frozen=True)
class DeviceCredentials:
    """PEM bytes for the channel, and the device id named in the certificate."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    device_id: str


def load_credentials(
    ca: Path, cert: Path, key: Path, read_cert: Callable[[bytes], CertFacts] = cert_facts
) -> DeviceCredentials:
    """Read the three PEM files; the device id is the certificate's common name.

    ``read_cert`` reads the certificate (the running agent passes
    :func:`agent.crypto_child.cert_facts_in_child`, to keep cryptography out of its memory).
    """
    try:
        ca_pem, cert_pem, key_pem = ca.read_bytes(), cert.read_bytes(), key.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"cannot read TLS material: {exc}") from exc
    try:
        facts = read_cert(cert_pem)
    except (ValueError, RuntimeError) as exc:
        raise CredentialsError(f"{cert}: not a PEM certificate") from exc
    if not facts.common_name:
        raise CredentialsError(f"{cert}: certificate has no common name")
    return DeviceCredentials(ca_pem, cert_pem, key_pem, facts.common_name)
