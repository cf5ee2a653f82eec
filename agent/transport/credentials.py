"""Loading the device's mTLS material and reading its identity from the certificate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agent.errors import UsageError


class CredentialsError(UsageError, RuntimeError):
    """The device certificate, key or CA cannot be used."""


@dataclass(frozen=True)
class CertFacts:
    """What the agent needs to know about its own certificate."""

    common_name: str | None
    not_after: datetime


def cert_facts(cert_pem: bytes) -> CertFacts:
    """The certificate's common name and expiry (raises ValueError for a non-certificate)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(cert_pem)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return CertFacts(str(names[0].value) if names else None, cert.not_valid_after_utc)


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
