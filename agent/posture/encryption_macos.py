"""macOS disk encryption from ``fdesetup status`` (FileVault). Untested on this box except
for the parser. The home directory lives on the Data volume that FileVault protects."""

from __future__ import annotations

import re

from agent.posture.commands import CommandRunner, run_command
from agent.posture.encryption import ENCRYPTED, NOT_ENCRYPTED, PARTIAL, UNKNOWN, EncryptionFacts

_PERCENT = re.compile(r"Percent completed = ([\d.]+)")


def facts_from_fdesetup(text: str) -> EncryptionFacts:
    """FileVault state from ``fdesetup status`` output."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    details: list[str] = []
    state = UNKNOWN
    for line in lines:
        if line.startswith("FileVault is On"):
            state = ENCRYPTED
        elif line.startswith("FileVault is Off"):
            state = NOT_ENCRYPTED
            if "will be enabled" in line:
                details.append("FileVault will be enabled after the next restart")
        elif line.startswith(("Encryption in progress", "Decryption in progress")):
            state = PARTIAL
            percent = _PERCENT.search(line)
            verb = line.split()[0].lower()
            details.append(f"{verb} in progress" + (f", {percent.group(1)}% done" if percent else ""))
        elif line.startswith("Deferred enablement"):
            details.append("FileVault enablement is deferred until the next login")
    if state == UNKNOWN:
        details.append("fdesetup status not understood")
    details.append("home directory is on the FileVault-protected data volume")
    return EncryptionFacts(state, state, "filevault", tuple(details))


class FileVaultReader:
    """Runs ``fdesetup status``."""

    def __init__(self, runner: CommandRunner = run_command) -> None:
        """Keep the runner."""
        self._runner = runner

    def __call__(self) -> EncryptionFacts:
        """Read the current facts."""
        result = self._runner(("fdesetup", "status"), 10.0)
        if not result.ok:
            return EncryptionFacts(method="filevault", details=(f"fdesetup failed: {result.describe()}",))
        return facts_from_fdesetup(result.stdout)
