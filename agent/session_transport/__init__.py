"""The local transport under the session channel, chosen once at start: Unix socket or named pipe.

The session channel's protocol (:mod:`agent.session_channel`) only needs a listener that hands
out connections and a way for the session component to connect. Unix-like systems use a Unix
socket (:mod:`agent.session_transport.unix`); Windows uses a named pipe whose ACL lets only
SYSTEM, administrators and interactively signed-in users in (:mod:`agent.session_transport.windows`).

Every failure to listen or connect is a :class:`SessionChannelUnavailable` (an ``OSError``), so
callers have one thing to catch, whatever the OS said (including a CPython without ``AF_UNIX``).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path, PurePath
from typing import Protocol

from agent.errors import AgentError

log = logging.getLogger(__name__)

PIPE_PREFIX = "\\\\.\\pipe\\"


class SessionChannelUnavailable(AgentError, OSError):
    """The session channel cannot listen or connect on this machine (the reason is the message)."""


class ChannelConnection(Protocol):
    """One connected peer: a byte stream both ways."""

    peer: str

    def readline(self, limit: int) -> bytes:
        """One line (with its newline) of at most ``limit`` bytes; ``b""`` at end of stream."""
        ...

    def send(self, data: bytes) -> None:
        """Write all of ``data``."""
        ...

    def interrupt(self) -> None:
        """From another thread: make a blocked ``readline`` return (used at shutdown)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class ChannelListener(Protocol):
    """Where the system agent accepts session components."""

    address: str

    def accept(self, timeout_s: float) -> ChannelConnection | None:
        """The next connection, or None when ``timeout_s`` passed (or the listener was closed)."""
        ...

    def close(self) -> None:
        """Stop listening (wakes a blocked ``accept``) and remove what ``listen`` created."""
        ...


class ChannelTransport(Protocol):
    """One OS's way of making listeners and connections at one address."""

    address: str

    def listen(self) -> ChannelListener:
        """Start listening; raises ``SessionChannelUnavailable``."""
        ...

    def connect(self, timeout_s: float) -> ChannelConnection:
        """Connect to the system agent; raises ``SessionChannelUnavailable``."""
        ...


def pipe_name_for(configured: PurePath | str) -> str:
    r"""The named pipe for a configured ``session.socket``: itself if it names a pipe, else derived.

    ``\\.\pipe\caseguard-session`` stays as it is; a Unix-style path such as
    ``/run/caseguard-agent/session.sock`` becomes ``\\.\pipe\caseguard-agent-session``.
    """
    text = str(configured).replace("/", "\\")
    if text.lower().startswith(PIPE_PREFIX):
        name = text[len(PIPE_PREFIX) :].strip("\\")
        if name:
            return PIPE_PREFIX + name
    stem = PurePath(str(configured).replace("\\", "/")).stem or "session"
    return f"{PIPE_PREFIX}caseguard-agent-{stem}"


def channel_transport(configured: Path, *, platform: str = sys.platform) -> ChannelTransport:
    """The transport for ``platform`` at the configured address, chosen once at start.

    Constructing a transport never fails; ``listen``/``connect`` say whether it works here.
    """
    if platform == "win32":
        from agent.session_transport.windows import NamedPipeTransport

        return NamedPipeTransport(pipe_name_for(configured))
    from agent.session_transport.unix import UnixSocketTransport

    return UnixSocketTransport(configured)
