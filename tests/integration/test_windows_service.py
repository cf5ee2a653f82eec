"""The Windows-service simulation: the real AgentRuntime and collector, with the platform set to
Windows, no AF_UNIX, a registry exported from a machine with three people and the LocalSystem
service's own environment. It must start, find each person's personal clouds (and a person who
signs in later), report the component that cannot start, and keep running."""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.config import EgressSettings
from agent.lock.notify import Notifier
from agent.policy.session_file import read_notices
from tests.integration.harness import PYTHON, Agent, Collector, run_cli, wait_for
from tests.unit.classify.documents import make_docx
from tests.unit.classify.synthetic import case_file_paragraphs
from tests.unit.egress.windows_machine import REG_EXPORT, SAM, WindowsMachine

PNP_CAPTURE = Path(__file__).resolve().parents[1] / "fixtures" / "egress" / "win32_pnpentity_wpd.json.txt"
# Stands in for powershell.exe: answers the portable-device CIM query from a file the test writes.
# Shows a toast by writing the -EncodedCommand it was given to $CASEGUARD_TEST_TOAST.
FAKE_POWERSHELL = """#!/bin/sh
case "$*" in *Win32_PnPEntity*) cat "$CASEGUARD_TEST_PNP" 2>/dev/null; exit 0;; esac
case "$*" in *-EncodedCommand*)
  for a in "$@"; do last="$a"; done; printf '%s\\n' "$last" >> "$CASEGUARD_TEST_TOAST"; exit 0;;
esac
exit 127
"""

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _events(collector: Collector, device: str, kind: str) -> list[dict[str, Any]]:
    out = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--device", device,
                  "--json", timeout=120).stdout
    return [e for e in map(json.loads, out.splitlines()) if e["kind"] == kind]


def _sign_in(reg: Path, sid: str, onedrive: str) -> None:
    """What Windows does at logon: the person's hive appears under HKEY_USERS."""
    escaped = onedrive.replace("\\", "\\\\")
    with reg.open("a", encoding="utf-8", newline="") as f:
        f.write(f"[HKEY_USERS\\{sid}\\Software\\Microsoft\\OneDrive\\Accounts\\Personal]\r\n"
                f'"UserFolder"="{escaped}"\r\n\r\n[HKEY_USERS\\{sid}_Classes]\r\n\r\n')


def test_windows_service_finds_each_persons_clouds_and_keeps_running(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = WindowsMachine(tmp_path / "win")
    machine.lay_out()
    machine.place_real_hive("sam.testperson")  # signed out: his own NTUSER.DAT, a real hive, read offline
    sams_onedrive = Path(machine.path(r"C:\Users\admin\OneDrive"))  # the UserFolder that hive names
    sams_onedrive.mkdir(parents=True)
    reg = tmp_path / "registry.reg"
    reg.write_bytes(REG_EXPORT.read_bytes())
    protected = tmp_path / "casestore"
    protected.mkdir()
    record = make_docx(case_file_paragraphs(random.Random(5), paragraphs=14, reference="CS-220871"))
    (protected / "Testcase-Noah-CIN-plan.docx").write_bytes(record)
    (tmp_path / "org.key").write_bytes(os.urandom(32).hex().encode())
    approved = machine.home("jo.bloggs") / "OneDrive - Contoso"
    settings = (
        f'[egress]\nsettle_s = 1.0\nvolume_poll_s = 1.0\nportable_poll_s = 1.0\napproved_dirs = ["{approved}"]\n'
        f'[case_files]\nroots = ["{protected}"]\n[privacy]\norg_key_file = "{tmp_path / "org.key"}"\n'
        "[heartbeat]\ninterval_s = 1\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "powershell.exe").write_text(FAKE_POWERSHELL)
    (bin_dir / "powershell.exe").chmod(0o755)
    pnp = tmp_path / "pnp.json"
    pnp.write_text("")  # no portable device attached
    collector.start()
    agent = make_agent("win-laptop", settings=settings)
    log = open(tmp_path / "win-laptop.log", "a")  # noqa: SIM115 - handed to the child
    agent.proc = subprocess.Popen(
        [PYTHON, "-m", "tests.integration.windows_service", str(agent.config), str(machine.root), str(reg)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "CASEGUARD_TEST_PNP": str(pnp),
             "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    log.close()

    wait_for(lambda: bool(_events(collector, "win-laptop", "agent_started")), 30, "agent_started")
    assert _events(collector, "win-laptop", "agent_started")[0]["os"] == "win32"
    # The named pipe cannot be made here (nor a Unix socket without AF_UNIX): reported, not fatal.
    wait_for(lambda: any(e["component"] == "session-channel"
                         for e in _events(collector, "win-laptop", "coverage_degraded")), 20, "coverage_degraded")
    wait_for(lambda: (agent.root / "win-laptop-state" / "protected").exists(), 15, "the protected index")
    time.sleep(2)

    copies = {
        machine.home("user1") / "OneDrive" / "Desktop": "onedrive_personal",  # Known Folder Move into OneDrive
        machine.home("sam.testperson") / "Dropbox (Personal)": "dropbox_personal",  # signed out: info.json
        machine.home("jo.bloggs") / "My Drive": "gdrive",
        machine.home("sam.testperson") / "iCloudDrive": "icloud",
        sams_onedrive: "onedrive_personal",  # signed out: only his NTUSER.DAT knows it
    }
    for folder in copies:
        (folder / "copy.docx").write_bytes(record)
    # Not personal: the organisation's approved OneDrive, and the service's own profile.
    (approved / "Documents" / "copy.docx").write_bytes(record)
    (Path(machine.path(r"C:\Windows\system32\config\systemprofile")) / "SYSTEM-Dropbox" / "copy.docx").write_bytes(
        record)
    wait_for(lambda: len(_events(collector, "win-laptop", "case_file_egress")) >= len(copies), 40,
             "an egress event for each person's personal cloud")

    # Sam signs in; his hive names a OneDrive folder nothing else knew about.
    later = machine.home("sam.testperson") / "OneDrive - Home"
    later.mkdir()
    _sign_in(reg, SAM, r"C:\Users\sam.testperson\OneDrive - Home")
    time.sleep(4)  # the logon watch polls every 2 s; the periodic sweep is 10 minutes away
    (later / "copy.docx").write_bytes(record)
    wait_for(lambda: len(_events(collector, "win-laptop", "case_file_egress")) >= len(copies) + 1, 40,
             "an egress event from the folder found at sign-in")
    time.sleep(2)
    events = _events(collector, "win-laptop", "case_file_egress")
    assert sorted(e["destination_kind"] for e in events) == sorted([*copies.values(), "onedrive_personal"])
    assert all("exact" in e["file"]["reasons"] for e in events)

    # The person is told: the service posts one notice per copy burst where the session parts read...
    state = agent.root / "win-laptop-state"
    notices = read_notices(state) or []
    assert len(notices) == len(copies) + 1 and {n["text"] for n in notices} == {EgressSettings().notice_personal}
    # ...and the session part, as on Windows, shows each as a toast through powershell.exe.
    toast = tmp_path / "toasts.txt"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("CASEGUARD_TEST_TOAST", str(toast))
    notifier = Notifier("win32")
    assert notifier.show(notices[0]["title"], notices[0]["text"], 20)
    wait_for(lambda: toast.exists() and toast.read_text().endswith("\n"), 10, "the toast command")
    notifier.close()
    script = base64.b64decode(toast.read_text().split()[0]).decode("utf-16-le")
    assert "ToastNotificationManager" in script and f"CreateTextNode('{notices[0]['title']}')" in script
    assert f"CreateTextNode('{notices[0]['text']}')" in script and "copy.docx" not in script

    beats = len(_events(collector, "win-laptop", "heartbeat"))
    wait_for(lambda: len(_events(collector, "win-laptop", "heartbeat")) > beats, 15, "heartbeats go on")

    # A phone is plugged in over MTP (the captured CIM rows: the phone and a stick's WPD twin), then unplugged.
    pnp.write_text("\n".join(ln for ln in PNP_CAPTURE.read_text().splitlines() if not ln.startswith("#")))
    wait_for(lambda: bool(_events(collector, "win-laptop", "uninspectable_destination")), 20, "the phone is reported")
    pnp.write_text("")
    wait_for(lambda: len(_events(collector, "win-laptop", "uninspectable_destination")) >= 2, 20, "and its going")
    seen = _events(collector, "win-laptop", "uninspectable_destination")
    assert [(e["destination_kind"], e["identity"]["label"], e.get("attached", False)) for e in seen] == [
        ("mtp", "samsung SM-S948U", True), ("mtp", "samsung SM-S948U", False)]
    assert "Testperson" not in json.dumps(seen)

    assert agent.proc.poll() is None, (tmp_path / "win-laptop.log").read_text()[-3000:]
    agent.stop()  # SIGTERM: exits 0
