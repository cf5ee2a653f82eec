"""An idle clock built from input activity, for desktops with no OS idle clock to ask.

pynput listeners call back on every mouse move, click, scroll and key press; the callback
stores only *when* it ran, never which key or where (the arguments are discarded unread).
pynput's listener threads die silently if the X server goes away, so every reading checks
that they are still alive and reports ``IdleClockLost("listener-died")`` otherwise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from agent.lock.idle import IdleClockLost
from agent.lock.idle_x11 import open_display

log = logging.getLogger(__name__)


class Listener(Protocol):
    """The part of a pynput listener (a thread) this module uses."""

    def start(self) -> None:
        """Start the listener thread."""
        ...

    def stop(self) -> None:
        """Ask the listener thread to stop."""
        ...

    def is_alive(self) -> bool:
        """Whether the listener thread is running."""
        ...


ListenerFactory = Callable[[Callable[..., None]], Sequence[Listener]]


def pynput_listeners(on_activity: Callable[..., None]) -> Sequence[Listener]:
    """A mouse and a keyboard listener that call ``on_activity`` (imports pynput lazily)."""
    # pynput probes the display at import with python-xlib and, when the server is gone, leaves
    # the probe's unconnected sockets to the garbage collector. Probe first with a connection
    # that closes them, so a restart after the X server died leaks no descriptors.
    try:
        open_display(None).close()
        from pynput import keyboard, mouse
    except ImportError as exc:  # pynput raises ImportError when it cannot reach a display
        raise IdleClockLost("pynput-unavailable", _first_line(exc)) from exc
    except Exception as exc:  # python-xlib's connection errors
        raise IdleClockLost("x-server-gone", _first_line(exc)) from exc
    listeners: list[Any] = [
        mouse.Listener(on_move=on_activity, on_click=on_activity, on_scroll=on_activity),
        keyboard.Listener(on_press=on_activity, on_release=on_activity),
    ]
    return listeners


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


class ActivityIdleSource:
    """Idle time as ``clock() - time of the last input callback`` (or of start-up)."""

    name = "pynput-activity"

    def __init__(
        self,
        listener_factory: ListenerFactory = pynput_listeners,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start the listeners; raises ``IdleClockLost`` if they cannot be made."""
        self._clock = clock
        self._last_activity = clock()
        self._closed = False
        self._listeners = list(listener_factory(self._on_activity))
        for listener in self._listeners:
            listener.start()

    def _on_activity(self, *_ignored: Any) -> None:
        # The arguments (key, coordinates, buttons) are deliberately never looked at.
        self._last_activity = self._clock()

    def idle_seconds(self) -> float:
        """Seconds since the last input callback; raises if a listener thread has died."""
        if self._closed:
            raise IdleClockLost("closed")
        if not all(listener.is_alive() for listener in self._listeners):
            self.close()
            raise IdleClockLost("listener-died")
        return max(0.0, self._clock() - self._last_activity)

    def close(self) -> None:
        """Stop the listeners (idempotent)."""
        self._closed = True
        for listener in self._listeners:
            try:
                listener.stop()
            except Exception:  # a listener whose X connection died may fail to stop cleanly
                log.debug("stopping a dead listener", exc_info=True)
