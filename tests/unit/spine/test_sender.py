"""The sender thread over a real outbox and a scripted collector: at-least-once, retry rules, batch size.

The collector is a fake EventClient; the outbox is the real SQLite one in a tmp dir, wrapped only
so the test can wait (on a condition, not a sleep) for the sender to have acted on a reply.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import grpc
import pytest

from agent.outbox import Outbox, PendingEvent
from agent.transport.client import DeliveryError
from agent.transport.retry import Backoff
from agent.transport.sender import Sender

WAIT_S = 10.0  # only ever reached when a test is failing
BACKOFF = Backoff(initial_s=0.5, max_s=30.0, multiplier=2.0, jitter=0.0)

Reply = tuple[list[str], dict[str, str]]
Script = Callable[[list[str]], Reply]


def _encode(e: PendingEvent) -> bytes:
    return json.dumps({"id": e.event_id, "kind": e.kind, "body": dict(e.body)}).encode()


class WatchedOutbox(Outbox):
    """The real outbox, announcing each thing the sender does to it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encode=_encode)
        self.changed = threading.Condition()

    def ack(self, event_ids: Iterable[str]) -> int:
        deleted = super().ack(event_ids)
        self._announce()
        return deleted

    def dead_letter(self, rejections: Mapping[str, str]) -> None:
        super().dead_letter(rejections)
        self._announce()

    def note_error(self, message: str) -> None:
        super().note_error(message)
        self._announce()

    def _announce(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, timeout=WAIT_S), f"sender never got to: {what}"


class ScriptedCollector:
    """An EventClient whose replies come from ``script(ids)``; records every call's event ids."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self.calls: list[list[str]] = []

    def send_events(self, payloads: Sequence[bytes]) -> tuple[list[str], Mapping[str, str]]:
        ids = [json.loads(p)["id"] for p in payloads]
        self.calls.append(ids)
        return self._script(ids)

    @property
    def sent(self) -> list[str]:
        return [i for call in self.calls for i in call]


def ack_all(ids: list[str]) -> Reply:
    return ids, {}


def failing(code: grpc.StatusCode, times: int, then: Script = ack_all) -> Script:
    """Fail the first ``times`` calls with ``code``, then behave like ``then``."""
    left = [times]

    def script(ids: list[str]) -> Reply:
        if left[0] > 0:
            left[0] -= 1
            raise DeliveryError(code, "scripted failure", "127.0.0.1:1")
        return then(ids)

    return script


class Pauses:
    """Records each retry delay the sender asks for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.delays.append(seconds)
        return False


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[WatchedOutbox]:
    ob = WatchedOutbox(tmp_path / "outbox.sqlite3")
    yield ob
    ob.close()


@pytest.fixture
def run_sender(outbox: WatchedOutbox) -> Iterator[Callable[..., tuple[Sender, Pauses]]]:
    started: list[Sender] = []

    def run(client: ScriptedCollector, **kwargs: object) -> tuple[Sender, Pauses]:
        pauses = Pauses()
        # An hour's idle poll: every step must be driven by a commit or a reply, never by polling.
        options: dict[str, object] = {"idle_poll_s": 3600.0, **kwargs}
        sender = Sender(outbox, client, backoff=BACKOFF, pause=pauses, **options)  # type: ignore[arg-type]
        outbox.set_on_commit(sender.wake)
        sender.start()
        started.append(sender)
        return sender, pauses

    yield run
    for s in started:
        s.stop()
        s.join(WAIT_S)
        assert not s.is_alive(), "the sender did not stop"


def _append(outbox: Outbox, n: int) -> list[str]:
    ids = outbox.append_many([("test", {"index": i}) for i in range(n)])
    return [i for i in ids if i is not None]


def test_a_batch_bigger_than_500_is_acknowledged_in_full_and_sent_once(
    outbox: WatchedOutbox, run_sender: Callable[..., tuple[Sender, Pauses]]
) -> None:
    ids = _append(outbox, 1234)
    client = ScriptedCollector(ack_all)
    sender, _ = run_sender(client, batch_size=2000)
    outbox.wait_until(lambda: bool(client.calls) and outbox.status().last_delivery_at is not None, "the first ack")
    assert client.calls == [ids], "one call carrying every event, in commit order"
    assert outbox.depth() == 0 and outbox.peek(10) == []
    assert sender.delivered == 1234
    more = _append(outbox, 3)  # the sender is still running: nothing it acked comes back
    outbox.wait_until(lambda: outbox.depth() == 0, "the next events")
    assert client.sent == ids + more


def test_acknowledging_more_than_500_ids_deletes_all_of_them(outbox: WatchedOutbox) -> None:
    ids = _append(outbox, 1234)
    assert outbox.ack(ids) == 1234
    assert outbox.depth() == 0 and outbox.peek(1) == []


def test_a_partial_ack_keeps_the_rest_and_sends_it_again(
    outbox: WatchedOutbox, run_sender: Callable[..., tuple[Sender, Pauses]]
) -> None:
    ids = _append(outbox, 10)
    first = [True]

    def half_then_all(got: list[str]) -> Reply:
        if first[0]:
            first[0] = False
            return got[:4], {}  # the collector is shedding load: stored only four
        return got, {}

    client = ScriptedCollector(half_then_all)
    _, pauses = run_sender(client)
    outbox.wait_until(lambda: outbox.depth() == 0, "delivering the rest")
    assert client.calls == [ids, ids[4:]]
    assert pauses.delays == [BACKOFF.initial_s]  # a short breather, not a back-off


def test_a_rejected_event_goes_to_the_dead_letter_table_and_is_not_sent_again(
    outbox: WatchedOutbox, run_sender: Callable[..., tuple[Sender, Pauses]]
) -> None:
    ids = _append(outbox, 5)
    bad = ids[2]

    def reject_one(got: list[str]) -> Reply:
        return [i for i in got if i != bad], {bad: "body does not match its kind"}

    client = ScriptedCollector(reject_one)
    run_sender(client)
    outbox.wait_until(lambda: outbox.depth() == 0, "emptying the queue")
    more = _append(outbox, 1)
    outbox.wait_until(lambda: more[0] in client.sent and outbox.depth() == 0, "the next event")
    assert client.sent.count(bad) == 1, "a rejected event is never retried"
    status = outbox.status()
    assert status.dead_letters == 1 and status.depth == 0


def test_unauthenticated_holds_the_events_with_the_longest_wait(
    outbox: WatchedOutbox, run_sender: Callable[..., tuple[Sender, Pauses]], caplog: pytest.LogCaptureFixture
) -> None:
    ids = _append(outbox, 3)
    client = ScriptedCollector(failing(grpc.StatusCode.UNAUTHENTICATED, times=2))
    with caplog.at_level(logging.ERROR, logger="agent.transport.sender"):
        _, pauses = run_sender(client)
        outbox.wait_until(lambda: outbox.depth() == 0, "delivery once the collector accepts us")
    assert pauses.delays == [BACKOFF.max_s, BACKOFF.max_s], "refused: retry slowly, not with a growing back-off"
    assert client.calls == [ids, ids, ids], "nothing dropped while refused"
    assert "refuses delivery (UNAUTHENTICATED)" in caplog.text


def test_permission_denied_is_held_too_and_remembered_for_status(
    outbox: WatchedOutbox, run_sender: Callable[..., tuple[Sender, Pauses]]
) -> None:
    _append(outbox, 1)
    never = ScriptedCollector(failing(grpc.StatusCode.PERMISSION_DENIED, times=10**9))
    _, pauses = run_sender(never)
    outbox.wait_until(lambda: len(pauses.delays) >= 3, "three refusals")
    assert set(pauses.delays) == {BACKOFF.max_s}
    status = outbox.status()
    assert status.depth == 1 and status.dead_letters == 0
    assert status.last_error is not None and "PERMISSION_DENIED" in status.last_error


def test_unavailable_backs_off_exponentially_then_delivers(
    outbox: WatchedOutbox, run_sender: Callable[..., tuple[Sender, Pauses]]
) -> None:
    ids = _append(outbox, 2)
    client = ScriptedCollector(failing(grpc.StatusCode.UNAVAILABLE, times=3))
    _, pauses = run_sender(client)
    outbox.wait_until(lambda: outbox.depth() == 0, "delivery after the outage")
    assert pauses.delays == [0.5, 1.0, 2.0]
    assert client.calls == [ids] * 4
    assert outbox.status().last_error is None  # a delivery clears the error shown by status


def test_resource_exhausted_halves_the_batch_until_it_fits(
    outbox: WatchedOutbox, run_sender: Callable[..., tuple[Sender, Pauses]]
) -> None:
    ids = _append(outbox, 300)

    def at_most_100(got: list[str]) -> Reply:
        if len(got) > 100:
            raise DeliveryError(grpc.StatusCode.RESOURCE_EXHAUSTED, "message too large", "127.0.0.1:1")
        return got, {}

    client = ScriptedCollector(at_most_100)
    _, pauses = run_sender(client, batch_size=500)
    outbox.wait_until(lambda: outbox.depth() == 0, "delivery in smaller batches")
    sizes = [len(c) for c in client.calls]
    assert sizes[:4] == [300, 250, 125, 62], "each refusal halves the batch, retried at once"
    assert pauses.delays == [], "shrinking is not a reason to wait"
    assert sorted(set(client.sent)) == sorted(ids)
    delivered = [i for c in client.calls if len(c) <= 100 for i in c]
    assert delivered == ids, "every event delivered exactly once, in order"


def test_a_single_event_too_big_for_the_collector_is_held_not_dropped(
    outbox: WatchedOutbox, run_sender: Callable[..., tuple[Sender, Pauses]]
) -> None:
    _append(outbox, 4)
    client = ScriptedCollector(failing(grpc.StatusCode.RESOURCE_EXHAUSTED, times=10**9))
    _, pauses = run_sender(client, batch_size=4)
    outbox.wait_until(lambda: len(pauses.delays) >= 2, "holding")
    assert [len(c) for c in client.calls[:3]] == [4, 2, 1]
    assert set(pauses.delays) == {BACKOFF.max_s}
    assert outbox.depth() == 4 and outbox.status().dead_letters == 0


def test_an_unexpected_error_keeps_the_thread_alive_and_the_events_on_disk(
    outbox: WatchedOutbox, run_sender: Callable[..., tuple[Sender, Pauses]], caplog: pytest.LogCaptureFixture
) -> None:
    ids = _append(outbox, 2)
    broken = [True]

    def bug_once(got: list[str]) -> Reply:
        if broken[0]:
            broken[0] = False
            raise RuntimeError("a bug in the transport")
        return got, {}

    client = ScriptedCollector(bug_once)
    with caplog.at_level(logging.ERROR, logger="agent.transport.sender"):
        sender, pauses = run_sender(client)
        outbox.wait_until(lambda: outbox.depth() == 0, "delivery after the bug")
    assert sender.is_alive()
    assert client.calls == [ids, ids] and pauses.delays == [BACKOFF.initial_s]
    assert "unexpected error" in caplog.text


def test_stop_interrupts_a_long_hold_at_once(outbox: WatchedOutbox) -> None:
    _append(outbox, 1)
    refused = threading.Event()

    def refuse(got: list[str]) -> Reply:
        refused.set()
        raise DeliveryError(grpc.StatusCode.UNAUTHENTICATED, "revoked", "127.0.0.1:1")

    # The real pause (no recorder): a 1-hour hold that only stop() can end.
    sender = Sender(outbox, ScriptedCollector(refuse), backoff=Backoff(initial_s=3600, max_s=3600))
    sender.start()
    assert refused.wait(WAIT_S)
    sender.stop()
    sender.join(WAIT_S)
    assert not sender.is_alive()
    assert outbox.depth() == 1


def test_a_throttled_device_holds_routine_events_and_still_sends_breach_class_ones(
    outbox: WatchedOutbox, run_sender: Callable[..., tuple[Sender, Pauses]]
) -> None:
    routine = _append(outbox, 20)
    [egress] = [i for i in outbox.append_many([("case_file_egress", {"n": 1})]) if i is not None]
    clock = [100.0]

    def throttle_routine(got: list[str]) -> Reply:
        if got != [egress]:
            raise DeliveryError(grpc.StatusCode.RESOURCE_EXHAUSTED, "device rate limit exceeded", "127.0.0.1:1",
                                retry_after_s=120.0)
        return got, {}

    client = ScriptedCollector(throttle_routine)
    sender, pauses = run_sender(client, batch_size=50, monotonic=lambda: clock[0])
    outbox.wait_until(lambda: outbox.depth() == 20, "the egress event delivered past the held routine ones")
    assert client.calls == [[*routine, egress], [egress]], "after the refusal, only breach-class events are sent"
    assert sender.throttled and pauses.delays == [], "not a failure to back off from: a hold"
    assert outbox.status().dead_letters == 0, "held, never dead-lettered"
    clock[0] += 121  # the retry-after has passed: routine events go again (the collector now takes them)
    client._script = ack_all
    sender.wake()
    outbox.wait_until(lambda: outbox.depth() == 0, "the held events delivered after the retry-after")
    assert client.calls[-1] == routine and not sender.throttled
