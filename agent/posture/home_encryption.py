"""Home directories encrypted above the block layer, which lsblk cannot see: eCryptfs and systemd-homed.

* eCryptfs (Ubuntu's old "encrypt my home folder"): mounted ``ecryptfs`` over
  ``/home/.ecryptfs/<user>/.Private`` while the user is signed in; when signed out, the
  ``.Private`` store and ``<home>/.ecryptfs`` link are still there and the data is ciphertext.
* systemd-homed: the user record ``/var/lib/systemd/home/<user>.identity`` names the storage in its
  ``binding`` section; ``luks`` (a LUKS image, ``/home/<user>.home``) and ``fscrypt`` are encrypted,
  ``directory``/``subvolume``/``cifs`` are not.

Pure functions over text and a path-exists test, so tests feed captured mount tables and records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ENCRYPTED_HOMED_STORAGE = frozenset({"luks", "fscrypt"})
HOMED_DIR = "/var/lib/systemd/home"


@dataclass(frozen=True)
class HomeEncryption:
    """An above-block encryption of the home directory that was found, and how it was told."""

    method: str
    detail: str


def _unescape_mount(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def ecryptfs_home(
    home: str, mounts_text: str, exists: Callable[[str], bool] = os.path.lexists
) -> HomeEncryption | None:
    """eCryptfs at ``home``: mounted now (``/proc/self/mounts``), or its private store left behind."""
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "ecryptfs" and _unescape_mount(fields[1]).rstrip("/") == home.rstrip("/"):
            return HomeEncryption("ecryptfs", "home directory is an eCryptfs mount")
    user = os.path.basename(home.rstrip("/"))
    parent = os.path.dirname(home.rstrip("/"))
    if exists(os.path.join(home, ".ecryptfs")) or exists(os.path.join(parent, ".ecryptfs", user, ".Private")):
        return HomeEncryption("ecryptfs", "home directory is eCryptfs-encrypted (not mounted now)")
    return None


def homed_storage(record_text: str) -> str | None:
    """The storage of a systemd-homed user record (``binding.<machine>.storage``, or top-level)."""
    try:
        record: Any = json.loads(record_text)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    bindings = record.get("binding")
    if isinstance(bindings, dict):
        for binding in bindings.values():
            if isinstance(binding, dict) and isinstance(binding.get("storage"), str):
                return str(binding["storage"])
    storage = record.get("storage")
    return storage if isinstance(storage, str) else None


def homed_home(
    home: str,
    read_text: Callable[[str], str | None],
    exists: Callable[[str], bool] = os.path.lexists,
    homed_dir: str = HOMED_DIR,
) -> HomeEncryption | None:
    """systemd-homed encryption of ``home`` from the user's record, or its LUKS image file."""
    user = os.path.basename(home.rstrip("/"))
    record = read_text(os.path.join(homed_dir, f"{user}.identity"))
    storage = homed_storage(record) if record else None
    if storage in ENCRYPTED_HOMED_STORAGE:
        return HomeEncryption(f"homed-{storage}", f"home directory is a systemd-homed {storage} home")
    if storage is None and exists(home.rstrip("/") + ".home"):
        return HomeEncryption("homed-luks", "home directory is a systemd-homed LUKS image")
    return None
