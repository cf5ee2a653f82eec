"""The channel between the per-user session component and the system agent.

Reading idle time and locking must happen inside the user's graphical session, but the
outbox, the device key and the transport belong to the system agent. The session component
(`caseguard-agent session`, started with the graphical session) sends its events over a
local Unix socket; the system agent commits each one to the outbox before replying, so an
acknowledged event is as durable as any other.

Only lock and coverage kinds are accepted on this channel: a user process cannot forge
egress or lost-device events. The peer's uid (SO_PEERCRED) is logged, never trusted for more.
Wire format: one JSON object a line each way, ``{"kind": ..., "body": {...}}`` then
``{"ok": true}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.events import EventSink

log = logging.getLogger(__name__)

SESSION_KINDS = frozenset({"lock_enforced", "lock_failed", "lock_posture", "coverage_degraded"})
MAX_LINE = 64 * 1024


class SessionChannelServer:
    """Listens on a Unix socket and commits session events to the agent's sink."""

    def __init__(
        self,
        path: Path,
        sink: EventSink,
        on_event: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self._path = path
        self._sink = sink
        self._on_event = on_event
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._thread = threading.Thread(target=self._accept_loop, name="caseguard-session-channel", daemon=True)
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.connected = 0

    def start(self) -> None:
        """Bind the socket (replacing a stale one) and start accepting."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self._path))
        os.chmod(self._path, 0o666)  # any local user's session may report; kinds are restricted
        listener.listen(16)
        listener.settimeout(0.5)
        self._listener = listener
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and close every connection."""
        self._stop.set()
        with self._lock:
            for c in self._clients:
                with contextlib.suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive():  # start() may have failed before the thread began
            self._thread.join(timeout=5)
        if self._listener is not None:  # only a socket we bound is ours to remove
            self._listener.close()
            with contextlib.suppress(OSError):
                self._path.unlink()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._stop.is_set():
                    log.exception("session channel: accept failed")
                return
            threading.Thread(target=self._serve, args=(conn,), name="caseguard-session-peer", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        uid = _peer_uid(conn)
        log.info("session component connected (uid %s)", uid)
        with self._lock:
            self._clients.add(conn)
            self.connected += 1
        try:
            with conn, conn.makefile("rb") as reader:
                while not self._stop.is_set():
                    line = reader.readline(MAX_LINE + 1)
                    if not line:
                        return
                    reply = self._handle(line)
                    while line and not line.endswith(b"\n"):  # drop a long line's rest: one reply per line
                        line = reader.readline(MAX_LINE + 1)
                    conn.sendall(json.dumps(reply).encode() + b"\n")
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(conn)
                self.connected -= 1
            log.info("session component disconnected (uid %s)", uid)

    def _handle(self, line: bytes) -> dict[str, Any]:
        if len(line) > MAX_LINE:
            return {"ok": False, "error": "line too long"}
        try:
            message = json.loads(line)
            kind, body = message["kind"], message["body"]
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": "expected {\"kind\": ..., \"body\": {...}}"}
        if kind not in SESSION_KINDS or not isinstance(body, dict):
            return {"ok": False, "error": f"kind {kind!r} is not accepted from a session"}
        try:
            self._sink.emit(kind, body)
        except Exception as exc:  # a bad body must not take the channel down
            log.warning("session channel: could not commit a %s event: %s", kind, type(exc).__name__)
            return {"ok": False, "error": f"not committed: {exc}"}
        if self._on_event is not None:
            self._on_event(kind, body)
        return {"ok": True}


class SessionChannelClient:
    """The session component's EventSink: forwards events to the system agent.

    ``emit`` never blocks the lock controller: events queue in memory (bounded; the oldest
    posture report goes first when full) and a thread delivers them, reconnecting with backoff.
    """

    def __init__(self, path: Path, max_queued: int = 1000, retry_s: float = 1.0) -> None:
        self._path = path
        self._queue: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._max = max_queued
        self._retry_s = retry_s
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caseguard-session-forwarder", daemon=True)
        self.delivered = 0
        self.dropped = 0

    def start(self) -> None:
        """Start forwarding."""
        self._thread.start()

    def stop(self, flush_s: float = 2.0) -> None:
        """Try to deliver what is queued for up to ``flush_s`` seconds, then stop."""
        with self._cond:
            self._cond.wait_for(lambda: not self._queue, timeout=flush_s)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def emit(self, kind: str, body: Mapping[str, Any]) -> None:
        """Queue one event for the system agent."""
        with self._cond:
            if len(self._queue) >= self._max:
                victim = next((i for i, (k, _) in enumerate(self._queue) if k == "lock_posture"), 0)
                del self._queue[victim]
                self.dropped += 1
            self._queue.append((kind, dict(body)))
            self._cond.notify_all()

    def _run(self) -> None:
        conn: socket.socket | None = None
        reader: Any = None
        while not self._stop.is_set():
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._stop.is_set(), timeout=1.0)
                if not self._queue:
                    continue
                kind, body = self._queue[0]
            try:
                if conn is None:
                    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    conn.settimeout(10)
                    conn.connect(str(self._path))
                    reader = conn.makefile("rb")
                conn.sendall(json.dumps({"kind": kind, "body": body}).encode() + b"\n")
                reply = json.loads(reader.readline() or b"{}")
            except (OSError, ValueError) as exc:
                log.warning("session: system agent unreachable (%s); retrying", type(exc).__name__)
                if conn is not None:
                    conn.close()
                conn = None
                self._stop.wait(self._retry_s)
                continue
            with self._cond:
                if self._queue and self._queue[0][0] == kind:
                    self._queue.popleft()
                self._cond.notify_all()
            if reply.get("ok"):
                self.delivered += 1
            else:
                log.error("session: the agent refused a %s event: %s", kind, reply.get("error"))
        if conn is not None:
            conn.close()


def _peer_uid(conn: socket.socket) -> int | None:
    so_peercred = getattr(socket, "SO_PEERCRED", None)
    if so_peercred is None:
        return None
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, so_peercred, struct.calcsize("3i"))
    except OSError:
        return None
    _, uid, _ = struct.unpack("3i", creds)
    return int(uid)
