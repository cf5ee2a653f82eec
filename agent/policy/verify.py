"""Checking a central policy really comes from the organisation's collector."""

from __future__ import annotations

import json
from typing import Any

from agent.errors import AgentError

POLICY_SIGNER_NAME = "Caseguard policy signer"


class PolicyRejected(AgentError, ValueError):
    """A policy that is not signed by our CA's policy signer, or not valid."""


def verify_policy(body: bytes, signature: bytes, signer_pem: bytes, ca_pem: bytes) -> dict[str, Any]:
    """The policy as a dict, if the signer chains to the CA, is a policy signer, and signed ``body``.

    cryptography is imported here, not at the top: the running agent checks policies in a
    child process (agent.crypto_child) and never loads it.
    """
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    try:
        signer = x509.load_pem_x509_certificate(signer_pem)
        signer.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise PolicyRejected("the policy signer is not certified by this organisation's CA") from exc
    names = signer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        usages = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = x509.ExtendedKeyUsage([])
    if not names or names[0].value != POLICY_SIGNER_NAME or ExtendedKeyUsageOID.CODE_SIGNING not in usages:
        raise PolicyRejected("the certificate that signed the policy is not a policy signer")
    key = signer.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise PolicyRejected("the policy signer's key is not an EC key")
    try:
        key.verify(signature, body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise PolicyRejected("the policy's signature does not verify") from exc
    try:
        policy = json.loads(body)
    except ValueError as exc:
        raise PolicyRejected("the policy is not JSON") from exc
    if not isinstance(policy, dict):
        raise PolicyRejected("the policy is not a JSON object")
    return policy
