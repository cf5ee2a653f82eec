"""The collector's small certificate authority: a CA, the server certificate and device certificates.

Keys are ECDSA P-256. The CA key never leaves --data-dir/pki (mode 0600). Device identity is
the certificate's common name, registered with its SHA-256 fingerprint in the store, so a
certificate we did not register is refused even if it chains to our CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from collector.errors import CollectorError

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=825)
DEVICE_VALIDITY = dt.timedelta(days=397)


class PkiError(CollectorError, RuntimeError):
    """The PKI is missing, already exists, or a certificate cannot be made."""


@dataclass(frozen=True)
class PkiPaths:
    """Where the collector's PKI lives inside --data-dir."""

    root: Path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> PkiPaths:
        """The PKI folder of a data dir."""
        return cls(data_dir / "pki")

    def missing(self) -> PkiError:
        """The one error for a data folder without a PKI, saying how to make one."""
        hint = f"run `caseguard-collector pki init --data-dir {self.root.parent}` first"
        return PkiError(f"no PKI in {self.root}: {hint}")

    def ca_cert_pem(self) -> bytes:
        """The CA certificate as PEM; PkiError if `pki init` has not been run."""
        try:
            return self.ca_cert.read_bytes()
        except FileNotFoundError:
            raise self.missing() from None

    @property
    def ca_cert(self) -> Path:
        """CA certificate (give this to agents)."""
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        """CA private key (keep secret)."""
        return self.root / "ca.key"

    @property
    def server_cert(self) -> Path:
        """The collector's TLS certificate."""
        return self.root / "server.pem"

    @property
    def server_key(self) -> Path:
        """The collector's TLS key."""
        return self.root / "server.key"

    @property
    def policy_cert(self) -> Path:
        """Certificate of the key that signs central policy (agents check it chains to the CA)."""
        return self.root / "policy-signer.pem"

    @property
    def policy_key(self) -> Path:
        """The policy signing key."""
        return self.root / "policy-signer.key"

    @property
    def audit_key(self) -> Path:
        """The key that signs audit checkpoints (made on first use)."""
        return self.root / "audit-signer.key"


@dataclass(frozen=True)
class IssuedCertificate:
    """A new certificate with its key, as PEM."""

    cert_pem: bytes
    key_pem: bytes
    fingerprint: str  # "SHA256:<hex>" of the DER certificate
    not_after: dt.datetime


def fingerprint_of(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint of a certificate, "SHA256:" + lower-case hex."""
    return "SHA256:" + cert.fingerprint(hashes.SHA256()).hex()


def fingerprint_of_pem(pem: bytes) -> str:
    """SHA-256 fingerprint of a PEM certificate."""
    return fingerprint_of(x509.load_pem_x509_certificate(pem))


def init_pki(paths: PkiPaths, hostnames: list[str], org: str = "Caseguard", force: bool = False) -> None:
    """Create the CA and a server certificate valid for ``hostnames`` plus loopback."""
    if paths.ca_key.exists() and not force:
        raise PkiError(f"{paths.root} already has a CA; refusing to replace it (use --force to start over)")
    paths.root.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.root, 0o700)
    now = _now()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"{org} Caseguard CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(paths.ca_key, _key_pem(ca_key), secret=True)
    _write(paths.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
    server = _issue(ca_cert, ca_key, "caseguard-collector", _server_sans(hostnames), server=True,
                    validity=SERVER_VALIDITY)
    _write(paths.server_key, server.key_pem, secret=True)
    _write(paths.server_cert, server.cert_pem)
    if force:
        for stale in (paths.policy_key, paths.policy_cert):
            stale.unlink(missing_ok=True)
    ensure_policy_signer(paths)


def issue_device_certificate(paths: PkiPaths, device_name: str) -> IssuedCertificate:
    """Make a key and a client certificate whose common name is ``device_name``."""
    ca_cert, ca_key = load_ca(paths)
    return _issue(ca_cert, ca_key, device_name, _device_sans(device_name), server=False, validity=DEVICE_VALIDITY)


def issue_for_public_key(
    paths: PkiPaths, public_key: CertificatePublicKeyTypes, device_name: str, validity: dt.timedelta
) -> IssuedCertificate:
    """A client certificate for a key made elsewhere (enrolment, renewal); ``key_pem`` is empty."""
    ca_cert, ca_key = load_ca(paths)
    cert = _build(ca_cert, ca_key, public_key, device_name, _device_sans(device_name), server=False,
                  validity=validity)
    return IssuedCertificate(
        cert.public_bytes(serialization.Encoding.PEM), b"", fingerprint_of(cert), cert.not_valid_after_utc
    )


def _device_sans(device_name: str) -> list[x509.GeneralName]:
    return [x509.UniformResourceIdentifier(f"urn:caseguard:device:{device_name}")]


POLICY_SIGNER_NAME = "Caseguard policy signer"


def ensure_policy_signer(paths: PkiPaths) -> None:
    """Make the policy signing key and certificate if this PKI has none yet."""
    if paths.policy_key.exists() and paths.policy_cert.exists():
        return
    ca_cert, ca_key = load_ca(paths)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, POLICY_SIGNER_NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(ca_cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write(paths.policy_key, _key_pem(key), secret=True)
    _write(paths.policy_cert, cert.public_bytes(serialization.Encoding.PEM))


def ensure_audit_signer(paths: PkiPaths) -> ec.EllipticCurvePrivateKey:
    """The audit checkpoint signing key, made on first use (PkiError if there is no PKI)."""
    if not paths.root.is_dir():
        raise PkiError(f"no PKI in {paths.root}: run `caseguard-collector pki init` first")
    if not paths.audit_key.exists():
        _write(paths.audit_key, _key_pem(ec.generate_private_key(ec.SECP256R1())), secret=True)
    key = serialization.load_pem_private_key(paths.audit_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError("audit signing key is not an EC key")
    return key


def load_ca(paths: PkiPaths) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA certificate and key; PkiError if `pki init` has not been run."""
    try:
        cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
        key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
    except FileNotFoundError:
        raise paths.missing() from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError("CA key is not an EC key")
    return cert, key


def _issue(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    sans: list[x509.GeneralName],
    *,
    server: bool,
    validity: dt.timedelta,
) -> IssuedCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _build(ca_cert, ca_key, key.public_key(), common_name, sans, server=server, validity=validity)
    return IssuedCertificate(
        cert.public_bytes(serialization.Encoding.PEM), _key_pem(key), fingerprint_of(cert), cert.not_valid_after_utc
    )


def _build(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    public_key: CertificatePublicKeyTypes,
    common_name: str,
    sans: list[x509.GeneralName],
    *,
    server: bool,
    validity: dt.timedelta,
) -> x509.Certificate:
    now = _now()
    not_after = min(now + validity, ca_cert.not_valid_after_utc)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _server_sans(hostnames: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in [*hostnames, "localhost", socket.gethostname(), "127.0.0.1", "::1"]:
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    if secret:
        os.chmod(path, 0o600)


def write_device_bundle(out: Path, issued: IssuedCertificate, ca_pem: bytes) -> None:
    """Write device.pem, device.key (0600) and ca.pem into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "device.key", issued.key_pem, secret=True)
    _write(out / "device.pem", issued.cert_pem)
    _write(out / "ca.pem", ca_pem)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
