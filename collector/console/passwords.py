"""Password hashing with argon2id (memory-hard), and the rules a new password must meet."""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from collector.errors import UsageError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing a megabyte per attempt would be a denial of service


class WeakPassword(UsageError, ValueError):
    """A new password does not meet the rules; the message says which."""


def check_new_password(name: str, password: str) -> None:
    """Raise ``WeakPassword`` unless ``password`` is long enough and is not the account name."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters (a few words make a good one)")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_LENGTH} characters")
    if password.strip().lower() == name.strip().lower():
        raise WeakPassword("a password must not be the account name")


@dataclass
class Passwords:
    """argon2id hashing; defaults are argon2-cffi's RFC 9106 low-memory profile (64 MiB, 3 passes)."""

    hasher: PasswordHasher = field(default_factory=PasswordHasher)

    def __post_init__(self) -> None:
        # Verified against when the account does not exist, so both paths cost the same.
        self._dummy = self.hasher.hash("caseguard-no-such-account")

    def hash(self, password: str) -> str:
        """An argon2id PHC string for ``password`` (salted)."""
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; always does the full work, even with no account."""
        if len(password) > MAX_LENGTH:
            return False
        try:
            return bool(self.hasher.verify(password_hash or self._dummy, password)) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with weaker parameters than ours."""
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
