"""Enrolment tokens: format, proof, and every way a token is refused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from caseguard.enrollment_proof import MalformedToken, parse_token, proof, secret_hash
from collector.durations import InvalidDuration, parse_duration
from collector.enrollment import tokens


def _record(token: tokens.NewToken, *, expires: int = 100, uses: int = 1) -> tokens.TokenRecord:
    return tokens.TokenRecord(token.token_id, token.secret_hash, expires, uses, 0)


def test_a_laptop_holding_the_token_passes() -> None:
    t = tokens.new_token()
    token_id, secret = parse_token(t.text)
    assert token_id == t.token_id and secret not in (t.secret_hash.hex(), "")
    csr = b"csr-bytes"
    tokens.check(_record(t), proof(secret_hash(secret), csr), csr, now_us=50)


@pytest.mark.parametrize(
    ("record_kw", "now", "message"),
    [({"expires": 10}, 50, "expired"), ({"uses": 0}, 5, "already been used")],
)
def test_expired_and_spent_tokens_are_refused_clearly(record_kw: dict[str, int], now: int, message: str) -> None:
    t = tokens.new_token()
    _, secret = parse_token(t.text)
    with pytest.raises(tokens.TokenError, match=message):
        tokens.check(_record(t, **record_kw), proof(secret_hash(secret), b"c"), b"c", now_us=now)


def test_proof_is_bound_to_the_request_and_the_secret() -> None:
    t, other = tokens.new_token(), tokens.new_token()
    _, secret = parse_token(t.text)
    _, wrong = parse_token(other.text)
    with pytest.raises(tokens.TokenError, match="does not match"):
        tokens.check(_record(t), proof(secret_hash(secret), b"mine"), b"someone else's", now_us=1)
    with pytest.raises(tokens.TokenError, match="does not match"):
        tokens.check(_record(t), proof(secret_hash(wrong), b"c"), b"c", now_us=1)
    with pytest.raises(tokens.TokenError, match="unknown"):
        tokens.check(None, b"", b"c", now_us=1)


def test_malformed_token_text() -> None:
    with pytest.raises(MalformedToken):
        parse_token("letmein")


@pytest.mark.parametrize(("text", "seconds"), [("24h", 86400), ("90m", 5400), ("7d", 604800), ("1d12h", 129600)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("tomorrow", "is not a duration like 24h"),
        ("3weeks", "unknown unit 'weeks'"),
        ("24", "has no unit: write e.g. 24h"),
        ("1d12", "has no unit: write e.g. 12h"),
        ("0h", "must be above zero"),
        ("0d0m", "must be above zero"),
        ("", "is not a duration"),
        ("-1h", "is not a duration"),
    ],
)
def test_bad_durations_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(InvalidDuration, match=re.escape(says)):
        parse_duration(text)
