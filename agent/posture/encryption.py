"""Disk encryption posture: the shared model, and the start-up choice of OS reader.

Per-OS parsing lives in ``encryption_linux`` (lsblk walk to a dm-crypt/LUKS device),
``encryption_windows`` (``manage-bde -status``) and ``encryption_macos`` (``fdesetup
status``). A reader never raises for an OS that will not answer: it returns
``ENCRYPTION_STATE_UNSPECIFIED`` with a detail saying why.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.posture.commands import CommandRunner, run_command

ENCRYPTED = "ENCRYPTION_STATE_ENCRYPTED"
NOT_ENCRYPTED = "ENCRYPTION_STATE_NOT_ENCRYPTED"
PARTIAL = "ENCRYPTION_STATE_PARTIAL"
UNKNOWN = "ENCRYPTION_STATE_UNSPECIFIED"


@dataclass(frozen=True)
class EncryptionFacts:
    """What the OS says about the system and home volumes (an EncryptionPosture body)."""

    system_volume: str = UNKNOWN
    home_volume: str = UNKNOWN
    method: str = ""
    details: tuple[str, ...] = field(default_factory=tuple)

    def body(self) -> dict[str, Any]:
        """The ``encryption_posture`` event body."""
        return {
            "system_volume": self.system_volume,
            "home_volume": self.home_volume,
            "method": self.method,
            "details": list(self.details),
        }


def overall_state(system_volume: str, home_volume: str) -> str:
    """One state for the heartbeat: both encrypted, neither, partial, or unknown."""
    states = {system_volume, home_volume}
    if states == {ENCRYPTED}:
        return ENCRYPTED
    if states == {NOT_ENCRYPTED}:
        return NOT_ENCRYPTED
    if UNKNOWN in states:
        return UNKNOWN
    return PARTIAL


EncryptionReader = Callable[[], EncryptionFacts]


def encryption_reader(
    platform: str = sys.platform,
    runner: CommandRunner = run_command,
    home: str = "",
    system_drive: str = "C:",
) -> EncryptionReader:
    """The reader for ``platform``; ``home`` is the user's home directory (Linux)."""
    if platform.startswith("win"):
        from agent.posture.encryption_windows import BitLockerReader

        return BitLockerReader(runner, system_drive)
    if platform == "darwin":
        from agent.posture.encryption_macos import FileVaultReader

        return FileVaultReader(runner)
    from agent.posture.encryption_linux import LsblkReader

    return LsblkReader(runner, home=home or "/home")
