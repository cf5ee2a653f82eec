"""The session channel on every OS: a real Unix socket here, the named-pipe choice for Windows,
and a clear ``SessionChannelUnavailable`` (never an AttributeError) where the OS cannot serve it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path, PureWindowsPath

import pytest

from agent.session_channel import SessionChannelClient, SessionChannelServer, SessionChannelUnavailable
from agent.session_transport import channel_transport, pipe_name_for
from agent.session_transport.unix import UnixSocketTransport
from agent.session_transport.windows import PIPE_SDDL, NamedPipeTransport
from tests.unit.lock.fakes import RecordingSink


@pytest.fixture
def sock_path(tmp_path: Path) -> Iterator[Path]:
    # Unix socket paths are limited to ~108 bytes; pytest's tmp paths can be longer.
    path = Path("/tmp") / f"cg-test-{abs(hash(str(tmp_path))) % 10**10}.sock"
    yield path
    path.unlink(missing_ok=True)


def _wait(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_events_travel_over_a_real_unix_socket_and_only_session_kinds_are_accepted(sock_path: Path):
    sink = RecordingSink()
    server = SessionChannelServer(sock_path, sink, platform="linux")
    server.start()
    client = SessionChannelClient(sock_path, retry_s=0.05, platform="linux")
    client.start()
    try:
        client.emit("lock_enforced", {"idle_s": 300})
        client.emit("case_file_egress", {"forged": True})  # a user process must not forge egress
        _wait(lambda: client.delivered == 1 and not client._queue)
        assert sink.events == [("lock_enforced", {"idle_s": 300})]
        assert server.address == str(sock_path)
    finally:
        client.stop()
        server.stop()
    assert not sock_path.exists()


def test_without_af_unix_listening_fails_as_session_channel_unavailable(sock_path, monkeypatch):
    # CPython on Windows has no socket.AF_UNIX: the old code let an AttributeError escape.
    monkeypatch.delattr(socket, "AF_UNIX")
    server = SessionChannelServer(sock_path, RecordingSink(), platform="linux")
    with pytest.raises(SessionChannelUnavailable, match="AF_UNIX"):
        server.start()
    server.stop()  # stopping a server that never started is fine
    with pytest.raises(OSError):  # one thing for callers to catch: it is an OSError
        UnixSocketTransport(sock_path).connect(1.0)


def test_the_client_without_af_unix_keeps_its_events_and_retries(sock_path, monkeypatch):
    monkeypatch.delattr(socket, "AF_UNIX")
    client = SessionChannelClient(sock_path, retry_s=0.05, platform="linux")
    client.start()
    try:
        client.emit("lock_failed", {"reason": "x"})
        time.sleep(0.3)
        assert client._thread.is_alive() and client.delivered == 0 and len(client._queue) == 1
    finally:
        client.stop(flush_s=0.1)


def test_windows_is_served_by_a_named_pipe_chosen_once():
    transport = channel_transport(Path("/run/caseguard-agent/session.sock"), platform="win32")
    assert isinstance(transport, NamedPipeTransport)
    assert transport.address == r"\\.\pipe\caseguard-agent-session"
    assert isinstance(channel_transport(Path("/run/x.sock"), platform="darwin"), UnixSocketTransport)
    server = SessionChannelServer(Path("/run/caseguard-agent/session.sock"), RecordingSink(), platform="win32")
    with pytest.raises(SessionChannelUnavailable, match="only on Windows"):  # this box is not Windows
        server.start()


@pytest.mark.parametrize(
    ("configured", "pipe"),
    [
        ("/run/caseguard-agent/session.sock", r"\\.\pipe\caseguard-agent-session"),
        (r"\\.\pipe\caseguard-session", r"\\.\pipe\caseguard-session"),
        (PureWindowsPath(r"\\.\pipe\caseguard-session"), r"\\.\pipe\caseguard-session"),  # str() adds a "\"
        ("//./pipe/custom", r"\\.\pipe\custom"),
        (r"C:\ProgramData\Caseguard\agent.sock", r"\\.\pipe\caseguard-agent-agent"),
    ],
)
def test_pipe_names(configured, pipe):
    assert pipe_name_for(configured) == pipe


def test_pipe_acl_lets_in_system_admins_and_interactive_users_only():
    aces = PIPE_SDDL.removeprefix("D:P").strip("()").split(")(")
    by_trustee = {ace.split(";")[-1]: ace for ace in aces}
    assert set(by_trustee) == {"NU", "SY", "BA", "IU"}
    assert by_trustee["NU"].startswith("D;")  # network logons denied
    assert by_trustee["SY"] == "A;;GA;;;SY" and by_trustee["BA"] == "A;;GA;;;BA"
    rights = int(by_trustee["IU"].split(";")[2], 16)
    assert rights & 0x1 and rights & 0x2  # FILE_READ_DATA, FILE_WRITE_DATA
    assert not rights & 0x4  # FILE_CREATE_PIPE_INSTANCE: users cannot squat on our pipe
    assert not rights & 0x10000000  # no GENERIC_ALL
