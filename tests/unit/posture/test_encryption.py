"""Disk encryption posture from every lsblk, manage-bde and fdesetup fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import json_format

from agent.posture.commands import CommandResult
from agent.posture.encryption import (
    ENCRYPTED,
    NOT_ENCRYPTED,
    PARTIAL,
    UNKNOWN,
    encryption_reader,
    overall_state,
)
from agent.posture.encryption_linux import (
    LSBLK_ARGV,
    LSBLK_ARGV_OLD,
    LsblkReader,
    chains_up,
    facts_from_lsblk,
    parse_lsblk,
)
from agent.posture.encryption_macos import FileVaultReader, facts_from_fdesetup
from agent.posture.encryption_windows import BitLockerReader, facts_from_manage_bde
from caseguard.v1 import events_pb2
from tests.unit.lock.fakes import canned_runner

FIXTURES = Path(__file__).parents[2] / "fixtures" / "posture"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.mark.parametrize(
    ("name", "home", "system", "home_state", "method"),
    [
        ("lsblk_luks_lvm_root.json", "/home/alice", ENCRYPTED, ENCRYPTED, "luks2"),
        ("lsblk_plain.json", "/home/alice", NOT_ENCRYPTED, NOT_ENCRYPTED, ""),
        ("lsblk_luks_home_only.json", "/home/alice", NOT_ENCRYPTED, ENCRYPTED, "luks1"),
        ("lsblk_lvm_mixed_pvs.json", "/home/alice", PARTIAL, PARTIAL, "luks2"),
        ("lsblk_old_mountpoint_plain_dmcrypt.json", "/home/alice", ENCRYPTED, ENCRYPTED, "dm-crypt"),
        ("lsblk_container_overlay.json", "/home/alice", UNKNOWN, UNKNOWN, ""),
    ],
)
def test_lsblk_walk(name, home, system, home_state, method):
    facts = facts_from_lsblk(fixture(name), home)
    assert (facts.system_volume, facts.home_volume, facts.method) == (system, home_state, method)
    json_format.ParseDict(facts.body(), events_pb2.EncryptionPosture())
    assert not any("alice" in d for d in facts.details)  # the home path is never reported


def test_details_name_devices_and_unencrypted_swap():
    plain = facts_from_lsblk(fixture("lsblk_plain.json"), "/home/alice")
    assert plain.details == (
        "root filesystem on sda2 is not on an encrypted device",
        "home directory is on the root filesystem",
        "swap on sda3 is not encrypted",
    )
    luks = facts_from_lsblk(fixture("lsblk_luks_lvm_root.json"), "/home/alice")
    assert luks.details[0] == "root filesystem on vgubuntu-root is inside luks2"
    assert not any("swap" in d for d in luks.details)  # swap is inside the LUKS container too


def test_graph_folds_tree_and_pkname_and_finds_every_chain():
    devices = parse_lsblk(fixture("lsblk_lvm_mixed_pvs.json"))
    assert devices["dm-2"].parents == {"dm-0", "sdb"}
    assert sorted(chains_up("dm-2", devices)) == [("dm-2", "dm-0", "sda1", "sda"), ("dm-2", "sdb")]


def test_chains_survive_a_cycle():
    text = json.dumps(
        {
            "blockdevices": [
                {"name": "a", "kname": "a", "type": "disk", "pkname": "b"},
                {"name": "b", "kname": "b", "type": "crypt", "pkname": "a", "mountpoints": ["/"]},
            ]
        }
    )
    assert facts_from_lsblk(text, "/home/x").system_volume == ENCRYPTED


def test_lsblk_reader_falls_back_to_old_columns_and_reports_failure():
    old = canned_runner(
        {
            LSBLK_ARGV: CommandResult((), 1, "", "lsblk: unknown column: MOUNTPOINTS"),
            LSBLK_ARGV_OLD: fixture("lsblk_old_mountpoint_plain_dmcrypt.json"),
        }
    )
    assert LsblkReader(old, home="/home/bob")().system_volume == ENCRYPTED
    broken = LsblkReader(canned_runner({}), home="/home/bob")()
    assert broken.system_volume == UNKNOWN and broken.details[0].startswith("lsblk failed")
    garbage = LsblkReader(canned_runner({LSBLK_ARGV: "{not json"}), home="/home/bob")()
    assert garbage.system_volume == UNKNOWN


@pytest.mark.parametrize(
    ("name", "state", "detail"),
    [
        ("manage-bde_on.txt", ENCRYPTED, "encryption method: XTS-AES 128"),
        ("manage-bde_off.txt", NOT_ENCRYPTED, "conversion status: Fully Decrypted"),
        ("manage-bde_in_progress.txt", PARTIAL, "percentage encrypted: 37.4%"),
        ("manage-bde_suspended.txt", PARTIAL, "protection is suspended: the key is stored in the clear on the disk"),
        ("manage-bde_denied.txt", UNKNOWN, "ERROR: An attempt to access a required resource was denied."),
    ],
)
def test_bitlocker(name, state, detail):
    facts = facts_from_manage_bde(fixture(name))
    assert facts.system_volume == state and facts.home_volume == state
    assert facts.method == "bitlocker"
    assert detail in facts.details
    json_format.ParseDict(facts.body(), events_pb2.EncryptionPosture())


def test_bitlocker_reader_accepts_crlf_output():
    text = fixture("manage-bde_on.txt").replace("\n", "\r\n")
    runner = canned_runner({("manage-bde", "-status", "C:"): text})
    assert BitLockerReader(runner)().system_volume == ENCRYPTED


@pytest.mark.parametrize(
    ("name", "state", "detail"),
    [
        ("fdesetup_on.txt", ENCRYPTED, None),
        ("fdesetup_off.txt", NOT_ENCRYPTED, None),
        ("fdesetup_in_progress.txt", PARTIAL, "encryption in progress, 42.7% done"),
        ("fdesetup_pending_restart.txt", NOT_ENCRYPTED, "FileVault will be enabled after the next restart"),
        ("fdesetup_deferred.txt", NOT_ENCRYPTED, "FileVault enablement is deferred until the next login"),
    ],
)
def test_filevault(name, state, detail):
    facts = facts_from_fdesetup(fixture(name))
    assert facts.system_volume == state and facts.method == "filevault"
    if detail:
        assert detail in facts.details
    assert not any("alice" in d for d in facts.details)


def test_filevault_reader_failure_is_unknown():
    assert FileVaultReader(canned_runner({}))().system_volume == UNKNOWN


def test_overall_state_and_reader_choice():
    assert overall_state(ENCRYPTED, ENCRYPTED) == ENCRYPTED
    assert overall_state(NOT_ENCRYPTED, ENCRYPTED) == PARTIAL
    assert overall_state(UNKNOWN, ENCRYPTED) == UNKNOWN
    assert isinstance(encryption_reader("win32"), BitLockerReader)
    assert isinstance(encryption_reader("darwin"), FileVaultReader)
    assert isinstance(encryption_reader("linux", home="/home/x"), LsblkReader)
