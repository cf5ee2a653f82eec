"""Idle time from the X server's MIT-SCREEN-SAVER extension (python-xlib).

The server counts milliseconds since the last input event itself, so no input hook is
needed and nothing about the input is seen. If the server goes away the next query raises
an Xlib connection error, which becomes ``IdleClockLost("x-server-gone")``.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from agent.lock.idle import IdleClockLost

log = logging.getLogger(__name__)


def open_display(name: str | None) -> Any:
    """An Xlib display connection to ``name`` (``None``: ``$DISPLAY``), leaking nothing on failure."""
    from Xlib import display as xdisplay

    try:
        return xdisplay.Display(name)
    except Exception as exc:
        _close_dropped_sockets(exc)
        raise


def _close_dropped_sockets(exc: BaseException) -> None:
    """Close the sockets python-xlib made but could not connect.

    ``Xlib.support.unix_connect`` creates a socket, calls ``connect`` and lets the error propagate
    without closing it (first the Unix socket, then TCP). While the agent retries a display that has
    gone away, each attempt would leave two descriptors to the garbage collector. They are still
    reachable from the traceback's frames, so close them there.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        pending += [current.__context__, current.__cause__]  # Xlib re-raises as DisplayConnectionError
        tb = current.__traceback__
        while tb is not None:
            for value in list(tb.tb_frame.f_locals.values()):
                if isinstance(value, socket.socket):
                    value.close()
            tb = tb.tb_next


class X11IdleSource:
    """Reads ``root.screensaver_query_info().idle`` (ms) from one X display."""

    name = "x11-screensaver"

    def __init__(self, display: str | None = None, open_display: Callable[[str | None], Any] = open_display) -> None:
        """Connect to ``display`` (None: $DISPLAY); raises ``IdleClockLost`` if that fails."""
        self._closed = False
        try:
            self._display = open_display(display)
        except ImportError as exc:
            raise IdleClockLost("xlib-missing", str(exc)) from exc
        except Exception as exc:  # Xlib raises its own DisplayError family and OSError
            raise IdleClockLost("no-x-display", type(exc).__name__) from exc
        if not self._display.has_extension("MIT-SCREEN-SAVER"):
            self.close()
            raise IdleClockLost("no-screensaver-extension")
        self._root = self._display.screen().root

    def idle_seconds(self) -> float:
        """Seconds since the last input the X server saw."""
        if self._closed:
            raise IdleClockLost("closed")
        try:
            info = self._root.screensaver_query_info()
        except Exception as exc:  # ConnectionClosedError, XError, OSError on a dead socket
            self.close()
            raise IdleClockLost("x-server-gone", type(exc).__name__) from exc
        return float(info.idle) / 1000.0

    def close(self) -> None:
        """Close the display connection; safe to call twice or after the server died."""
        self._closed = True
        try:
            self._display.close()
        except Exception:  # the server is gone: close our end of the socket ourselves
            log.debug("closing a dead X display", exc_info=True)
            sock = getattr(getattr(self._display, "display", None), "socket", None)
            if sock is not None:
                sock.close()
