"""NHS and NI number validation and scanning, case references and dates of birth."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.classify.identifiers import (
    is_valid_nhs_number,
    is_valid_ni_number,
    nhs_check_digit,
    scan_identifiers,
)
from tests.unit.classify.synthetic import invalid_nhs_number, nhs_number, ni_number

nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


def with_check(first_nine: str) -> str | None:
    check = nhs_check_digit(first_nine)
    return None if check is None else first_nine + str(check)


def test_known_check_digits() -> None:
    # 943 476 5919 is the NHS's own published example; 401 023 2137 is another commonly used one.
    assert is_valid_nhs_number("943 476 5919")
    assert is_valid_nhs_number("4010232137")
    assert not is_valid_nhs_number("943 476 5918")


def test_remainder_ten_is_never_valid() -> None:
    # A stem whose weighted sum leaves remainder 1 would need check digit 10: no tenth digit can fix it.
    stem = next(f"999{n:06d}" for n in range(10**6) if nhs_check_digit(f"999{n:06d}") is None)
    assert all(not is_valid_nhs_number(stem + str(d)) for d in range(10))


def test_remainder_eleven_gives_zero() -> None:
    stem = next(f"999{n:06d}" for n in range(10**6) if nhs_check_digit(f"999{n:06d}") == 0)
    assert is_valid_nhs_number(stem + "0")


@given(nine_digits)
def test_any_number_with_a_correct_check_digit_validates(first_nine: str) -> None:
    number = with_check(first_nine)
    if number is None:
        assert not any(is_valid_nhs_number(first_nine + str(d)) for d in range(10))
    else:
        assert is_valid_nhs_number(number)
        assert is_valid_nhs_number(f"{number[:3]} {number[3:6]} {number[6:]}")
        assert is_valid_nhs_number(f"{number[:3]}-{number[3:6]}-{number[6:]}")


@given(nine_digits, st.integers(min_value=0, max_value=9), st.integers(min_value=1, max_value=9))
def test_changing_one_digit_never_validates(first_nine: str, position: int, delta: int) -> None:
    number = with_check(first_nine)
    if number is None:
        return
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    assert not is_valid_nhs_number(changed)


@given(nine_digits, st.sampled_from([" ", "-", "\n", " \n", "\r\n", ""]), st.sampled_from(["", " ", "\n"]))
def test_scanner_finds_grouped_and_line_split_numbers(first_nine: str, sep1: str, sep2: str) -> None:
    number = with_check(first_nine)
    if number is None:
        return
    text = f"Child seen. NHS no: {number[:3]}{sep1}{number[3:6]}{sep2}{number[6:]} recorded."
    assert scan_identifiers(text.encode()).nhs_numbers == {number}


def test_scanner_rejects_numbers_inside_longer_runs_and_codes() -> None:
    rng = random.Random(3)
    number = nhs_number(rng, grouped="")
    for text in (f"1{number}", f"{number}7", f"AB{number}", f"{number}X", f"00{number[:3]} {number[3:]}"):
        assert scan_identifiers(text.encode()).nhs_numbers == frozenset(), text


def test_scanner_counts_candidates_that_fail_the_check() -> None:
    rng = random.Random(4)
    bad = [invalid_nhs_number(rng) for _ in range(5)]
    hits = scan_identifiers(" ".join(bad).encode())
    assert hits.nhs_numbers == frozenset()
    assert hits.nhs_candidates == 5


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("AB123456C", True),
        ("AB 12 34 56 C", True),
        ("ce123456d", True),  # the validator is case-insensitive; the scanner wants capitals
        ("AB123456E", False),  # suffix beyond D
        ("AB123456", False),  # no suffix
        ("DA123456A", False),  # D never first
        ("AF123456A", False),  # F never second
        ("QA123456A", False),
        ("UA123456A", False),
        ("VA123456A", False),
        ("IA123456A", False),
        ("AO123456A", False),  # O never second
        ("OA123456A", True),  # ...but allowed first
        ("BG123456A", False),
        ("GB123456A", False),
        ("KN123456A", False),
        ("NK123456A", False),
        ("NT123456A", False),
        ("TN123456A", False),
        ("ZZ123456A", False),
        ("AB12345C", False),
    ],
)
def test_ni_rules(value: str, valid: bool) -> None:
    assert is_valid_ni_number(value) is valid


@given(st.randoms(use_true_random=False))
def test_generated_ni_numbers_validate_and_are_found(rnd: random.Random) -> None:
    value = ni_number(rnd)
    assert is_valid_ni_number(value)
    spaced = f"{value[:2]} {value[2:4]} {value[4:6]} {value[6:8]} {value[8]}"
    assert scan_identifiers(f"Father's NI: {spaced}.".encode()).ni_numbers == {value}


@given(st.sampled_from(sorted("DFIQUV")), st.sampled_from(sorted("ABCEGHJKLMNPRSTWXYZ")), nine_digits)
def test_banned_letters_never_validate_in_either_place(bad: str, good: str, digits: str) -> None:
    assert not is_valid_ni_number(f"{bad}{good}{digits[:6]}A")
    assert not is_valid_ni_number(f"{good}{bad}{digits[:6]}A")


def test_ni_scanner_needs_word_boundaries() -> None:
    assert scan_identifiers(b"XAB123456C").ni_numbers == frozenset()
    assert scan_identifiers(b"AB123456CX").ni_numbers == frozenset()
    assert scan_identifiers(b"AB1234567C").ni_numbers == frozenset()
    assert scan_identifiers(b"(AB123456C)").ni_numbers == {"AB123456C"}


def test_case_references_use_configured_patterns() -> None:
    patterns = (r"\bCS-\d{6}\b", r"\bLAC/\d{4}/\d{3}\b", r"(?<![A-Z])MOS\d{5}")
    hits = scan_identifiers(
        b"Refs CS-123456, CS-123456, LAC/2024/017, MOS12345; not XCS-123456, CS-1234567 or AMOS12345", patterns
    )
    assert hits.case_references == {"CS-123456", "LAC/2024/017", "MOS12345"}


def test_dates_of_birth_need_a_label() -> None:
    hits = scan_identifiers(b"DOB: 03/11/2016. Date of Birth - 4 March 2019. Seen on 05/06/2024.")
    assert hits.dates_of_birth == {"03/11/2016", "4 march 2019"}


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_scanner_and_validator_agree_on_every_ten_digit_string(digits: str) -> None:
    found = scan_identifiers(f"NHS {digits}.".encode()).nhs_numbers
    assert (digits in found) is is_valid_nhs_number(digits)
