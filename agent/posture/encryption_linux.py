"""Linux disk encryption: walk lsblk's device graph up from a mount to a dm-crypt device.

``lsblk -J -o NAME,KNAME,TYPE,FSTYPE,FSVER,MOUNTPOINTS,PKNAME`` gives a tree (children
nested under parents, a device with two parents listed under each) and PKNAME. Both are
folded into one graph of parents. The data at a mount is encrypted when every chain of
devices from the mounted one up to a disk passes through a ``crypt`` device (LUKS or plain
dm-crypt); some chains only (LVM over an encrypted and a plain PV) is PARTIAL. A home that
lsblk does not show as encrypted is then checked for eCryptfs and systemd-homed
(:mod:`agent.posture.home_encryption`); other filesystem-level encryption (fscrypt set up by
hand, ZFS native) is not seen and reads as not encrypted or unknown.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from agent.posture.commands import CommandRunner, run_command
from agent.posture.encryption import ENCRYPTED, NOT_ENCRYPTED, PARTIAL, UNKNOWN, EncryptionFacts
from agent.posture.home_encryption import HOMED_DIR, HomeEncryption, ecryptfs_home, homed_home

LSBLK_ARGV = ("lsblk", "-J", "-o", "NAME,KNAME,TYPE,FSTYPE,FSVER,MOUNTPOINTS,PKNAME")
# util-linux before 2.37 has no MOUNTPOINTS column.
LSBLK_ARGV_OLD = ("lsblk", "-J", "-o", "NAME,KNAME,TYPE,FSTYPE,MOUNTPOINT,PKNAME")


@dataclass
class BlockDevice:
    """One node of lsblk's graph."""

    key: str
    name: str
    type: str = ""
    fstype: str = ""
    fsver: str = ""
    mountpoints: set[str] = field(default_factory=set)
    parents: set[str] = field(default_factory=set)


def parse_lsblk(text: str) -> dict[str, BlockDevice]:
    """lsblk JSON (tree or list) into devices keyed by kernel name, with parent links."""
    devices: dict[str, BlockDevice] = {}

    def visit(node: Mapping[str, Any], parent: str | None) -> None:
        key = str(node.get("kname") or node.get("name") or "")
        if not key:
            return
        dev = devices.setdefault(key, BlockDevice(key=key, name=str(node.get("name") or key)))
        dev.type = str(node.get("type") or dev.type)
        dev.fstype = str(node.get("fstype") or dev.fstype)
        dev.fsver = str(node.get("fsver") or dev.fsver)
        points = node.get("mountpoints") or [node.get("mountpoint")]
        dev.mountpoints.update(str(p) for p in points if p)
        for link in (parent, node.get("pkname")):
            if link:
                dev.parents.add(str(link))
        for child in node.get("children") or ():
            visit(child, key)

    for top in json.loads(text).get("blockdevices") or ():
        visit(top, None)
    return devices


def mount_for(path: str, devices: Mapping[str, BlockDevice]) -> str | None:
    """The longest block-device mountpoint containing ``path``."""
    best: str | None = None
    for dev in devices.values():
        for point in dev.mountpoints:
            inside = path == point or path.startswith(point.rstrip("/") + "/")
            if inside and (best is None or len(point) > len(best)):
                best = point
    return best


def chains_up(key: str, devices: Mapping[str, BlockDevice], seen: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every chain of device keys from ``key`` up to a device with no parent."""
    chain = (*seen, key)
    parents = [p for p in sorted(devices[key].parents) if p in devices and p not in chain]
    if not parents:
        return [chain]
    return [c for parent in parents for c in chains_up(parent, devices, chain)]


def _crypt_method(crypt_key: str, devices: Mapping[str, BlockDevice]) -> str:
    for parent in devices[crypt_key].parents:
        dev = devices.get(parent)
        if dev is not None and dev.fstype == "crypto_LUKS":
            return f"luks{dev.fsver}" if dev.fsver in ("1", "2") else "luks"
    return "dm-crypt"


@dataclass(frozen=True)
class MountEncryption:
    """The verdict for one mount: state, methods found on its chains, and a plain detail."""

    state: str
    methods: tuple[str, ...]
    detail: str


def _combine(path_encrypted: list[bool]) -> str:
    if all(path_encrypted):
        return ENCRYPTED
    return PARTIAL if any(path_encrypted) else NOT_ENCRYPTED


def encryption_of(path: str, label: str, devices: Mapping[str, BlockDevice]) -> MountEncryption:
    """Whether the filesystem holding ``path`` sits on dm-crypt; ``label`` names it in details."""
    point = mount_for(path, devices)
    if point is None:
        return MountEncryption(UNKNOWN, (), f"{label} is not on a block device lsblk lists")
    mounted = [d.key for d in devices.values() if point in d.mountpoints]
    chains = [c for key in mounted for c in chains_up(key, devices)]
    crypts = [[k for k in chain if devices[k].type == "crypt"] for chain in chains]
    methods = tuple(sorted({_crypt_method(k, devices) for found in crypts for k in found}))
    state = _combine([bool(found) for found in crypts])
    names = "/".join(sorted(devices[k].name for k in mounted))
    if state == ENCRYPTED:
        detail = f"{label} on {names} is inside {'+'.join(methods)}"
    elif state == PARTIAL:
        detail = f"{label} on {names} spans encrypted and unencrypted devices"
    else:
        detail = f"{label} on {names} is not on an encrypted device"
    return MountEncryption(state, methods, detail)


def unencrypted_swap(devices: Mapping[str, BlockDevice]) -> list[str]:
    """Names of swap devices with a chain that is not encrypted (memory can leak to disk)."""
    found = []
    for dev in devices.values():
        if dev.fstype == "swap" and "[SWAP]" in dev.mountpoints:
            chains = chains_up(dev.key, devices)
            if not all(any(devices[k].type == "crypt" for k in c) for c in chains):
                found.append(dev.name)
    return sorted(found)


def facts_from_lsblk(text: str, home: str) -> EncryptionFacts:
    """The EncryptionPosture facts for ``/`` and ``home`` from lsblk's JSON."""
    devices = parse_lsblk(text)
    system = encryption_of("/", "root filesystem", devices)
    if mount_for(home, devices) == mount_for("/", devices):
        home_result = system
        details = [system.detail, "home directory is on the root filesystem"]
    else:
        home_result = encryption_of(home, "home directory", devices)
        details = [system.detail, home_result.detail]
    details.extend(f"swap on {name} is not encrypted" for name in unencrypted_swap(devices))
    methods: Iterable[str] = sorted(set(system.methods) | set(home_result.methods))
    return EncryptionFacts(system.state, home_result.state, "+".join(methods), tuple(details))


def with_home_encryption(facts: EncryptionFacts, found: HomeEncryption | None) -> EncryptionFacts:
    """``facts`` with the home volume encrypted by ``found`` (eCryptfs, systemd-homed), if any."""
    if found is None or facts.home_volume == ENCRYPTED:
        return facts
    methods = "+".join(sorted({m for m in facts.method.split("+") if m} | {found.method}))
    return replace(facts, home_volume=ENCRYPTED, method=methods, details=(*facts.details, found.detail))


class LsblkReader:
    """Runs lsblk and judges the root and home filesystems (and eCryptfs / systemd-homed homes)."""

    def __init__(
        self,
        runner: CommandRunner = run_command,
        home: str = "/home",
        read_text: Callable[[str], str | None] | None = None,
        exists: Callable[[str], bool] = os.path.lexists,
        mounts_path: str = "/proc/self/mounts",
        homed_dir: str = HOMED_DIR,
    ) -> None:
        """``home`` is the user's home directory (its path is never reported)."""
        self._runner = runner
        self._home = home
        self._read_text = read_text or _read_text
        self._exists = exists
        self._mounts_path = mounts_path
        self._homed_dir = homed_dir

    def _above_block(self) -> HomeEncryption | None:
        mounts = self._read_text(self._mounts_path) or ""
        return ecryptfs_home(self._home, mounts, self._exists) or homed_home(
            self._home, self._read_text, self._exists, self._homed_dir
        )

    def __call__(self) -> EncryptionFacts:
        """Read the current facts."""
        result = self._runner(LSBLK_ARGV, 10.0)
        if not result.ok:
            result = self._runner(LSBLK_ARGV_OLD, 10.0)
        if not result.ok:
            return EncryptionFacts(details=(f"lsblk failed: {result.describe()}",))
        try:
            facts = facts_from_lsblk(result.stdout, self._home)
        except (ValueError, AttributeError, TypeError) as exc:
            return EncryptionFacts(details=(f"lsblk output not understood: {type(exc).__name__}",))
        return with_home_encryption(facts, self._above_block())


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None
