"""Loading the device's mTLS material and reading its identity from the certificate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from agent.errors import UsageError


class CredentialsError(UsageError, RuntimeError):
    """The device certificate, key or CA cannot be used."""


@dataclass(frozen=True)
class DeviceCredentials:
    """PEM bytes for the channel, and the device id named in the certificate."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    device_id: str


def load_credentials(ca: Path, cert: Path, key: Path) -> DeviceCredentials:
    """Read the three PEM files; the device id is the certificate's common name."""
    try:
        ca_pem, cert_pem, key_pem = ca.read_bytes(), cert.read_bytes(), key.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"cannot read TLS material: {exc}") from exc
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise CredentialsError(f"{cert}: not a PEM certificate") from exc
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise CredentialsError(f"{cert}: certificate has no common name")
    return DeviceCredentials(ca_pem, cert_pem, key_pem, str(names[0].value))
