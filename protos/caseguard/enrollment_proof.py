"""The enrolment token format and proof, shared by agent and collector (see v1/enrollment.proto).

A token is ``cgt_<id>_<secret>``. The laptop proves it holds one with
HMAC-SHA256(key = SHA-256(secret), msg = its CSR in DER), never sending the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_TOKEN = re.compile(r"cgt_([0-9a-f]{16})_([A-Za-z0-9_-]{32,})")


class MalformedToken(ValueError):
    """Text that is not an enrolment token."""


def parse_token(text: str) -> tuple[str, str]:
    """(token id, secret) of a token's text."""
    m = _TOKEN.fullmatch(text.strip())
    if m is None:
        raise MalformedToken("that is not an enrolment token (expected cgt_<id>_<secret>)")
    return m.group(1), m.group(2)


def secret_hash(secret: str) -> bytes:
    """What the collector keeps of a secret, and the HMAC key of the proof."""
    return hashlib.sha256(secret.encode()).digest()


def proof(key: bytes, csr_der: bytes) -> bytes:
    """HMAC-SHA256(key, CSR DER), with key = secret_hash(secret)."""
    return hmac.new(key, csr_der, hashlib.sha256).digest()
