"""Per-user discovery from a LocalSystem service: every person's profile, hive and clouds, never SYSTEM's."""

from __future__ import annotations

import lzma
import os
import tempfile
from pathlib import Path

import pytest

from agent.egress.personal_dirs import discover_personal
from agent.egress.users import UserHiveView, signed_in_sids, user_environment, user_profiles
from agent.host import Host
from agent.registry import HiveFileReader
from tests.unit.egress.windows_machine import JO, SAM, USER1, WindowsMachine


@pytest.fixture
def machine(tmp_path: Path) -> WindowsMachine:
    m = WindowsMachine(tmp_path)
    m.lay_out()
    return m


def _discover(machine: WindowsMachine, approved: list[Path]) -> dict[str, set[tuple[str, str]]]:
    host = Host("win32", machine.service_env(), machine.registry(), hive_file=machine.hive_file)
    found: dict[str, set[tuple[str, str]]] = {}
    for profile in user_profiles(host):
        result = discover_personal(
            platform="win32", home=profile.home, env=profile.env, registry=profile.registry,
            user_sid=profile.sid, approved_dirs=approved,
        )
        assert profile.sid is not None
        found[profile.sid] = {(d.kind, d.path.name) for d in result.destinations}
        found[profile.sid] |= {("redirected", r.name) for r in result.redirected}
    return found


def test_every_person_is_found_with_their_own_clouds_and_never_the_service_profile(machine: WindowsMachine):
    found = _discover(machine, approved=[machine.home("jo.bloggs") / "OneDrive - Contoso"])
    assert set(found) == {USER1, JO, SAM}  # system profiles and the .bak leftover are not people
    assert found[USER1] == {("onedrive_personal", "OneDrive"), ("dropbox_personal", "Dropbox"),
                            ("redirected", "Desktop")}
    # Entra ID user: personal OneDrive (the sync-root id with "!" inside its account part) and Google
    # Drive's mirror folder; the organisation's OneDrive is approved.
    assert found[JO] == {("onedrive_personal", "OneDrive"), ("gdrive", "My Drive")}
    # Signed out: no hive, but the profile folder and the machine-wide sync-root list still tell.
    assert found[SAM] == {("onedrive_personal", "OneDrive"), ("dropbox_personal", "Dropbox (Personal)"),
                          ("icloud", "iCloudDrive")}
    everything = {name for roots in found.values() for _, name in roots}
    assert "SYSTEM-Dropbox" not in everything


def test_the_service_profile_is_what_the_old_single_context_discovery_saw(machine: WindowsMachine):
    # What the agent did before: one context with the service's own home, env and HKCU (SYSTEM's).
    env = machine.service_env()
    result = discover_personal(platform="win32", home=Path(env["USERPROFILE"]), env=env,
                               registry=UserHiveView(machine.registry(), "S-1-5-18"))
    names = {d.path.name for d in result.destinations}
    assert "SYSTEM-Dropbox" in names and "iCloudDrive" in names  # the wrong person's folders


def test_signed_in_sids_are_people_with_a_loaded_hive(machine: WindowsMachine):
    assert signed_in_sids(machine.registry()) == {USER1.upper(), JO.upper()}


def test_a_users_environment_comes_from_their_hive_not_the_service(machine: WindowsMachine):
    registry = machine.registry()
    env = user_environment(machine.service_env(), UserHiveView(registry, USER1), machine.home("user1"))
    assert env["USERPROFILE"] == str(machine.home("user1"))
    assert env["LOCALAPPDATA"] == str(machine.home("user1") / "AppData" / "Local")
    assert env["OneDriveConsumer"] == str(machine.home("user1") / "OneDrive")
    assert env["SystemRoot"] == machine.path(r"C:\Windows")
    assert "systemprofile" not in " ".join(env.values())
    assert "USERNAME" in env and env["USERNAME"] == "user1"


def test_configured_homes_override_enumeration(tmp_path: Path):
    host = Host("win32", {}, None)
    assert [p.home for p in user_profiles(host, [tmp_path])] == [tmp_path]
    assert user_profiles(host) == []  # no registry: nobody can be found, and that is logged


def test_a_signed_out_persons_own_hive_file_is_read_offline(machine: WindowsMachine):
    """Issue 14: Sam is not signed in (no HKU hive); his NTUSER.DAT (a real hive) names his OneDrive."""
    machine.place_real_hive("sam.testperson")
    theirs = Path(machine.path(r"C:\Users\admin\OneDrive"))  # the hive's own UserFolder
    theirs.mkdir(parents=True)
    host = Host("win32", machine.service_env(), machine.registry(), hive_file=machine.hive_file)
    [sam] = [p for p in user_profiles(host) if p.sid == SAM]
    assert not sam.signed_in
    # His environment comes from his hive: TEMP expanded against his profile, his OneDrive variable.
    assert sam.env["TEMP"] == str(machine.home("sam.testperson") / "AppData" / "Local" / "Temp")
    assert sam.env["OneDrive"] == str(theirs)
    result = discover_personal(platform="win32", home=sam.home, env=sam.env, registry=sam.registry,
                               user_sid=sam.sid, approved_dirs=[])
    found = {(d.kind, d.path) for d in result.destinations}
    assert ("onedrive_personal", theirs) in found
    # What the folders and the machine-wide sync-root list told before still holds.
    assert {("dropbox_personal", "Dropbox (Personal)"), ("icloud", "iCloudDrive")} <= {
        (k, p.name) for k, p in found}


def test_a_damaged_hive_file_is_said_and_the_folders_still_tell(machine: WindowsMachine, caplog):
    hive = machine.home("sam.testperson") / "NTUSER.DAT"
    hive.write_bytes(b"regf" + os.urandom(4092))  # the magic, then nothing a hive holds
    assert _discover(machine, approved=[])[SAM] == {
        ("onedrive_personal", "OneDrive"), ("dropbox_personal", "Dropbox (Personal)"), ("icloud", "iCloudDrive")}
    [warning] = [r.getMessage() for r in caplog.records if "hive could not be read" in r.getMessage()]
    assert "not a registry hive" in warning
    assert "sam" not in warning.lower() and str(machine.root) not in warning  # no name, no path


def test_the_hive_file_is_closed_once_read(machine: WindowsMachine):
    """Holding a signed-out person's NTUSER.DAT open would stop them signing in."""
    path = machine.place_real_hive("sam.testperson")
    reader = HiveFileReader(path)
    assert reader.subkeys(r"HKCU\Software\Microsoft\OneDrive\Accounts") == ["Personal"]
    assert reader.values(r"HKLM\SOFTWARE") == {}  # only the person's own hive is in the file
    open_files = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}
    assert str(path.resolve()) not in open_files


DIRTY = Path(__file__).resolve().parents[2] / "fixtures" / "egress" / "hives"


def _place_dirty_hive(home: Path, logs: tuple[str, ...]) -> Path:
    """regipy's dirty user hive (sequence numbers differ) as NTUSER.DAT, with the logs Windows names so."""
    home.mkdir(parents=True, exist_ok=True)
    hive = home / "NTUSER.DAT"
    hive.write_bytes(lzma.decompress((DIRTY / "transactions_NTUSER.DAT.xz").read_bytes()))
    for n in logs:
        (home / f"ntuser.dat.LOG{n}").write_bytes(
            lzma.decompress((DIRTY / f"transactions_ntuser.dat.log{n}.xz").read_bytes()))
    return hive


def test_a_hive_windows_had_not_finished_writing_is_read_with_its_transaction_logs(tmp_path: Path, caplog):
    """A real dirty hive (sequence numbers 567/566): LOG1 carries on from 566 and is applied; LOG2's only
    entry (562) is older than the file and is not. A key only LOG1 holds is seen; without it, it is not."""
    key = r"HKCU\Software\Microsoft\OneDrive\Installer\BITS"
    clean = HiveFileReader(_place_dirty_hive(tmp_path / "no-logs", ()))
    assert clean.recovery == "failed" and clean.subkeys(key) == []  # dirty, no log: read as last written
    recovered = HiveFileReader(_place_dirty_hive(tmp_path / "logs", ("1", "2")))
    assert recovered.recovery == "applied" and recovered.subkeys(key) == ["UpdateBinary"]
    assert not list(Path(tempfile.gettempdir()).glob("caseguard-hive-*"))  # the restored copy is gone
    open_files = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}
    assert not {str(p.resolve()) for p in (tmp_path / "logs").iterdir()} & open_files  # none held open
    stale = HiveFileReader(_place_dirty_hive(tmp_path / "stale-log", ("2",)))  # LOG2 ends before the file does
    assert stale.recovery == "failed" and stale.subkeys(key) == []  # never older pages over newer ones
    damaged = _place_dirty_hive(tmp_path / "bad-logs", ("1",))
    (damaged.parent / "ntuser.dat.LOG1").write_bytes(b"regf" + os.urandom(8188))
    reader = HiveFileReader(damaged)
    assert reader.recovery == "failed" and reader.subkeys(key) == []  # as last written, still readable
    assert reader.subkeys(r"HKCU\Software\Microsoft") != []
