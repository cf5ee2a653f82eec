"""The posture change detector and monitor: report at start, then only on change."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from agent.posture.commands import NOT_FOUND, TIMED_OUT, run_command
from agent.posture.encryption import ENCRYPTED, NOT_ENCRYPTED
from agent.posture.monitor import ChangeDetector, PostureMonitor, PostureProbe
from agent.posture.summary import posture_summary
from caseguard.v1 import events_pb2
from tests.unit.lock.fakes import FakeClock, RecordingSink


@given(st.lists(st.sampled_from([{"a": 1}, {"a": 2}, {"a": 1, "b": [1]}]), max_size=30))
def test_change_detector_says_true_exactly_when_the_body_differs_from_the_last(bodies):
    detector = ChangeDetector()
    previous = None
    for body in bodies:
        assert detector.offer("k", body) is (body != previous)
        previous = body


def test_monitor_emits_first_reading_then_only_changes_each_probe_on_its_interval():
    clock = FakeClock()
    sink = RecordingSink()
    lock_values = iter([{"t": 300}, {"t": 300}, {"t": 900}, {"t": 900}])
    enc_reads = []

    def read_enc():
        enc_reads.append(clock.now)
        return {"system_volume": ENCRYPTED}

    monitor = PostureMonitor(
        sink,
        [
            PostureProbe("lock_posture", lambda: next(lock_values), 60),
            PostureProbe("encryption_posture", read_enc, 600),
        ],
        clock=clock,
    )
    assert monitor.poll_once() == ["lock_posture", "encryption_posture"]
    clock.advance(60)
    assert monitor.poll_once() == []  # lock unchanged; encryption not due
    clock.advance(60)
    assert monitor.poll_once() == ["lock_posture"]
    assert len(enc_reads) == 1
    monitor.poke()
    assert monitor.poll_once() == []  # both read, neither changed
    assert len(enc_reads) == 2
    assert [k for k, _ in sink.events] == ["lock_posture", "encryption_posture", "lock_posture"]
    assert monitor.latest("lock_posture") == {"t": 900}


def test_monitor_survives_a_failing_probe_and_its_thread_stops_promptly(caplog):
    sink = RecordingSink()

    def broken():
        raise RuntimeError("bug")

    monitor = PostureMonitor(
        sink, [PostureProbe("lock_posture", broken, 0.01), PostureProbe("encryption_posture", lambda: {"x": 1}, 600)]
    )
    monitor.start()
    deadline = time.monotonic() + 5
    while not sink.events and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    monitor.stop()
    assert time.monotonic() - started < 2
    assert sink.events == [("encryption_posture", {"x": 1})]
    assert "posture probe lock_posture failed" in caplog.text


def test_summary_is_a_valid_posture_summary():
    summary = posture_summary(
        {"os_lock_timeout_s": 600, "password_on_wake": True},
        {"system_volume": ENCRYPTED, "home_volume": NOT_ENCRYPTED},
        True,
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert summary["encryption"] == "ENCRYPTION_STATE_PARTIAL"
    assert summary["last_lock_at"] == "2026-01-02T03:04:05Z"
    json_format.ParseDict(summary, events_pb2.PostureSummary())
    json_format.ParseDict(posture_summary(None, None, False, None), events_pb2.PostureSummary())


def test_run_command_never_raises_for_ordinary_failures():
    assert run_command(["/nonexistent/caseguard-nothing"]).returncode == NOT_FOUND
    slow = run_command([sys.executable, "-c", "import time; time.sleep(5)"], timeout_s=0.2)
    assert slow.returncode == TIMED_OUT
    ok = run_command([sys.executable, "-c", "print('hi')"])
    assert ok.ok and ok.stdout == "hi\n"
    assert "exited 3" in run_command([sys.executable, "-c", "raise SystemExit(3)"]).describe()
