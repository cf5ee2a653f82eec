"""BitLocker posture from CIM JSON (locale-independent) and manage-bde in English and German."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.posture.encryption import ENCRYPTED, NOT_ENCRYPTED, PARTIAL, UNKNOWN
from agent.posture.encryption_windows import BitLockerReader, facts_from_manage_bde, parse_cim_json
from tests.unit.lock.fakes import canned_runner

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "posture"


def fixture(name: str) -> str:
    """The fixture without its ``#`` origin header."""
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.startswith("#")) + "\n"


def cim_runner(cim: str | None = None, manage_bde: str | None = None):
    def run(argv, timeout_s=5.0):
        from agent.posture.commands import CommandResult

        if argv[0] == "powershell.exe" and cim is not None:
            return CommandResult(tuple(argv), 0, cim, "")
        if argv[0] == "manage-bde" and manage_bde is not None:
            return CommandResult(tuple(argv), 0, manage_bde, "")
        return CommandResult(tuple(argv), 127, "", f"{argv[0]}: command not found")

    return run


@pytest.mark.parametrize(
    ("name", "state", "detail"),
    [
        ("manage-bde_clear_key.txt", NOT_ENCRYPTED, "clear key, no key protectors (waiting for activation): "
                                                    "the volume is not protected"),
        ("manage-bde_german_decrypted.txt", NOT_ENCRYPTED, "conversion status: Vollständig entschlüsselt"),
        ("manage-bde_german_used_space_on.txt", ENCRYPTED, "key protectors: TPM, Numerisches Kennwort"),
        ("manage-bde_suspended.txt", PARTIAL, "protection is suspended: the key is stored in the clear on the disk"),
        ("manage-bde_on.txt", ENCRYPTED, "protection: on"),
    ],
)
def test_manage_bde_in_english_and_german(name, state, detail):
    facts = facts_from_manage_bde(fixture(name))
    assert facts.system_volume == state, facts.details
    assert detail in facts.details


def test_an_unknown_language_is_unknown_not_a_guess():
    french = fixture("manage-bde_german_decrypted.txt").replace("Konvertierungsstatus", "État de la conversion")
    assert facts_from_manage_bde(french).system_volume == UNKNOWN


def test_cim_json_of_get_bitlockervolume_picks_the_system_drive():
    status = parse_cim_json(fixture("bitlocker_volume_json_on.txt"), "C:")
    assert status is not None and status.protectors == ("Numerical Password", "TPM")
    facts = BitLockerReader(cim_runner(cim=fixture("bitlocker_volume_json_on.txt")))()
    assert facts.system_volume == ENCRYPTED and "source: cim" in facts.details
    assert "encryption method: XTS-AES 128" in facts.details
    data = BitLockerReader(cim_runner(cim=fixture("bitlocker_volume_json_on.txt")), system_drive="E:")()
    assert data.system_volume == NOT_ENCRYPTED


def test_cim_clear_key_is_not_protected():
    facts = BitLockerReader(cim_runner(cim=fixture("cim_encryptable_volume_clear_key.txt")))()
    assert facts.system_volume == NOT_ENCRYPTED
    assert "key protectors: none" in facts.details


def test_manage_bde_is_the_fallback_when_powershell_gives_nothing():
    facts = BitLockerReader(cim_runner(cim="", manage_bde=fixture("manage-bde_german_decrypted.txt")))()
    assert facts.system_volume == NOT_ENCRYPTED and "source: manage-bde" in facts.details
    facts = BitLockerReader(canned_runner({("manage-bde", "-status", "C:"): fixture("manage-bde_clear_key.txt")}))()
    assert facts.system_volume == NOT_ENCRYPTED


def test_windows_console_output_is_decoded_with_the_oem_code_page():
    from agent.posture.commands import console_encoding

    assert console_encoding("win32") == "oem"
    # What a German manage-bde writes to a pipe (cp850) decodes to text the parser understands.
    german = fixture("manage-bde_german_decrypted.txt").encode("cp850").decode("cp850")
    assert facts_from_manage_bde(german).system_volume == NOT_ENCRYPTED
