"""Signing policy versions with a key certified by the collector's CA for that purpose only."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from collector.pki import PkiError, PkiPaths, ensure_policy_signer


def sign(paths: PkiPaths, body: bytes) -> tuple[bytes, bytes]:
    """(signature, signer certificate PEM) for ``body``; makes the signing key on first use."""
    ensure_policy_signer(paths)
    key = serialization.load_pem_private_key(paths.policy_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError("policy signing key is not an EC key")
    return key.sign(body, ec.ECDSA(hashes.SHA256())), paths.policy_cert.read_bytes()
