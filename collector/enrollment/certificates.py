"""Issuing device certificates for keys made on the laptop (the key never leaves it)."""

from __future__ import annotations

import re
import secrets

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from collector.pki import DEVICE_VALIDITY, IssuedCertificate, PkiError, PkiPaths, issue_for_public_key

_LABEL_CHARS = re.compile(r"[^A-Za-z0-9-]+")


def load_csr(csr_der: bytes) -> x509.CertificateSigningRequest:
    """A certificate request whose signature checks out and whose key is strong enough."""
    try:
        csr = x509.load_der_x509_csr(csr_der)
    except ValueError as exc:
        raise PkiError("the certificate request is not valid DER") from exc
    if not csr.is_signature_valid:
        raise PkiError("the certificate request's signature does not verify")
    key = csr.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < 256:
            raise PkiError("EC keys must be at least 256 bits")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise PkiError("RSA keys must be at least 2048 bits")
    else:
        raise PkiError("only EC (P-256 or larger) and RSA (2048+) keys are accepted")
    return csr


def device_name_for(label: str) -> str:
    """A new device name: the label as a hint plus a random suffix, so cloned images never collide."""
    hint = _LABEL_CHARS.sub("-", label).strip("-")[:32] or "device"
    return f"{hint}-{secrets.token_hex(3)}"


def issue_from_csr(paths: PkiPaths, csr_der: bytes, device_name: str) -> IssuedCertificate:
    """A client certificate for the CSR's key, named ``device_name`` (the CSR's subject is ignored)."""
    csr = load_csr(csr_der)
    return issue_for_public_key(paths, csr.public_key(), device_name, DEVICE_VALIDITY)
