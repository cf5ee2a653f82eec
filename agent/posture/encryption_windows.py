"""Windows disk encryption from ``manage-bde -status C:`` (BitLocker; needs an elevated agent).

Output is localised on non-English Windows; only the English labels are understood here,
anything else reads as unknown. Untested on this box except for the parser.
"""

from __future__ import annotations

from agent.posture.commands import CommandRunner, run_command
from agent.posture.encryption import ENCRYPTED, NOT_ENCRYPTED, PARTIAL, UNKNOWN, EncryptionFacts


def parse_manage_bde(text: str) -> dict[str, str]:
    """The indented ``Label:    value`` lines of one volume's status."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith((" ", "\t")):
            continue
        label, sep, value = line.strip().partition(":")
        if sep and value.strip():
            fields.setdefault(label.strip(), value.strip())
    return fields


def facts_from_manage_bde(text: str) -> EncryptionFacts:
    """BitLocker state of the system volume (the home directory is on it too)."""
    fields = parse_manage_bde(text)
    conversion = fields.get("Conversion Status", "")
    protection = fields.get("Protection Status", "")
    if not conversion:
        error = next((ln.strip() for ln in text.splitlines() if ln.strip().upper().startswith("ERROR")), "")
        return EncryptionFacts(method="bitlocker", details=(error or "manage-bde gave no conversion status",))
    details = [f"conversion status: {conversion}"]
    for label in ("Percentage Encrypted", "Encryption Method", "Protection Status"):
        if label in fields:
            details.append(f"{label.lower()}: {fields[label]}")
    protected = protection.startswith("Protection On")
    if conversion in ("Fully Encrypted", "Used Space Only Encrypted"):
        state = ENCRYPTED if protected else PARTIAL
        if not protected:
            details.append("protection is suspended: the key is stored in the clear on the disk")
    elif conversion == "Fully Decrypted":
        state = NOT_ENCRYPTED
    elif "in Progress" in conversion or "Paused" in conversion:
        state = PARTIAL
    else:
        state = UNKNOWN
    details.append("home directory assumed to be on the system volume")
    return EncryptionFacts(state, state, "bitlocker", tuple(details))


class BitLockerReader:
    """Runs ``manage-bde -status <drive>``."""

    def __init__(self, runner: CommandRunner = run_command, system_drive: str = "C:") -> None:
        """``system_drive`` is %SystemDrive%, read at the entry point."""
        self._runner = runner
        self._drive = system_drive

    def __call__(self) -> EncryptionFacts:
        """Read the current facts."""
        result = self._runner(("manage-bde", "-status", self._drive), 20.0)
        if result.returncode not in (0, 1) or not result.stdout:
            return EncryptionFacts(method="bitlocker", details=(f"manage-bde failed: {result.describe()}",))
        return facts_from_manage_bde(result.stdout)
