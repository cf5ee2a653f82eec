"""UK wall-clock input (issue 15, finding 3): times a clock change skips or repeats are refused.

Source: The Summer Time Act 1972 and the Summer Time Order 2002 (clocks go forward at 01:00 GMT
on the last Sunday in March and back at 01:00 GMT on the last Sunday in October). So on
28 March 2027 the UK has no 01:30, and on 25 October 2026 it has two.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from collector.workflow.moments import moment


def test_a_time_in_the_spring_forward_gap_is_an_error_not_an_hour_later():
    with pytest.raises(argparse.ArgumentTypeError, match="does not exist in the UK"):
        moment("2027-03-28T01:30")


def test_a_time_repeated_when_the_clocks_go_back_must_say_which():
    with pytest.raises(argparse.ArgumentTypeError, match="happened twice"):
        moment("2026-10-25 01:30")
    assert moment("2026-10-25T01:30+01:00") == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert moment("2026-10-25T01:30+00:00") == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_ordinary_uk_times_either_side_of_the_change():
    assert moment("2027-03-28 00:59") == datetime(2027, 3, 28, 0, 59, tzinfo=UTC)
    assert moment("2027-03-28T02:00") == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert moment("2026-12-03 09:30") == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
