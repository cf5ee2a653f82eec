"""Windows disk encryption (BitLocker) of the system volume; needs an elevated agent.

First choice: CIM ``Win32_EncryptableVolume`` through PowerShell ``ConvertTo-Json`` (numbers, not
words, so the same in every language): ProtectionStatus, ConversionStatus, EncryptionPercentage,
EncryptionMethod and the key protectors' types. ``Get-BitLockerVolume | ConvertTo-Json`` (its
VolumeStatus and KeyProtector list) is read the same way. Fallback: ``manage-bde -status``, whose
labels and values are localised; English and German are understood, anything else is unknown.

The factory "clear key" state (encrypted, protection off, no key protectors: Windows waiting for
activation) leaves the key in the clear on the disk: the volume is not protected and is reported
as not encrypted. Encrypted with protection off but protectors present is a suspension: partial.
Untested on a real Windows machine: the parsers are fed captured outputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.posture.commands import CommandRunner, run_command
from agent.posture.encryption import ENCRYPTED, NOT_ENCRYPTED, PARTIAL, UNKNOWN, EncryptionFacts

FULLY_DECRYPTED, FULLY_ENCRYPTED, ENCRYPTING, DECRYPTING, ENCRYPTION_PAUSED, DECRYPTION_PAUSED = range(6)
CONVERSION_NAMES = {
    "fullydecrypted": FULLY_DECRYPTED,
    "fullyencrypted": FULLY_ENCRYPTED,
    "encryptioninprogress": ENCRYPTING,
    "decryptioninprogress": DECRYPTING,
    "encryptionpaused": ENCRYPTION_PAUSED,
    "decryptionpaused": DECRYPTION_PAUSED,
}
ENCRYPTION_METHODS = {
    0: "None", 1: "AES 128 with Diffuser", 2: "AES 256 with Diffuser", 3: "AES 128", 4: "AES 256",
    5: "Hardware Encryption", 6: "XTS-AES 128", 7: "XTS-AES 256",
}
KEY_PROTECTOR_TYPES = {
    0: "Unknown", 1: "TPM", 2: "External Key", 3: "Numerical Password", 4: "TPM And PIN",
    5: "TPM And Startup Key", 6: "TPM And PIN And Startup Key", 7: "Public Key", 8: "Password",
    9: "TPM Network Key", 10: "AD Account Or Group",
}

CIM_SCRIPT = (
    "$ErrorActionPreference='Stop';"
    "$v=Get-CimInstance -Namespace 'root/cimv2/Security/MicrosoftVolumeEncryption' -ClassName Win32_EncryptableVolume"
    " -Filter \"DriveLetter='{drive}'\";"
    "if($null -eq $v){{'[]';exit 0}};"
    "$c=Invoke-CimMethod -InputObject $v -MethodName GetConversionStatus;"
    "$k=Invoke-CimMethod -InputObject $v -MethodName GetKeyProtectors;"
    "$t=@(foreach($i in $k.VolumeKeyProtectorID){{(Invoke-CimMethod -InputObject $v -MethodName GetKeyProtectorType"
    " -Arguments @{{VolumeKeyProtectorID=$i}}).KeyProtectorType}});"
    "[pscustomobject]@{{DriveLetter=$v.DriveLetter;ProtectionStatus=$v.ProtectionStatus;"
    "ConversionStatus=$c.ConversionStatus;EncryptionPercentage=$c.EncryptionPercentage;"
    "EncryptionMethod=$v.EncryptionMethod;KeyProtectorTypes=$t}}|ConvertTo-Json -Compress"
)

# manage-bde labels and values, English and German (lower-case, as compared).
_LABELS = {
    "conversion status": "conversion",
    "konvertierungsstatus": "conversion",
    "percentage encrypted": "percentage",
    "verschlüsselt (prozent)": "percentage",
    "encryption method": "method",
    "verschlüsselungsmethode": "method",
    "protection status": "protection",
    "schutzstatus": "protection",
    "key protectors": "protectors",
    "schlüsselschutzvorrichtungen": "protectors",
}
_CONVERSION_WORDS = {
    "fully decrypted": FULLY_DECRYPTED,
    "fully encrypted": FULLY_ENCRYPTED,
    "used space only encrypted": FULLY_ENCRYPTED,
    "encryption in progress": ENCRYPTING,
    "decryption in progress": DECRYPTING,
    "encryption paused": ENCRYPTION_PAUSED,
    "decryption paused": DECRYPTION_PAUSED,
    "vollständig entschlüsselt": FULLY_DECRYPTED,
    "vollständig verschlüsselt": FULLY_ENCRYPTED,
    "nur verwendeter speicherplatz verschlüsselt": FULLY_ENCRYPTED,
    "nur verwendeter speicherplatz ist verschlüsselt": FULLY_ENCRYPTED,
    "verschlüsselung wird durchgeführt": ENCRYPTING,
    "entschlüsselung wird durchgeführt": DECRYPTING,
    "verschlüsselung angehalten": ENCRYPTION_PAUSED,
    "entschlüsselung angehalten": DECRYPTION_PAUSED,
}
_PROTECTION_ON = ("protection on", "der schutz ist aktiviert", "aktiviert")
_PROTECTION_OFF = ("protection off", "der schutz ist deaktiviert", "deaktiviert")
_NO_PROTECTORS = ("none found", "keine gefunden")


@dataclass(frozen=True)
class BitLockerStatus:
    """One volume's BitLocker facts, whatever the source. None: the source did not say."""

    conversion: int | None
    protection_on: bool | None
    percentage: str | None = None
    method: str | None = None
    protectors: tuple[str, ...] | None = None
    conversion_text: str = ""


def judge_bitlocker(status: BitLockerStatus, source: str) -> EncryptionFacts:
    """The encryption posture of the system volume (the home directory is on it too)."""
    details = [f"source: {source}"]
    if status.conversion_text:
        details.append(f"conversion status: {status.conversion_text}")
    if status.percentage is not None:
        details.append(f"percentage encrypted: {status.percentage}")
    if status.method:
        details.append(f"encryption method: {status.method}")
    if status.protection_on is not None:
        details.append(f"protection: {'on' if status.protection_on else 'off'}")
    if status.protectors is not None:
        details.append(f"key protectors: {', '.join(status.protectors) or 'none'}")
    conversion = status.conversion
    if conversion is None:
        details.append("the conversion status was not understood (unrecognised language or output)")
        state = UNKNOWN
    elif conversion == FULLY_DECRYPTED:
        state = NOT_ENCRYPTED
    elif conversion == FULLY_ENCRYPTED and status.protection_on:
        state = ENCRYPTED
    elif conversion == FULLY_ENCRYPTED and status.protectors == ():
        state = NOT_ENCRYPTED
        details.append("clear key, no key protectors (waiting for activation): the volume is not protected")
    elif conversion == FULLY_ENCRYPTED:
        state = PARTIAL
        details.append("protection is suspended: the key is stored in the clear on the disk")
    else:
        state = PARTIAL
    details.append("home directory assumed to be on the system volume")
    return EncryptionFacts(state, state, "bitlocker", tuple(details))


# -- CIM / Get-BitLockerVolume JSON ----------------------------------------------------------------


def _number_or_name(value: Any, names: Mapping[str, int]) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return names.get(value.replace(" ", "").lower())
    return None


def _protector_name(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return KEY_PROTECTOR_TYPES.get(value, str(value))
    return str(value)


def parse_cim_json(text: str, drive: str = "C:") -> BitLockerStatus | None:
    """The status of ``drive`` from ``ConvertTo-Json`` output; None if it is not there or not JSON."""
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        return None
    volumes = parsed if isinstance(parsed, list) else [parsed]
    volumes = [v for v in volumes if isinstance(v, dict)]
    wanted = drive.upper().rstrip("\\")
    chosen = next(
        (v for v in volumes if str(v.get("DriveLetter") or v.get("MountPoint") or "").upper().rstrip("\\") == wanted),
        None,
    )
    if chosen is None:
        return None
    raw_conversion = chosen.get("ConversionStatus", chosen.get("VolumeStatus"))
    conversion = _number_or_name(raw_conversion, CONVERSION_NAMES)
    protection = _number_or_name(chosen.get("ProtectionStatus"), {"off": 0, "on": 1, "unknown": 2})
    method_value = chosen.get("EncryptionMethod")
    method = ENCRYPTION_METHODS.get(method_value) if isinstance(method_value, int) else method_value
    percentage = chosen.get("EncryptionPercentage")
    protectors: tuple[str, ...] | None = None
    if isinstance(chosen.get("KeyProtectorTypes"), list):
        protectors = tuple(_protector_name(t) for t in chosen["KeyProtectorTypes"])
    elif isinstance(chosen.get("KeyProtector"), list):
        entries = [p for p in chosen["KeyProtector"] if isinstance(p, dict)]
        protectors = tuple(_protector_name(p.get("KeyProtectorType")) for p in entries)
    conversion_text = next((k for k, v in CONVERSION_NAMES.items() if v == conversion), "")
    numeric = isinstance(percentage, int | float) and not isinstance(percentage, bool)
    return BitLockerStatus(
        conversion=conversion,
        protection_on=None if protection in (None, 2) else protection == 1,
        percentage=f"{percentage}%" if numeric else None,
        method=str(method) if method else None,
        protectors=protectors,
        conversion_text=conversion_text,
    )


# -- manage-bde ------------------------------------------------------------------------------------


def parse_manage_bde(text: str) -> dict[str, str]:
    """The indented ``Label:    value`` lines of one volume's status (labels as printed)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith((" ", "\t")):
            continue
        label, sep, value = line.strip().partition(":")
        if sep and value.strip():
            fields.setdefault(label.strip(), value.strip())
    return fields


def manage_bde_status(text: str) -> BitLockerStatus:
    """Read ``manage-bde -status`` in English or German into locale-independent facts."""
    fields: dict[str, str] = {}
    protectors: list[str] | None = None
    in_protectors = False
    for line in text.splitlines():
        if not line.startswith((" ", "\t")):
            in_protectors = False
            continue
        label, sep, value = line.strip().partition(":")
        canonical = _LABELS.get(label.strip().lower()) if sep else None
        if canonical is not None:
            in_protectors = canonical == "protectors"
            if in_protectors:
                protectors = [] if not value.strip() or value.strip().lower() in _NO_PROTECTORS else [value.strip()]
            else:
                fields.setdefault(canonical, value.strip())
            continue
        if in_protectors and protectors is not None and line.strip() and not sep:
            protectors.append(line.strip())
        elif sep:
            in_protectors = False
    conversion_text = fields.get("conversion", "")
    protection_text = fields.get("protection", "").lower()
    protection: bool | None = None
    if protection_text.startswith(_PROTECTION_OFF):
        protection = False
    elif protection_text.startswith(_PROTECTION_ON):
        protection = True
    return BitLockerStatus(
        conversion=_CONVERSION_WORDS.get(conversion_text.lower().rstrip(".")),
        protection_on=protection,
        percentage=fields.get("percentage"),
        method=fields.get("method"),
        protectors=tuple(protectors) if protectors is not None else None,
        conversion_text=conversion_text,
    )


def facts_from_manage_bde(text: str) -> EncryptionFacts:
    """BitLocker state of the system volume from ``manage-bde -status`` output."""
    status = manage_bde_status(text)
    if status.conversion is None and not status.conversion_text:
        error = next((ln.strip() for ln in text.splitlines() if ln.strip().upper().startswith(("ERROR", "FEHLER"))), "")
        return EncryptionFacts(method="bitlocker", details=(error or "manage-bde gave no conversion status",))
    return judge_bitlocker(status, "manage-bde")


class BitLockerReader:
    """CIM through PowerShell first, ``manage-bde -status <drive>`` when that gives nothing."""

    def __init__(self, runner: CommandRunner = run_command, system_drive: str = "C:") -> None:
        """``system_drive`` is %SystemDrive%, read at the entry point."""
        self._runner = runner
        self._drive = system_drive.upper().rstrip("\\")

    def _cim(self) -> BitLockerStatus | None:
        script = CIM_SCRIPT.format(drive=self._drive)
        result = self._runner(("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script), 30.0)
        return parse_cim_json(result.stdout, self._drive) if result.ok else None

    def __call__(self) -> EncryptionFacts:
        """Read the current facts."""
        status = self._cim()
        if status is not None:
            return judge_bitlocker(status, "cim")
        result = self._runner(("manage-bde", "-status", self._drive), 20.0)
        if result.returncode not in (0, 1) or not result.stdout:
            return EncryptionFacts(method="bitlocker", details=(f"manage-bde failed: {result.describe()}",))
        return facts_from_manage_bde(result.stdout)
