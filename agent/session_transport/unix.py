"""The session channel over a Unix socket (Linux, macOS).

The socket file is mode 0666: any local user's session component may report, and the kinds it
may send are restricted by the protocol. The peer's uid (``SO_PEERCRED`` where the OS has it)
is logged, never trusted for more.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from pathlib import Path
from typing import Any, BinaryIO

from agent.session_transport import SessionChannelUnavailable


def _unix_family() -> Any:
    """``socket.AF_UNIX``, or ``SessionChannelUnavailable`` on a Python built without it."""
    family = getattr(socket, "AF_UNIX", None)
    if family is None:
        raise SessionChannelUnavailable("this Python has no Unix sockets (socket.AF_UNIX)")
    return family


class UnixSocketConnection:
    """A connected Unix socket, read line by line."""

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self._sock = sock
        self._reader: BinaryIO = sock.makefile("rb")
        self.peer = peer

    def readline(self, limit: int) -> bytes:
        """One line of at most ``limit`` bytes."""
        return self._reader.readline(limit)

    def send(self, data: bytes) -> None:
        """Write all of ``data``."""
        self._sock.sendall(data)

    def interrupt(self) -> None:
        """Shut the socket down so a blocked read returns."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Close reader and socket."""
        with contextlib.suppress(OSError):
            self._reader.close()
        self._sock.close()


class UnixSocketListener:
    """A listening Unix socket at ``path``."""

    def __init__(self, path: Path, sock: socket.socket) -> None:
        self._path = path
        self._sock = sock
        self.address = str(path)

    def accept(self, timeout_s: float) -> UnixSocketConnection | None:
        """The next connection, or None after ``timeout_s``."""
        self._sock.settimeout(timeout_s)
        try:
            conn, _ = self._sock.accept()
        except TimeoutError:
            return None
        conn.settimeout(None)
        uid = _peer_uid(conn)
        return UnixSocketConnection(conn, f"uid {uid}" if uid is not None else "uid unknown")

    def close(self) -> None:
        """Close the socket and remove its file."""
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


class UnixSocketTransport:
    """Listens and connects at one socket path."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.address = str(path)

    def listen(self) -> UnixSocketListener:
        """Bind the socket (replacing a stale one) and listen."""
        family = _unix_family()
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.bind(str(self._path))
                os.chmod(self._path, 0o666)  # any local user's session may report; kinds are restricted
                sock.listen(16)
            except OSError:
                sock.close()
                raise
        except OSError as exc:
            raise SessionChannelUnavailable(f"cannot listen on {self._path}: {exc.strerror or exc}") from exc
        return UnixSocketListener(self._path, sock)

    def connect(self, timeout_s: float) -> UnixSocketConnection:
        """Connect to the system agent's socket."""
        family = _unix_family()
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout_s)
            sock.connect(str(self._path))
        except OSError as exc:
            sock.close()
            raise SessionChannelUnavailable(f"cannot connect to {self._path}: {exc.strerror or exc}") from exc
        return UnixSocketConnection(sock, "system agent")


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
