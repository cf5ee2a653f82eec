"""Phones and cameras over MTP: parsed from captured Win32_PnPEntity rows, reported as uninspectable."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from agent.egress.portable_devices import PortableDevice, PortableDeviceMonitor, PortableQueryFailed
from agent.egress.portable_windows import WindowsPortableSource, parse_pnp_json
from agent.posture.commands import CommandResult

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "egress" / "win32_pnpentity_wpd.json.txt"
KEY = b"k" * 32


def _captured() -> str:
    return "\n".join(ln for ln in FIXTURE.read_text(encoding="utf-8").splitlines() if not ln.startswith("#"))


def test_the_phone_is_seen_and_the_sticks_wpd_twin_is_left_to_the_volume_source() -> None:
    [phone] = parse_pnp_json(_captured())
    assert (phone.kind, phone.model, phone.manufacturer, phone.bus) == ("mtp", "SM-S948U", "samsung", "usb")
    assert phone.serial == ""  # the MTP child's instance id carries a generated id, not the serial


def test_one_row_is_an_object_and_no_rows_is_no_output() -> None:
    rows = json.loads(_captured())
    assert len(parse_pnp_json(json.dumps(rows[0]))) == 1
    assert parse_pnp_json("") == frozenset()
    assert parse_pnp_json(json.dumps({**rows[0], "Present": False})) == frozenset()


def test_the_owners_name_for_the_phone_never_reaches_the_event() -> None:
    [phone] = parse_pnp_json(_captured())
    body = phone.event_body(KEY, attached=True)
    assert "Testperson" not in json.dumps(body)
    assert body["destination_class"] == "DESTINATION_CLASS_PORTABLE_DEVICE"
    assert body["identity"]["label"] == "samsung SM-S948U" and body["reason"] == "no-file-system"


def test_a_usb_serial_in_the_instance_id_is_hashed_not_sent() -> None:
    row = {"Description": "Cam", "PNPDeviceID": "USB\\VID_054C&PID_0994\\D1A2B3C4", "Service": "WUDFWpdMtp"}
    [cam] = parse_pnp_json(json.dumps(row))
    assert cam.serial == "D1A2B3C4"
    assert "D1A2B3C4" not in json.dumps(cam.event_body(KEY, attached=True))


def _runner(outputs: list[CommandResult]):
    def run(argv, timeout_s=5.0):
        return outputs.pop(0)

    return run


def test_powershell_failing_is_reported_once_then_its_recovery() -> None:
    ok = CommandResult(("powershell.exe",), 0, _captured())
    source = WindowsPortableSource(
        runner=_runner([CommandResult(("powershell.exe",), 127), CommandResult(("powershell.exe",), 1),
                        ok, CommandResult(("powershell.exe",), 0, "")]),
        notify=False,
    )
    attached: list[PortableDevice] = []
    detached: list[PortableDevice] = []
    failures: list[str | None] = []
    monitor = PortableDeviceMonitor(source, attached.append, detached.append,
                                    on_failure=lambda e: failures.append(None if e is None else str(e)))
    monitor.poll_once()
    monitor.poll_once()
    assert failures == ["powershell-exit-127"] and not attached
    monitor.poll_once()
    assert failures == ["powershell-exit-127", None]
    assert [d.model for d in attached] == ["SM-S948U"]
    monitor.poll_once()  # unplugged
    assert [d.model for d in detached] == ["SM-S948U"]


def test_unreadable_output_is_a_query_failure_not_a_crash() -> None:
    source = WindowsPortableSource(runner=_runner([CommandResult(("powershell.exe",), 0, "Get-CimInstance : ...")]),
                                   notify=False)
    with pytest.raises(PortableQueryFailed, match="unreadable-output"):
        source.snapshot()
    stop = threading.Event()
    stop.set()
    source.wait_for_change(stop, 0.1)
