"""Portable devices: destinations the agent can see but cannot inspect.

A phone, camera or media player attached over MTP or PTP (Windows Portable Devices) has no drive
letter and no file system the agent can watch: files dragged onto it in Explorer go through the
device's own protocol. The agent cannot judge them, so IG hears that such a device was attached
(an ``uninspectable_destination`` event) and when it went.

A *portable device source* (one per OS; Windows only today, :mod:`agent.egress.portable_windows`)
lists the devices attached now. ``PortableDeviceMonitor`` turns successive lists into
``on_attached`` / ``on_detached`` calls, like ``VolumeMonitor`` does for volumes. Nothing here
does I/O itself; the friendly name an owner gave their phone ("Sam's phone") never leaves this
module: events carry the model, the manufacturer's name, the bus and a keyed hash of the serial.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from agent.egress.model import DESTINATION_CLASS_PORTABLE_DEVICE, serial_hmac
from agent.errors import AgentError

log = logging.getLogger(__name__)

KIND_MTP = "mtp"
KIND_PTP = "ptp"
KIND_WPD = "wpd"  # a portable device of another protocol (e.g. MTP over Bluetooth or IP)
REASON_NO_FILE_SYSTEM = "no-file-system"
DEFAULT_POLL_INTERVAL_S = 5.0


@dataclass(frozen=True)
class PortableDevice:
    """One attached portable device as a source sees it.

    ``instance_id`` is the OS's device instance id (``USB\\VID_04E8&PID_6860&MS_COMP_MTP...``); it names
    the device across snapshots and never leaves the laptop. ``serial`` is the USB serial where the
    instance id carries one, else "". ``model`` and ``manufacturer`` come from the driver.
    """

    instance_id: str
    kind: str
    model: str
    manufacturer: str
    bus: str
    serial: str = ""

    def event_body(self, serial_key: bytes, *, attached: bool) -> dict[str, Any]:
        """The ``UninspectableDestination`` body for this device (events.proto)."""
        return {
            "destination_class": DESTINATION_CLASS_PORTABLE_DEVICE,
            "destination_kind": self.kind,
            "identity": {
                "label": " ".join(p for p in (self.manufacturer, self.model) if p),
                "filesystem": "",
                "size_bytes": 0,
                "bus": self.bus,
                "serial_hmac": serial_hmac(serial_key, self.serial),
                "removable_flag": True,
                "mount_point": "",
            },
            "reason": REASON_NO_FILE_SYSTEM,
            "attached": attached,
        }


class PortableQueryFailed(AgentError, OSError):
    """The OS could not be asked for its portable devices; ``str()`` is a short reason code, never output."""


class PortableDeviceSource(Protocol):
    """Where the portable devices attached right now come from."""

    def snapshot(self) -> frozenset[PortableDevice]:
        """The devices attached now. Raises ``OSError`` when the OS cannot be asked."""
        ...

    def wait_for_change(self, stop: threading.Event, timeout: float) -> None:
        """Block until devices may have come or gone, ``timeout`` passes or ``stop`` is set."""
        ...


class PortableDeviceMonitor:
    """Reports portable devices as they are attached and detached.

    The first snapshot reports every device already attached. A failed snapshot reports nothing
    (a failure is not a detach) and calls ``on_failure`` once with the error, then once with None
    when snapshots work again. Callbacks run on the monitor's thread; one that raises is logged.
    """

    def __init__(
        self,
        source: PortableDeviceSource,
        on_attached: Callable[[PortableDevice], None],
        on_detached: Callable[[PortableDevice], None],
        *,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        stop_event: threading.Event | None = None,
        on_failure: Callable[[OSError | None], None] | None = None,
    ) -> None:
        self._source = source
        self._on_attached = on_attached
        self._on_detached = on_detached
        self._on_failure = on_failure
        self._poll_interval_s = poll_interval_s
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._current: frozenset[PortableDevice] = frozenset()
        self._failing = False
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> frozenset[PortableDevice]:
        """The devices the last successful snapshot saw."""
        return self._current

    def poll_once(self) -> tuple[tuple[PortableDevice, ...], tuple[PortableDevice, ...]]:
        """Take a snapshot and report what was attached and detached since the last one."""
        try:
            new = self._source.snapshot()
        except OSError as exc:
            if not self._failing:
                log.warning("portable device snapshot failed (%s); keeping the previous view", type(exc).__name__)
                self._report_failure(exc)
            self._failing = True
            return (), ()
        if self._failing:
            log.info("portable device snapshots work again")
            self._report_failure(None)
        self._failing = False
        attached = tuple(sorted(new - self._current, key=lambda d: d.instance_id))
        detached = tuple(sorted(self._current - new, key=lambda d: d.instance_id))
        self._current = new
        for device in detached:
            self._call(self._on_detached, device)
        for device in attached:
            self._call(self._on_attached, device)
        if attached or detached:
            log.info("portable devices: %d attached, %d detached, %d present", len(attached), len(detached), len(new))
        return attached, detached

    def start(self) -> None:
        """Run the monitor on a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("PortableDeviceMonitor already started")
        self._thread = threading.Thread(target=self._run, name="caseguard-portable-devices", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Signal the thread to stop and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._source.wait_for_change(self._stop, self._poll_interval_s)

    def _report_failure(self, exc: OSError | None) -> None:
        if self._on_failure is None:
            return
        try:
            self._on_failure(exc)
        except Exception:
            log.exception("portable device monitor: on_failure callback failed")

    @staticmethod
    def _call(callback: Callable[[PortableDevice], None], device: PortableDevice) -> None:
        try:
            callback(device)
        except Exception:
            log.exception("portable device monitor: callback failed")
