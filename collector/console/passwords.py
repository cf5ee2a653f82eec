"""Password hashing with argon2id (memory-hard), and the rules a new password must meet.

The rules follow the NCSC's password guidance: a minimum length, no composition rules, and a
check against passwords that are common or easily guessed. That check is zxcvbn (the
Dropbox estimator; its PyPI package bundles frequency lists of leaked passwords, common words,
names and keyboard patterns), which also sees through "Password123!"-style variations and the
account's own name. A password it estimates below ``MIN_SCORE`` (of 0-4) is refused, with
zxcvbn's own warning as the reason where it has one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from collector.errors import UsageError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing a megabyte per attempt would be a denial of service
MIN_SCORE = 3  # zxcvbn: 3 is "safely unguessable" against throttled online attacks and more
ZXCVBN_CHARS = 72  # zxcvbn refuses longer input (and its cost grows with length); the start decides
PRODUCT_WORDS = ("caseguard", "console", "collector", "password")


class WeakPassword(UsageError, ValueError):
    """A new password does not meet the rules; the message says which."""


def check_new_password(name: str, password: str, extra_words: tuple[str, ...] = ()) -> None:
    """Raise ``WeakPassword`` unless ``password`` is long enough, not the account name, and not common or guessable.

    ``extra_words`` (the organisation's name, say) count as guessable too.
    """
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters (a few words make a good one)")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_LENGTH} characters")
    if password.strip().lower() == name.strip().lower():
        raise WeakPassword("a password must not be the account name")
    words = [name, *name.replace(".", " ").replace("_", " ").replace("-", " ").split(), *PRODUCT_WORDS, *extra_words]
    verdict = zxcvbn(password[:ZXCVBN_CHARS], user_inputs=[w for w in words if w])
    if int(verdict["score"]) < MIN_SCORE:
        warning = str(verdict.get("feedback", {}).get("warning") or "").rstrip(".")
        reason = warning[:1].lower() + warning[1:] if warning else "it would be easy to guess"
        raise WeakPassword(
            f"that password is too common or easy to guess ({reason}); a few unrelated words make a strong one"
        )


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
