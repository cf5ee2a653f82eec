"""The session channel over a real Unix socket: what a user's session may report, and shutdown."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from agent.session_channel import MAX_LINE, SessionChannelClient, SessionChannelServer

WAIT_S = 10.0


class RecordingSink:
    """An EventSink that keeps what it was given; ``fail_next`` makes the next emit raise."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.fail_next = False
        self.changed = threading.Condition()

    def emit(self, kind: str, body: Mapping[str, Any]) -> None:
        with self.changed:
            if self.fail_next:
                self.fail_next = False
                raise OSError("disk full")
            self.events.append((kind, dict(body)))
            self.changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.events) >= count, WAIT_S), self.events


@pytest.fixture
def socket_path() -> Iterator[Path]:
    # Unix socket paths must stay under ~108 bytes; pytest's tmp_path can be longer.
    d = Path(tempfile.mkdtemp(prefix="cg-chan-", dir="/tmp"))
    yield d / "session.sock"
    shutil.rmtree(d, ignore_errors=True)


Served = tuple[SessionChannelServer, RecordingSink, list[tuple[str, Any]]]


@pytest.fixture
def server(socket_path: Path) -> Iterator[Served]:
    sink = RecordingSink()
    seen: list[tuple[str, Any]] = []
    srv = SessionChannelServer(socket_path, sink, lambda kind, body: seen.append((kind, dict(body))))
    srv.start()
    yield srv, sink, seen
    srv.stop()


class Peer:
    """A session component speaking the wire format by hand."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(WAIT_S)
        self.sock.connect(str(path))
        self.reader = self.sock.makefile("rb")

    def send_line(self, line: bytes) -> dict[str, Any]:
        self.sock.sendall(line + b"\n")
        reply: dict[str, Any] = json.loads(self.reader.readline())
        return reply

    def send(self, kind: str, body: Any) -> dict[str, Any]:
        return self.send_line(json.dumps({"kind": kind, "body": body}).encode())

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


@pytest.fixture
def peer(server: Served, socket_path: Path) -> Iterator[Peer]:
    p = Peer(socket_path)
    yield p
    p.close()


def test_a_lock_event_is_committed_before_the_reply_and_seen_by_the_agent(server, peer: Peer) -> None:
    _, sink, seen = server
    assert peer.send("lock_enforced", {"idle_s": 300}) == {"ok": True}
    assert sink.events == [("lock_enforced", {"idle_s": 300})]  # committed by the time ok arrives
    assert seen == [("lock_enforced", {"idle_s": 300})]


def test_a_session_cannot_forge_egress_or_lost_device_events(server, peer: Peer) -> None:
    _, sink, seen = server
    for kind in ("case_file_egress", "lost_device_reported", "heartbeat"):
        reply = peer.send(kind, {})
        assert reply["ok"] is False and "not accepted from a session" in reply["error"]
    assert peer.send("lock_posture", "not an object")["ok"] is False
    assert sink.events == [] and seen == []


def test_garbage_and_oversized_lines_are_refused_and_the_connection_keeps_serving(server, peer: Peer) -> None:
    _, sink, _ = server
    assert peer.send_line(b"{not json")["ok"] is False
    assert peer.send_line(b'{"body": {}}')["ok"] is False
    too_long = peer.send_line(json.dumps({"kind": "lock_posture", "body": {"x": "y" * MAX_LINE}}).encode())
    assert too_long == {"ok": False, "error": "line too long"}
    assert peer.send("lock_failed", {"reason": "no-locker"}) == {"ok": True}
    assert sink.events == [("lock_failed", {"reason": "no-locker"})]


def test_a_commit_failure_is_told_to_the_session_and_the_channel_stays_up(server, peer: Peer) -> None:
    _, sink, seen = server
    sink.fail_next = True
    reply = peer.send("lock_enforced", {})
    assert reply["ok"] is False and "not committed" in reply["error"]
    assert seen == []  # the agent is not told of an event that is not on disk
    assert peer.send("lock_enforced", {}) == {"ok": True}


def test_stop_closes_connected_sessions_and_removes_the_socket(socket_path: Path) -> None:
    srv = SessionChannelServer(socket_path, RecordingSink())
    srv.start()
    p = Peer(socket_path)
    assert p.send("lock_posture", {}) == {"ok": True}
    srv.stop()
    assert p.reader.readline() == b""  # the session sees the agent hang up
    p.close()
    assert not socket_path.exists()
    assert srv.connected == 0


def test_stop_after_a_failed_start_does_not_raise(socket_path: Path) -> None:
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    blocker = socket_path.parent / "a-file"
    blocker.write_text("not a directory")
    srv = SessionChannelServer(blocker / "session.sock", RecordingSink())
    with pytest.raises(OSError):
        srv.start()
    srv.stop()  # the runtime's shutdown goes on to stop everything else
    assert blocker.read_text() == "not a directory"


def test_start_replaces_a_stale_socket_file(socket_path: Path) -> None:
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.write_bytes(b"left over from a crash")
    srv = SessionChannelServer(socket_path, RecordingSink())
    srv.start()
    try:
        p = Peer(socket_path)
        assert p.send("lock_posture", {}) == {"ok": True}
        p.close()
    finally:
        srv.stop()


def test_the_client_delivers_in_order_and_flushes_on_stop(server, socket_path: Path) -> None:
    _, sink, _ = server
    client = SessionChannelClient(socket_path, retry_s=0.05)
    client.start()
    for i in range(5):
        client.emit("lock_posture", {"n": i})
    client.emit("lock_enforced", {})
    client.stop(flush_s=WAIT_S)
    assert [b.get("n") for _, b in sink.events] == [0, 1, 2, 3, 4, None]
    assert client.delivered == 6


def test_the_client_keeps_events_until_the_agent_is_listening(socket_path: Path) -> None:
    sink = RecordingSink()
    client = SessionChannelClient(socket_path, retry_s=0.05)
    client.start()
    client.emit("lock_failed", {"reason": "no-locker"})  # the system agent is not up yet
    srv = SessionChannelServer(socket_path, sink)
    srv.start()
    try:
        sink.wait_for(1)
        assert sink.events == [("lock_failed", {"reason": "no-locker"})]
    finally:
        client.stop(flush_s=WAIT_S)
        srv.stop()


def test_a_full_client_queue_drops_a_posture_report_before_anything_else(socket_path: Path) -> None:
    client = SessionChannelClient(socket_path, max_queued=3)  # never started: the queue only fills
    client.emit("lock_enforced", {"n": 1})
    client.emit("lock_posture", {"n": 2})
    client.emit("lock_failed", {"n": 3})
    client.emit("lock_enforced", {"n": 4})
    assert client.dropped == 1
    assert [b["n"] for _, b in client._queue] == [1, 3, 4]
