"""Windows portable devices (MTP/PTP phones, cameras, players): the CIM query and its parser.

The devices are the ``Win32_PnPEntity`` rows of setup class WPD, read through PowerShell with
``ConvertTo-Json`` (property names and values are not localised, unlike ``Get-PnpDevice``'s table).
Windows also makes a WPD node for every USB mass-storage volume (``SWD\\WPDBUSENUM\\_??_USBSTOR#...``,
service ``WUDFWpdFs``): that one has a drive letter, the volume source already watches it, so it is
left out here. What is left has no file system the agent can watch.

:func:`parse_pnp_json` is pure and is fed captured output in the tests; ``WindowsPortableSource`` runs
the query (a few hundred milliseconds) when ``WM_DEVICECHANGE`` for the WPD interface says something
changed, and at least every poll interval. It has not run on a real Windows machine.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

from agent.egress.model import BUS_UNKNOWN, BUS_USB
from agent.egress.portable_devices import KIND_MTP, KIND_WPD, PortableDevice, PortableQueryFailed
from agent.egress.volumes_windows import ChangeSignal, device_change_signal
from agent.posture.commands import CommandRunner, run_command

log = logging.getLogger(__name__)

PNP_SCRIPT = (
    "Get-CimInstance -ClassName Win32_PnPEntity -Filter \"PNPClass='WPD'\" | "
    "Select-Object Name,Description,Manufacturer,PNPDeviceID,Service,Status,Present | ConvertTo-Json -Compress"
)
BUS_BLUETOOTH = "bluetooth"
# Driver services of WPD nodes that stand for a mass-storage volume (it has a drive letter).
_VOLUME_SERVICES = frozenset({"wudfwpdfs"})
_VOLUME_ID_MARKERS = ("USBSTOR#", "STORAGE#VOLUME", "SCSI#DISK")
_USB_SERIAL = re.compile(r"^USB\\VID_[0-9A-F]{4}&PID_[0-9A-F]{4}\\(?P<serial>[^\\&]+)$", re.IGNORECASE)


def _text(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    return value.strip() if isinstance(value, str) else ""


def _bus(instance_id: str) -> str:
    upper = instance_id.upper()
    if upper.startswith("USB\\"):
        return BUS_USB
    if upper.startswith(("BTHENUM\\", "BTHLEDEVICE\\", "BTHMTPENUM\\")):
        return BUS_BLUETOOTH
    return BUS_UNKNOWN


def device_from_row(row: dict[str, Any]) -> PortableDevice | None:
    """The uninspectable portable device one ``Win32_PnPEntity`` row describes, or None.

    None for a row that is not attached (``Present`` false), for the WPD twin of a mass-storage
    volume, and for a row without an instance id.
    """
    instance_id = _text(row, "PNPDeviceID")
    if not instance_id or row.get("Present") is False:
        return None
    service = _text(row, "Service").lower()
    if service in _VOLUME_SERVICES or any(m in instance_id.upper() for m in _VOLUME_ID_MARKERS):
        return None
    is_mtp = service == "wudfwpdmtp" or "MS_COMP_MTP" in instance_id.upper()
    serial = _USB_SERIAL.match(instance_id)
    return PortableDevice(
        instance_id=instance_id,
        kind=KIND_MTP if is_mtp else KIND_WPD,
        # Description is the model the driver read from the device ("SM-S948U"); Name is the
        # friendly name, which owners set to their own names ("Sam's S26"): never used.
        model=_text(row, "Description"),
        manufacturer=_text(row, "Manufacturer"),
        bus=_bus(instance_id),
        serial=serial.group("serial") if serial else "",
    )


def parse_pnp_json(text: str) -> frozenset[PortableDevice]:
    """The uninspectable portable devices in ``ConvertTo-Json`` output of ``PNP_SCRIPT``.

    ``ConvertTo-Json`` writes nothing for no rows, an object for one and an array for several.
    Raises ``ValueError`` for output that is not that JSON.
    """
    if not text.strip():
        return frozenset()
    data = json.loads(text)
    rows = data if isinstance(data, list) else [data]
    if not all(isinstance(r, dict) for r in rows):
        raise ValueError("Win32_PnPEntity JSON: expected objects")
    return frozenset(d for d in map(device_from_row, rows) if d is not None)


class WindowsPortableSource:
    """Snapshots of the attached MTP/PTP devices, woken by ``WM_DEVICECHANGE`` for WPD, else polled."""

    def __init__(
        self,
        *,
        runner: CommandRunner = run_command,
        changes: ChangeSignal | None = None,
        notify: bool = True,
        timeout_s: float = 30.0,
    ) -> None:
        self._runner = runner
        self._timeout_s = timeout_s
        self._changes = changes if changes is not None else (device_change_signal("wpd") if notify else None)

    def snapshot(self) -> frozenset[PortableDevice]:
        """The devices attached now; raises ``PortableQueryFailed`` when PowerShell gives no answer."""
        argv = ("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", PNP_SCRIPT)
        result = self._runner(argv, self._timeout_s)
        if not result.ok:
            raise PortableQueryFailed(f"powershell-exit-{result.returncode}")
        try:
            return parse_pnp_json(result.stdout)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise PortableQueryFailed("unreadable-output") from exc

    def wait_for_change(self, stop: threading.Event, timeout: float) -> None:
        """Until a WPD device arrives or leaves, ``timeout`` passes or ``stop`` is set."""
        changed = self._changes.changed if self._changes is not None else None
        if changed is None:
            stop.wait(timeout)
            return
        waited = 0.0
        while waited < timeout and not stop.is_set():
            slice_s = min(0.5, timeout - waited)
            if changed.wait(slice_s):
                changed.clear()
                return
            waited += slice_s
