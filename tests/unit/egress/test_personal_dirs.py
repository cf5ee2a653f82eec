"""Personal cloud-folder discovery against home directories laid out like real ones."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.egress.clouds import DiscoveryContext, google_drive, sync_roots
from agent.egress.clouds.cloud_storage import kind_for_name
from agent.egress.clouds.dropbox import parse_info_json
from agent.egress.model import (
    DESTINATION_CLASS_PERSONAL_CLOUD,
    DESTINATION_CLASS_PERSONAL_FOLDER,
    destination_for_path,
)
from agent.egress.personal_dirs import discover_personal, discover_personal_destinations

SYNC = sync_roots.SYNC_ROOT_MANAGER
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "egress"


class FakeRegistry:
    """A registry from a dict of key -> {value name: data}; every ancestor key exists too."""

    def __init__(self, keys: dict[str, dict[str, str]]) -> None:
        self._values = {key.lower(): values for key, values in keys.items()}
        self._names: set[str] = set()
        for key in keys:
            parts = key.split("\\")
            self._names.update("\\".join(parts[: i + 1]) for i in range(len(parts)))

    def subkeys(self, key: str) -> list[str]:
        prefix = key.lower() + "\\"
        return sorted({n[len(prefix) :].split("\\")[0] for n in self._names if n.lower().startswith(prefix)})

    def values(self, key: str) -> dict[str, str]:
        return dict(self._values.get(key.lower(), {}))


def mkdirs(*paths: Path) -> None:
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)


def kinds(destinations) -> dict[str, str]:
    return {d.kind if d.kind != "configured" else f"configured:{d.path.name}": d.path.name for d in destinations}


# -- macOS -----------------------------------------------------------------------------------


@pytest.fixture
def mac_home(tmp_path: Path) -> Path:
    home = tmp_path / "Users" / "alice"
    cloud = home / "Library" / "CloudStorage"
    icloud = home / "Library" / "Mobile Documents" / "com~apple~CloudDocs"
    mkdirs(
        cloud / "OneDrive-Personal",
        cloud / "OneDrive-ContosoCouncil",
        cloud / "Dropbox",
        cloud / "GoogleDrive-alice@gmail.com" / "My Drive",
        cloud / "Box-Box",
        icloud / "Desktop",
        icloud / "Documents",
        home / "Dropbox (Contoso Council)",
        home / ".dropbox",
    )
    os.symlink(icloud / "Desktop", home / "Desktop")  # "Desktop & Documents Folders" in iCloud
    (home / "Documents").mkdir()  # Documents stays local
    info = (FIXTURES / "dropbox_info_personal_business.json").read_text().replace("{HOME}", str(home))
    (home / ".dropbox" / "info.json").write_text(info)
    return home


def test_macos_cloud_storage_dropbox_icloud_and_approved_business(mac_home: Path):
    org = mac_home / "Library" / "CloudStorage" / "OneDrive-ContosoCouncil"
    found = discover_personal(platform="darwin", home=mac_home, env={}, approved_dirs=[org])
    by_kind = {d.kind: d for d in found.destinations}
    assert set(by_kind) == {
        "onedrive_personal",
        "dropbox_personal",
        "dropbox_business",
        "gdrive",
        "other_cloud",
        "icloud",
    }
    assert by_kind["onedrive_personal"].path.name == "OneDrive-Personal"
    assert by_kind["dropbox_personal"].path.name == "Dropbox"  # named by info.json and CloudStorage: once
    assert by_kind["dropbox_business"].path.name == "Dropbox (Contoso Council)"
    assert by_kind["gdrive"].path.name == "GoogleDrive-alice@gmail.com"
    assert by_kind["icloud"].path.name == "com~apple~CloudDocs"
    assert all(d.destination_class == DESTINATION_CLASS_PERSONAL_CLOUD for d in found.destinations)
    assert not any(d.path == org for d in found.destinations)
    # The Desktop lives in iCloud: saving to ~/Desktop is saving to a personal cloud.
    assert [(r.name, r.destination.kind) for r in found.redirected] == [("Desktop", "icloud")]
    desktop_file = destination_for_path(found.destinations, mac_home / "Desktop" / "report.docx")
    assert desktop_file is not None and desktop_file.kind == "icloud"
    assert destination_for_path(found.destinations, mac_home / "Documents" / "report.docx") is None


def test_macos_business_accounts_can_be_left_out(mac_home: Path):
    destinations = discover_personal_destinations(platform="darwin", home=mac_home, env={}, include_business=False)
    assert {d.kind for d in destinations} == {
        "onedrive_personal",
        "dropbox_personal",
        "gdrive",
        "other_cloud",
        "icloud",
    }


def test_cloud_storage_names():
    assert kind_for_name("OneDrive-Personal") == "onedrive_personal"
    assert kind_for_name("OneDrive-Contoso") == "onedrive_business"
    assert kind_for_name("OneDrive-SharedLibraries-Contoso") == "onedrive_business"
    assert kind_for_name("Dropbox-Personal") == "dropbox_personal"
    assert kind_for_name("Dropbox-Contoso") == "dropbox_business"
    assert kind_for_name("GoogleDrive-bob@example.org") == "gdrive"
    assert kind_for_name("pCloudDrive") == "other_cloud"


# -- Linux -----------------------------------------------------------------------------------


def test_linux_dropbox_configured_dirs_and_approved_folder_inside(tmp_path: Path):
    home = tmp_path / "home" / "alice"
    mkdirs(home / "Dropbox" / "Team approved", home / "Dropbox (Contoso)", home / ".dropbox", home / "Private")
    (home / ".dropbox" / "info.json").write_text(
        json.dumps({"personal": {"path": str(home / "Dropbox")}, "business": {"path": str(home / "Dropbox (Contoso)")}})
    )
    destinations = discover_personal_destinations(
        platform="linux",
        home=home,
        env={},
        personal_dirs=[home / "Private", home / "Missing"],
        approved_dirs=[home / "Dropbox (Contoso)", home / "Dropbox" / "Team approved"],
    )
    assert [(d.kind, d.path.name) for d in destinations] == [("dropbox_personal", "Dropbox"), ("configured", "Private")]
    dropbox, private = destinations
    assert dropbox.excluded == (home / "Dropbox" / "Team approved",)
    assert not dropbox.contains(home / "Dropbox" / "Team approved" / "plan.docx")
    assert dropbox.contains(home / "Dropbox" / "plan.docx")
    assert private.destination_class == DESTINATION_CLASS_PERSONAL_FOLDER


def test_dropbox_info_json_parsing():
    assert parse_info_json('{"personal": {"path": "/p"}, "business": {"path": "/b", "is_team": true}}') == [
        ("dropbox_personal", "/p"),
        ("dropbox_business", "/b"),
    ]
    assert parse_info_json('{"personal": {"host": 1}}') == []
    with pytest.raises(ValueError):
        parse_info_json((FIXTURES / "dropbox_info_malformed.json").read_text())


def test_malformed_info_json_does_not_stop_discovery(tmp_path: Path):
    home = tmp_path / "home"
    mkdirs(home / ".dropbox", home / "Private")
    (home / ".dropbox" / "info.json").write_text((FIXTURES / "dropbox_info_malformed.json").read_text())
    destinations = discover_personal_destinations(platform="linux", home=home, env={}, personal_dirs=[home / "Private"])
    assert [d.kind for d in destinations] == ["configured"]


def test_known_folder_into_an_icloud_root_found_only_through_it(tmp_path: Path):
    home = tmp_path / "home"
    elsewhere = tmp_path / "Volumes" / "Data" / "Library" / "Mobile Documents" / "com~apple~CloudDocs"
    mkdirs(home, elsewhere / "Desktop")
    os.symlink(elsewhere / "Desktop", home / "Desktop")
    found = discover_personal(platform="linux", home=home, env={})
    assert [(d.kind, d.path) for d in found.destinations] == [("icloud", elsewhere)]
    assert [r.name for r in found.redirected] == ["Desktop"]


# -- Windows (fake registry and environment) -------------------------------------------------


@pytest.fixture
def windows(tmp_path: Path):
    profile = tmp_path / "Users" / "alice"
    local = profile / "AppData" / "Local"
    roaming = profile / "AppData" / "Roaming"
    mkdirs(
        profile / "OneDrive" / "Desktop",
        profile / "OneDrive - Contoso Council" / "Documents",
        profile / "Dropbox",
        profile / "My Drive",
        profile / "iCloudDrive",
        local / "Dropbox",
        roaming,
    )
    (local / "Dropbox" / "info.json").write_text(json.dumps({"personal": {"path": str(profile / "Dropbox")}}))
    env = {
        "USERPROFILE": str(profile),
        "LOCALAPPDATA": str(local),
        "APPDATA": str(roaming),
        "OneDrive": str(profile / "OneDrive"),
    }
    registry = FakeRegistry(
        {
            r"HKCU\Software\Microsoft\OneDrive\Accounts\Personal": {"UserFolder": str(profile / "OneDrive")},
            r"HKCU\Software\Microsoft\OneDrive\Accounts\Business1": {
                "UserFolder": str(profile / "OneDrive - Contoso Council"),
                "DisplayName": "Contoso Council",
            },
            r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders": {
                "Desktop": "%OneDrive%/Desktop",
                "Personal": "%USERPROFILE%/OneDrive - Contoso Council/Documents",
                "My Pictures": "%USERPROFILE%/Pictures",
            },
            rf"{SYNC}\GoogleDriveFS!S-1-5-21-9!alice@gmail.com\UserSyncRoots": {
                "S-1-5-21-9": str(profile / "My Drive"),
            },
            rf"{SYNC}\OneDrive!S-1-5-21-9!Personal|4f2a\UserSyncRoots": {
                "S-1-5-21-9": str(profile / "OneDrive"),
            },
            rf"{SYNC}\Acme!S-1-5-21-9!x\UserSyncRoots": {
                "S-1-5-21-9": str(profile),
            },
        }
    )
    return profile, env, registry


def test_windows_registry_environment_and_dropbox_localappdata(windows):
    profile, env, registry = windows
    found = discover_personal(
        platform="win32",
        home=profile,
        env=env,
        registry=registry,
        approved_dirs=[profile / "OneDrive - Contoso Council"],
    )
    assert sorted((d.kind, d.path.name) for d in found.destinations) == [
        ("dropbox_personal", "Dropbox"),
        ("gdrive", "My Drive"),
        ("icloud", "iCloudDrive"),
        ("onedrive_personal", "OneDrive"),
    ]
    # Known Folder Move: the Desktop went into the personal OneDrive, Documents into the approved one.
    assert [(r.name, r.destination.kind) for r in found.redirected] == [("Desktop", "onedrive_personal")]


def test_windows_business_onedrive_is_a_destination_unless_approved(windows):
    profile, env, registry = windows
    destinations = discover_personal_destinations(platform="win32", home=profile, env=env, registry=registry)
    assert ("onedrive_business", "OneDrive - Contoso Council") in {(d.kind, d.path.name) for d in destinations}


def test_windows_onedrive_environment_variables_without_registry(tmp_path: Path):
    profile = tmp_path / "p"
    mkdirs(profile / "OneDrive", profile / "OneDrive - Org")
    env = {"onedriveconsumer": str(profile / "OneDrive"), "OneDriveCommercial": str(profile / "OneDrive - Org")}
    destinations = discover_personal_destinations(platform="win32", home=profile, env=env, registry=FakeRegistry({}))
    assert sorted(d.kind for d in destinations) == ["onedrive_business", "onedrive_personal"]


def test_google_drive_windows_mount_point_only_when_drivefs_installed(tmp_path: Path):
    ctx = DiscoveryContext("win32", tmp_path, {"USERPROFILE": str(tmp_path)}, FakeRegistry({}))
    assert google_drive.find(ctx) == []
    registry = FakeRegistry({r"HKCU\Software\Google\DriveFS": {"DefaultMountPoint": "M"}})
    ctx = DiscoveryContext("win32", tmp_path, {"USERPROFILE": str(tmp_path)}, registry)
    assert [str(r.path) for r in google_drive.find(ctx)] == ["M:\\", str(tmp_path / "My Drive")]


def test_sync_root_manager_key_names():
    assert sync_roots.kind_for_key("OneDrive!S-1-5-21-1!Personal|abc") == "onedrive_personal"
    assert sync_roots.kind_for_key("OneDrive!S-1-5-21-1!Business1|abc") == "onedrive_business"
    assert sync_roots.kind_for_key("Dropbox!S-1-5-21-1!Personal|123") == "dropbox_personal"
    assert sync_roots.kind_for_key("Dropbox!S-1-5-21-1!Business|123") == "dropbox_business"
    assert sync_roots.kind_for_key("GoogleDriveFS!S-1-5-21-1!me@example.org") == "gdrive"
    assert sync_roots.kind_for_key("iCloudDrive!S-1-5-21-1!x") == "icloud"
    assert sync_roots.kind_for_key("Acme!S-1-5-21-1!x") is None


def test_env_expansion_is_case_insensitive_on_windows(tmp_path):
    ctx = DiscoveryContext("win32", tmp_path, {"USERPROFILE": "C:\\Users\\a"})
    assert ctx.expand("%userprofile%\\OneDrive\\%UNKNOWN%") == "C:\\Users\\a\\OneDrive\\%UNKNOWN%"


def _captured_sync_root_ids() -> list[tuple[str, str]]:
    lines = (FIXTURES / "sync_root_ids.txt").read_text().splitlines()
    pairs = [line.split("\t") for line in lines if line and not line.startswith("#")]
    return [(sync_root_id, kind) for sync_root_id, kind in pairs]


@pytest.mark.parametrize(("sync_root_id", "kind"), _captured_sync_root_ids())
def test_captured_sync_root_ids_give_the_right_kind(sync_root_id, kind):
    assert sync_roots.kind_for_key(sync_root_id) == kind


def test_sync_root_ids_split_into_provider_sid_and_account():
    sid = "S-1-5-21-3198801245-3580807-1487484180-1001"
    root = sync_roots.parse_sync_root_id(f"OneDrive!{sid}!Personal|B0CE1D74A0C7A4D8!103")
    assert (root.provider, root.sid, root.account_type) == ("OneDrive", sid, "Personal")
    assert root.account == "Personal|B0CE1D74A0C7A4D8!103"
