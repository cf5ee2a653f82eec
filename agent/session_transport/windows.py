r"""The session channel over a Windows named pipe (``\\.\pipe\caseguard-agent-session``), via ctypes.

CPython on Windows has no ``AF_UNIX``; a named pipe is the local IPC every Windows service uses.
The pipe is created with a security descriptor (:data:`PIPE_SDDL`) that lets in:

* SYSTEM and the Administrators group (full control), and
* interactively signed-in users (``IU``: the console and Remote Desktop sessions) with read and
  write data only: not ``FILE_CREATE_PIPE_INSTANCE``, so a user process cannot add an instance
  of our pipe and impersonate the agent to other users' sessions;

and denies network logons (``NU``); the pipe also rejects remote clients outright. The first
instance is created with ``FILE_FLAG_FIRST_PIPE_INSTANCE``, so if someone created the name first
(pipe squatting) listening fails loudly instead of sharing it.

The pure parts (the SDDL, pipe names) are tested on every OS; the ctypes calls are typed with
``sys.platform == "win32"`` guards so ``mypy --platform win32`` checks them, and run only on
Windows. Off Windows, ``listen``/``connect`` raise ``SessionChannelUnavailable``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
from typing import Any

from agent.session_transport import SessionChannelUnavailable

log = logging.getLogger(__name__)

# SYSTEM and Administrators: full control; interactive users: FILE_GENERIC_READ | FILE_GENERIC_WRITE
# without FILE_APPEND_DATA (= FILE_CREATE_PIPE_INSTANCE on pipes); network logons denied.
PIPE_SDDL = "D:P(D;;GA;;;NU)(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12019b;;;IU)"
BUFFER_BYTES = 64 * 1024

PIPE_ACCESS_DUPLEX = 0x00000003
FILE_FLAG_FIRST_PIPE_INSTANCE = 0x00080000
PIPE_TYPE_BYTE = 0x00000000
PIPE_READMODE_BYTE = 0x00000000
PIPE_WAIT = 0x00000000
PIPE_REJECT_REMOTE_CLIENTS = 0x00000008
PIPE_UNLIMITED_INSTANCES = 255
ERROR_PIPE_CONNECTED = 535
ERROR_BROKEN_PIPE = 109
ERROR_OPERATION_ABORTED = 995
ERROR_MORE_DATA = 234
SDDL_REVISION_1 = 1
INVALID_HANDLE_VALUE = -1


def _not_windows() -> SessionChannelUnavailable:
    return SessionChannelUnavailable("named pipes exist only on Windows")


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)

    class _SecurityAttributes(ctypes.Structure):
        _fields_ = [
            ("nLength", wintypes.DWORD),
            ("lpSecurityDescriptor", wintypes.LPVOID),
            ("bInheritHandle", wintypes.BOOL),
        ]

    _kernel32.CreateNamedPipeW.restype = wintypes.HANDLE
    _kernel32.CreateNamedPipeW.argtypes = [
        wintypes.LPCWSTR,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.DWORD,
        ctypes.POINTER(_SecurityAttributes),
    ]
    _kernel32.ConnectNamedPipe.restype = wintypes.BOOL
    _kernel32.ConnectNamedPipe.argtypes = [wintypes.HANDLE, wintypes.LPVOID]
    _kernel32.DisconnectNamedPipe.argtypes = [wintypes.HANDLE]
    _kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    _kernel32.CancelIoEx.argtypes = [wintypes.HANDLE, wintypes.LPVOID]
    _kernel32.ReadFile.restype = wintypes.BOOL
    _kernel32.ReadFile.argtypes = [
        wintypes.HANDLE,
        wintypes.LPVOID,
        wintypes.DWORD,
        ctypes.POINTER(wintypes.DWORD),
        wintypes.LPVOID,
    ]
    _kernel32.WriteFile.restype = wintypes.BOOL
    _kernel32.WriteFile.argtypes = [
        wintypes.HANDLE,
        wintypes.LPCVOID,
        wintypes.DWORD,
        ctypes.POINTER(wintypes.DWORD),
        wintypes.LPVOID,
    ]
    _kernel32.FlushFileBuffers.argtypes = [wintypes.HANDLE]
    _kernel32.GetNamedPipeClientProcessId.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.ULONG)]
    _kernel32.LocalFree.argtypes = [wintypes.HLOCAL]
    _advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW.restype = wintypes.BOOL
    _advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW.argtypes = [
        wintypes.LPCWSTR,
        wintypes.DWORD,
        ctypes.POINTER(wintypes.LPVOID),
        ctypes.POINTER(wintypes.ULONG),
    ]

    def _error(what: str) -> SessionChannelUnavailable:
        code = ctypes.get_last_error()
        return SessionChannelUnavailable(f"{what} failed: {ctypes.FormatError(code).strip()} (error {code})")

    class _PipeStream(io.RawIOBase):
        """A connected pipe handle as a raw binary stream (so ``io.BufferedReader`` reads lines)."""

        def __init__(self, handle: int) -> None:
            super().__init__()
            self.handle = handle

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            size = len(buffer)
            chunk = (ctypes.c_char * size).from_buffer(buffer)
            got = wintypes.DWORD(0)
            if not _kernel32.ReadFile(self.handle, chunk, size, ctypes.byref(got), None):
                code = ctypes.get_last_error()
                if code in (ERROR_BROKEN_PIPE, ERROR_OPERATION_ABORTED):
                    return 0  # the peer went away, or shutdown cancelled the read: end of stream
                if code != ERROR_MORE_DATA:
                    raise OSError(code, ctypes.FormatError(code).strip())
            return int(got.value)

        def write_all(self, data: bytes) -> None:
            view = memoryview(data)
            while view:
                written = wintypes.DWORD(0)
                if not _kernel32.WriteFile(self.handle, bytes(view), len(view), ctypes.byref(written), None):
                    code = ctypes.get_last_error()
                    raise OSError(code, ctypes.FormatError(code).strip())
                view = view[int(written.value) :]

    class PipeConnection:
        """The server end of one connected pipe instance."""

        def __init__(self, handle: int, peer: str) -> None:
            self._stream = _PipeStream(handle)
            self._reader = io.BufferedReader(self._stream, BUFFER_BYTES)
            self.peer = peer
            self._closed = False
            self._lock = threading.Lock()

        def readline(self, limit: int) -> bytes:
            """One line of at most ``limit`` bytes."""
            return self._reader.readline(limit)

        def send(self, data: bytes) -> None:
            """Write all of ``data``."""
            self._stream.write_all(data)

        def interrupt(self) -> None:
            """Cancel a blocked read (CancelIoEx covers synchronous reads on other threads)."""
            with self._lock:
                if not self._closed:
                    _kernel32.CancelIoEx(self._stream.handle, None)

        def close(self) -> None:
            """Flush, disconnect the client and close the instance."""
            with self._lock:
                if self._closed:
                    return
                self._closed = True
                handle = self._stream.handle
                _kernel32.FlushFileBuffers(handle)
                _kernel32.DisconnectNamedPipe(handle)
                _kernel32.CloseHandle(handle)

    class NamedPipeListener:
        """Creates one pipe instance at a time and waits for a client on it."""

        def __init__(self, name: str) -> None:
            self.address = name
            self._closed = threading.Event()
            self._descriptor = wintypes.LPVOID()
            if not _advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
                PIPE_SDDL, SDDL_REVISION_1, ctypes.byref(self._descriptor), None
            ):
                raise _error("building the pipe's security descriptor")
            self._attributes = _SecurityAttributes(ctypes.sizeof(_SecurityAttributes), self._descriptor, False)
            self._first = True
            self._pending = self._create()

        def _create(self) -> int:
            flags = PIPE_ACCESS_DUPLEX | (FILE_FLAG_FIRST_PIPE_INSTANCE if self._first else 0)
            handle = _kernel32.CreateNamedPipeW(
                self.address,
                flags,
                PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                PIPE_UNLIMITED_INSTANCES,
                BUFFER_BYTES,
                BUFFER_BYTES,
                0,
                ctypes.byref(self._attributes),
            )
            if handle is None or handle == INVALID_HANDLE_VALUE:
                raise _error(f"creating {self.address}")
            self._first = False
            return int(handle)

        def accept(self, timeout_s: float) -> PipeConnection | None:
            """Wait for the next client (ConnectNamedPipe blocks; ``close`` wakes it)."""
            if self._closed.is_set():
                return None
            handle = self._pending
            connected = _kernel32.ConnectNamedPipe(handle, None)
            if not connected and ctypes.get_last_error() != ERROR_PIPE_CONNECTED:
                if self._closed.is_set():
                    return None
                raise _error("ConnectNamedPipe")
            if self._closed.is_set():  # woken by close(): that was our own wake-up connection
                _kernel32.DisconnectNamedPipe(handle)
                _kernel32.CloseHandle(handle)
                return None
            self._pending = self._create()  # the next client waits on a fresh instance
            pid = wintypes.ULONG(0)
            peer = "pid unknown"
            if _kernel32.GetNamedPipeClientProcessId(handle, ctypes.byref(pid)):
                peer = f"pid {pid.value}"
            return PipeConnection(handle, peer)

        def close(self) -> None:
            """Stop accepting: wake a blocked ConnectNamedPipe by connecting to it ourselves."""
            if self._closed.is_set():
                return
            self._closed.set()
            with contextlib.suppress(OSError), open(self.address, "r+b", buffering=0):
                pass
            _kernel32.CancelIoEx(self._pending, None)
            _kernel32.LocalFree(self._descriptor)

    class _ClientConnection:
        """The session component's end: the pipe opened as a file."""

        def __init__(self, raw: Any) -> None:
            self._raw = raw
            self._reader = io.BufferedReader(raw, BUFFER_BYTES)
            self.peer = "system agent"

        def readline(self, limit: int) -> bytes:
            return self._reader.readline(limit)

        def send(self, data: bytes) -> None:
            self._raw.write(data)

        def interrupt(self) -> None:
            self.close()

        def close(self) -> None:
            with contextlib.suppress(OSError):
                self._raw.close()

    class NamedPipeTransport:
        """Listens and connects at one pipe name."""

        def __init__(self, name: str) -> None:
            self.address = name

        def listen(self) -> NamedPipeListener:
            """Create the first pipe instance (fails if the name is already taken)."""
            return NamedPipeListener(self.address)

        def connect(self, timeout_s: float) -> _ClientConnection:
            """Open the pipe; busy or absent pipes raise (the caller retries)."""
            try:
                raw = open(self.address, "r+b", buffering=0)  # noqa: SIM115 - owned by the connection
            except OSError as exc:
                raise SessionChannelUnavailable(f"cannot connect to {self.address}: {exc.strerror or exc}") from exc
            return _ClientConnection(raw)

else:

    class NamedPipeTransport:
        """Named pipes exist only on Windows: here ``listen`` and ``connect`` raise."""

        def __init__(self, name: str) -> None:
            self.address = name

        def listen(self) -> Any:
            """Raises ``SessionChannelUnavailable``."""
            raise _not_windows()

        def connect(self, timeout_s: float) -> Any:
            """Raises ``SessionChannelUnavailable``."""
            raise _not_windows()
