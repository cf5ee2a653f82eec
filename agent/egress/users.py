"""Whose personal folders the system agent watches, and how each person's configuration is read.

The agent runs as a service (LocalSystem on Windows, root elsewhere), so its own home, ``HKCU``
and environment are the wrong ones: on Windows they are SYSTEM's
(``C:\\Windows\\system32\\config\\systemprofile``). Each person is a :class:`UserProfile`:

* Windows: every profile in ``HKLM\\...\\ProfileList`` that belongs to a person (local or domain
  ``S-1-5-21-...``, Entra ID ``S-1-12-1-...``), its ``ProfileImagePath`` as home, the user's own
  hive through ``HKU\\<SID>`` (loaded while the user is signed in) and an environment rebuilt
  from that hive (``Volatile Environment``, ``Environment``, ``User Shell Folders``) rather than
  inherited from the service;
* elsewhere: each person's home from the passwd database (:mod:`agent.egress.homes`).

A person who is not signed in has no hive under ``HKU``: their own ``NTUSER.DAT`` (in the
profile folder) is then read offline, without loading it into the machine's registry (no
``reg load``, nothing left mounted, and the file is closed at once so the person can still sign
in). When that file cannot be read, the profile folders (Dropbox ``info.json``, iCloud) and the
machine-wide sync-root list still tell, and the agent says so in its log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.egress.homes import user_homes
from agent.errors import AgentError
from agent.host import Host
from agent.registry import RegistryReader

log = logging.getLogger(__name__)

PROFILE_LIST = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"
USERS_HIVE = "HKU"
# SIDs of people: local and domain accounts, and Entra ID (Azure AD) accounts on Intune laptops.
_PERSON_SID = re.compile(r"^S-1-(5-21|12-1)-[0-9-]+$", re.IGNORECASE)
# What a person's environment keeps from the service's: machine-wide variables only.
_MACHINE_VARIABLES = (
    "SystemDrive",
    "SystemRoot",
    "windir",
    "ProgramData",
    "ALLUSERSPROFILE",
    "ProgramFiles",
    "ProgramFiles(x86)",
    "CommonProgramFiles",
    "PUBLIC",
)
_ENV_REFERENCE = re.compile(r"%([^%]+)%")


@dataclass(frozen=True)
class UserProfile:
    """One person: their home, environment, registry view and (Windows) SID."""

    home: Path
    env: Mapping[str, str] = field(default_factory=dict)
    registry: RegistryReader | None = None
    sid: str | None = None
    signed_in: bool = True


class UserHiveView:
    """A ``RegistryReader`` in which ``HKCU\\...`` means ``HKU\\<sid>\\...`` of the machine registry."""

    def __init__(self, machine: RegistryReader, sid: str) -> None:
        self._machine = machine
        self._sid = sid

    def _map(self, key: str) -> str:
        hive, sep, rest = key.partition("\\")
        if hive.upper() in ("HKCU", "HKEY_CURRENT_USER"):
            return f"{USERS_HIVE}\\{self._sid}" + (f"\\{rest}" if sep else "")
        return key

    def subkeys(self, key: str) -> list[str]:
        """Subkeys of ``key`` in this user's view."""
        return self._machine.subkeys(self._map(key))

    def values(self, key: str) -> dict[str, str]:
        """Values of ``key`` in this user's view."""
        return self._machine.values(self._map(key))


def signed_in_sids(registry: RegistryReader) -> frozenset[str]:
    """SIDs of people whose hive is loaded under ``HKU`` (signed in, or running something)."""
    return frozenset(s.upper() for s in registry.subkeys(USERS_HIVE) if _PERSON_SID.match(s))


def _lookup(values: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in values.items() if k.lower() == wanted and v), None)


def _expand(text: str, env: Mapping[str, str]) -> str:
    lowered = {k.lower(): v for k, v in env.items()}
    return _ENV_REFERENCE.sub(lambda m: lowered.get(m.group(1).lower(), m.group(0)), text)


def user_environment(service_env: Mapping[str, str], hive: RegistryReader, home: Path) -> dict[str, str]:
    """The environment a person's own processes would see, built without the service's profile.

    Machine-wide variables come from the service; ``USERPROFILE``, ``APPDATA``, ``LOCALAPPDATA``
    and the user's own variables (``OneDrive``, ``OneDriveConsumer``, ...) from their ``hive``
    (a view in which ``HKCU`` is that person's).
    """
    env: dict[str, str] = {}
    for name in _MACHINE_VARIABLES:
        found = _lookup(service_env, name)
        if found:
            env[name] = found
    env["USERPROFILE"] = str(home)
    shell = hive.values(r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders")
    roaming = _lookup(shell, "AppData")
    local = _lookup(shell, "Local AppData")
    env["APPDATA"] = _expand(roaming, env) if roaming else str(home / "AppData" / "Roaming")
    env["LOCALAPPDATA"] = _expand(local, env) if local else str(home / "AppData" / "Local")
    for key in (r"HKCU\Environment", r"HKCU\Volatile Environment"):
        for name, data in hive.values(key).items():
            if name and data and name.upper() != "USERPROFILE":  # the profile list is the authority
                env[name] = _expand(data, env)
    return env


def windows_profiles(host: Host) -> list[UserProfile]:
    """Every person with a profile on this Windows machine, signed in or not."""
    registry = host.registry
    if registry is None:
        log.warning("users: no registry; personal folders of Windows users cannot be found")
        return []
    loaded = signed_in_sids(registry)
    profiles: list[UserProfile] = []
    for sid in registry.subkeys(PROFILE_LIST):
        if not _PERSON_SID.match(sid):  # system accounts, and "<SID>.bak" leftovers of broken profiles
            continue
        image = _lookup(registry.values(rf"{PROFILE_LIST}\{sid}"), "ProfileImagePath")
        if not image:
            continue
        home = Path(_expand(image, host.env))
        signed_in = sid.upper() in loaded
        hive = UserHiveView(registry, sid) if signed_in else _offline_hive(host, registry, home)
        env = user_environment(host.env, hive, home)
        profiles.append(UserProfile(home, env, hive, sid, signed_in))
    log.info(
        "users: %d Windows profiles, %d signed in", len(profiles), sum(1 for p in profiles if p.signed_in)
    )
    return profiles


class _EmptyHive:
    """The registry of a person whose hive could not be read: every key missing."""

    def subkeys(self, key: str) -> list[str]:
        """None."""
        return []

    def values(self, key: str) -> dict[str, str]:
        """None."""
        return {}


class OfflineUserView:
    """A ``RegistryReader`` in which ``HKCU`` is a person's own hive file and the rest the machine's."""

    def __init__(self, machine: RegistryReader, person: RegistryReader) -> None:
        self._machine = machine
        self._person = person

    def _for(self, key: str) -> RegistryReader:
        return self._person if key.partition("\\")[0].upper() in ("HKCU", "HKEY_CURRENT_USER") else self._machine

    def subkeys(self, key: str) -> list[str]:
        """Subkeys of ``key`` in this person's view."""
        return self._for(key).subkeys(key)

    def values(self, key: str) -> dict[str, str]:
        """Values of ``key`` in this person's view."""
        return self._for(key).values(key)


def _offline_hive(host: Host, machine: RegistryReader, home: Path) -> RegistryReader:
    """A signed-out person's view: their own ``NTUSER.DAT`` (profile folder) as ``HKCU``."""
    person: RegistryReader
    try:
        person = host.hive_file(home / "NTUSER.DAT")
    except OSError as exc:
        # No name or path: the reason only. Their folders and the machine's lists are still searched.
        log.warning("users: a signed-out person's registry hive could not be read (%s); their personal"
                    " clouds are found from their folders only", exc if isinstance(exc, AgentError)
                    else type(exc).__name__)  # fmt: skip
        person = _EmptyHive()
    if getattr(person, "recovery", "") == "failed":
        log.warning("users: a signed-out person's registry hive was not fully written and could not be"
                    " completed from its transaction logs; it is read as last written")  # fmt: skip
    return OfflineUserView(machine, person)


def user_profiles(host: Host, homes: Sequence[Path] = ()) -> list[UserProfile]:
    """The people to watch: configured ``homes`` if any, else every person on the machine."""
    if homes:
        return [UserProfile(Path(h), host.env) for h in homes]
    if host.is_windows:
        return windows_profiles(host)
    return [UserProfile(h, host.env) for h in user_homes(platform=host.platform)]
