"""The channel between the per-user session component and the system agent.

Reading idle time and locking must happen inside the user's graphical session, but the
outbox, the device key and the transport belong to the system agent. The session component
(`caseguard-agent session`, started with the graphical session) sends its events over a local
channel (a Unix socket, or a named pipe on Windows: :mod:`agent.session_transport`, chosen
once at start); the system agent commits each one to the outbox before replying, so an
acknowledged event is as durable as any other.

Only lock and coverage kinds are accepted on this channel: a user process cannot forge
egress or lost-device events. The peer (uid, or pid on Windows) is logged, never trusted for more.
Wire format: one JSON object a line each way, ``{"kind": ..., "body": {...}}`` then
``{"ok": true}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import collections
import json
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.events import EventSink
from agent.session_transport import (
    ChannelConnection,
    ChannelListener,
    ChannelTransport,
    SessionChannelUnavailable,
    channel_transport,
)

log = logging.getLogger(__name__)

SESSION_KINDS = frozenset({"lock_enforced", "lock_failed", "lock_posture", "coverage_degraded"})
MAX_LINE = 64 * 1024
ACCEPT_SLICE_S = 0.5

__all__ = ["SESSION_KINDS", "SessionChannelClient", "SessionChannelServer", "SessionChannelUnavailable"]


class SessionChannelServer:
    """Listens on the local channel and commits session events to the agent's sink."""

    def __init__(
        self,
        path: Path,
        sink: EventSink,
        on_event: Callable[[str, Mapping[str, Any]], None] | None = None,
        *,
        platform: str = sys.platform,
        transport: ChannelTransport | None = None,
    ) -> None:
        self._transport = transport if transport is not None else channel_transport(path, platform=platform)
        self._sink = sink
        self._on_event = on_event
        self._stop = threading.Event()
        self._listener: ChannelListener | None = None
        self._thread = threading.Thread(target=self._accept_loop, name="caseguard-session-channel", daemon=True)
        self._clients: set[ChannelConnection] = set()
        self._lock = threading.Lock()
        self.connected = 0

    @property
    def address(self) -> str:
        """Where session components connect (socket path or pipe name)."""
        return self._transport.address

    def start(self) -> None:
        """Listen (replacing a stale socket) and start accepting; raises ``SessionChannelUnavailable``."""
        try:
            self._listener = self._transport.listen()
        except SessionChannelUnavailable:
            raise
        except Exception as exc:  # whatever the OS layer raised, callers catch one thing
            raise SessionChannelUnavailable(f"cannot listen on {self.address}: {type(exc).__name__}: {exc}") from exc
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and close every connection."""
        self._stop.set()
        with self._lock:
            for c in self._clients:
                c.interrupt()
        if self._thread.is_alive():  # start() may have failed before the thread began
            self._thread.join(timeout=5)
        if self._listener is not None:  # only a listener we made is ours to close (and its socket to remove)
            self._listener.close()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn = self._listener.accept(ACCEPT_SLICE_S)
            except OSError:
                if not self._stop.is_set():
                    log.exception("session channel: accept failed")
                return
            if conn is None:
                continue
            threading.Thread(target=self._serve, args=(conn,), name="caseguard-session-peer", daemon=True).start()

    def _serve(self, conn: ChannelConnection) -> None:
        log.info("session component connected (%s)", conn.peer)
        with self._lock:
            self._clients.add(conn)
            self.connected += 1
        try:
            while not self._stop.is_set():
                line = conn.readline(MAX_LINE + 1)
                if not line:
                    return
                reply = self._handle(line)
                while line and not line.endswith(b"\n"):  # drop a long line's rest: one reply per line
                    line = conn.readline(MAX_LINE + 1)
                conn.send(json.dumps(reply).encode() + b"\n")
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(conn)
                self.connected -= 1
            conn.close()
            log.info("session component disconnected (%s)", conn.peer)

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

    def __init__(
        self,
        path: Path,
        max_queued: int = 1000,
        retry_s: float = 1.0,
        *,
        platform: str = sys.platform,
        transport: ChannelTransport | None = None,
    ) -> None:
        self._transport = transport if transport is not None else channel_transport(path, platform=platform)
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
        conn: ChannelConnection | None = None
        while not self._stop.is_set():
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._stop.is_set(), timeout=1.0)
                if not self._queue:
                    continue
                kind, body = self._queue[0]
            try:
                if conn is None:
                    conn = self._transport.connect(10.0)
                conn.send(json.dumps({"kind": kind, "body": body}).encode() + b"\n")
                reply = json.loads(conn.readline(MAX_LINE) or b"{}")
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

