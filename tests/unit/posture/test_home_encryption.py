"""eCryptfs and systemd-homed homes are recognised as encrypted, from captured mounts and user records."""

from __future__ import annotations

from pathlib import Path

from agent.posture.encryption import ENCRYPTED, NOT_ENCRYPTED
from agent.posture.encryption_linux import LSBLK_ARGV, LsblkReader
from agent.posture.home_encryption import ecryptfs_home, homed_storage
from tests.unit.lock.fakes import canned_runner

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "posture"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def reader(home: str, files: dict[str, str], existing: frozenset[str] | set[str] = frozenset()) -> LsblkReader:
    return LsblkReader(
        canned_runner({LSBLK_ARGV: fixture("lsblk_plain.json")}),
        home=home,
        read_text=files.get,
        exists=lambda p: p in existing,
        mounts_path="/proc/self/mounts",
        homed_dir="/var/lib/systemd/home",
    )


def test_a_mounted_ecryptfs_home_is_encrypted_though_the_disk_is_not():
    facts = reader("/home/jtestperson", {"/proc/self/mounts": fixture("proc_mounts_ecryptfs_home.txt")})()
    assert (facts.system_volume, facts.home_volume) == (NOT_ENCRYPTED, ENCRYPTED)
    assert "ecryptfs" in facts.method and "home directory is an eCryptfs mount" in facts.details


def test_a_signed_out_ecryptfs_home_is_still_encrypted_at_rest():
    found = ecryptfs_home("/home/jtestperson", "", lambda p: p == "/home/.ecryptfs/jtestperson/.Private")
    assert found is not None and found.method == "ecryptfs"
    assert ecryptfs_home("/home/other", fixture("proc_mounts_ecryptfs_home.txt"), lambda p: False) is None


def test_a_systemd_homed_luks_home_is_encrypted():
    record = fixture("homed_user_record_luks.json")
    assert homed_storage(record) == "luks"
    facts = reader("/home/grobie", {"/var/lib/systemd/home/grobie.identity": record})()
    assert facts.home_volume == ENCRYPTED and "homed-luks" in facts.method
    plain = record.replace('"luks"', '"directory"')
    assert reader("/home/grobie", {"/var/lib/systemd/home/grobie.identity": plain})().home_volume == NOT_ENCRYPTED
    image_only = reader("/home/grobie", {}, {"/home/grobie.home"})()
    assert image_only.home_volume == ENCRYPTED


def test_a_plain_home_stays_not_encrypted():
    assert reader("/home/alice", {})().home_volume == NOT_ENCRYPTED
