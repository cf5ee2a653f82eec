"""What enrolment and central policy keep, and the interface both backends implement.

Same database as the events: enrolling a device consumes a token use and registers the device
with its first certificate in one transaction, so a token can never enrol more devices than it
allows, even with several collectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from collector.enrollment.tokens import TokenRecord


@dataclass(frozen=True)
class PolicyRecord:
    """One signed version of the central policy."""

    version: int
    body: bytes
    signature: bytes
    signer_pem: bytes
    created_at_us: int
    created_by: str


class EnrollmentStore(Protocol):
    """Tokens, enrolment, and central policy versions."""

    def add_token(self, record: TokenRecord) -> None:
        """Keep a new token (its secret only as a hash)."""
        ...

    def get_token(self, token_id: str) -> TokenRecord | None:
        """A token by id."""
        ...

    def list_tokens(self) -> list[TokenRecord]:
        """All tokens, newest first."""
        ...

    def enroll_device(self, token_id: str, name: str, cert_fingerprint: str, now_us: int) -> bool:
        """Use up one use of a live token and register the device, atomically; False if the token is spent."""
        ...

    def add_policy(self, body: bytes, signature: bytes, signer_pem: bytes, created_at_us: int, created_by: str) -> int:
        """Store the next policy version; returns its number."""
        ...

    def current_policy(self) -> PolicyRecord | None:
        """The newest policy version, if any."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
