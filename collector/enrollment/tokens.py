"""Enrolment tokens (pure): making them, and checking a laptop's proof that it holds one.

A token is ``cgt_<id>_<secret>``. The collector keeps only SHA-256(secret). The laptop never
sends the secret: it proves it with HMAC-SHA256(key = SHA-256(secret), msg = its CSR), which
binds the proof to the key it is enrolling.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from caseguard.enrollment_proof import proof, secret_hash
from collector.errors import CollectorError


class TokenError(CollectorError, ValueError):
    """A token that is malformed, unknown, expired, used up or wrongly proven."""


@dataclass(frozen=True)
class NewToken:
    """A freshly made token: show ``text`` once; store ``token_id`` and ``secret_hash``."""

    token_id: str
    text: str
    secret_hash: bytes


@dataclass(frozen=True)
class TokenRecord:
    """A stored token."""

    token_id: str
    secret_hash: bytes
    expires_at_us: int
    uses_left: int
    created_at_us: int


def new_token() -> NewToken:
    """A random token."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewToken(token_id, f"cgt_{token_id}_{secret}", secret_hash(secret))


def check(record: TokenRecord | None, presented: bytes, csr_der: bytes, now_us: int) -> None:
    """Raise TokenError unless the token exists, is live, has uses left and the proof is right."""
    if record is None:
        raise TokenError("unknown enrolment token: ask IT for a new one")
    if not hmac.compare_digest(proof(record.secret_hash, csr_der), presented):
        raise TokenError("the enrolment token does not match: check it was copied in full")
    if now_us >= record.expires_at_us:
        raise TokenError("the enrolment token has expired: ask IT for a new one")
    if record.uses_left <= 0:
        raise TokenError("the enrolment token has already been used: ask IT for a new one")
