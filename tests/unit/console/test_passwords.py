"""argon2id hashes and the new-password rules."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from collector.console.passwords import Passwords, WeakPassword, check_new_password


def test_hashes_are_salted_argon2id_and_verify(cheap_passwords: Passwords) -> None:
    one, two = cheap_passwords.hash("correct horse battery"), cheap_passwords.hash("correct horse battery")
    assert one.startswith("$argon2id$") and one != two
    assert cheap_passwords.verify(one, "correct horse battery")
    assert not cheap_passwords.verify(one, "correct horse batterY")
    assert not cheap_passwords.verify("not a hash", "correct horse battery")


def test_no_account_never_verifies_even_with_the_dummy_password(cheap_passwords: Passwords) -> None:
    assert not cheap_passwords.verify(None, "caseguard-no-such-account")
    assert not cheap_passwords.verify(None, "anything at all")


def test_weaker_hashes_are_flagged_for_rehash(cheap_passwords: Passwords) -> None:
    strong = Passwords()
    weak = cheap_passwords.hash("correct horse battery")
    assert strong.needs_rehash(weak) and not strong.needs_rehash(strong.hash("correct horse battery"))
    assert isinstance(strong.hasher, PasswordHasher) and strong.hasher.memory_cost >= 65536


def test_new_passwords_must_be_long_and_not_the_name() -> None:
    check_new_password("j.smith", "three random words here")
    for bad in ("short", "  J.SMITH     "):  # too short; the account name, padded to length
        with pytest.raises(WeakPassword):
            check_new_password("j.smith", bad)
    with pytest.raises(WeakPassword):
        check_new_password("x", "a" * 2000)
