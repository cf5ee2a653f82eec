"""``[egress] media_roots``: where a loop-mounted image counts as a removable volume (Linux)."""

from __future__ import annotations

from pathlib import Path

from agent.config import load_config
from agent.egress.volumes_linux import LinuxVolumeSource
from tests.unit.egress.fake_system import build_laptop

BASE = """
state_dir = "state"
[collector]
address = "collector.example:7443"
ca = "ca.pem"
cert = "device.pem"
key = "device.key"
"""


def test_media_roots_default_to_where_udisks_mounts(tmp_path: Path) -> None:
    (tmp_path / "agent.toml").write_text(BASE)
    assert load_config(tmp_path / "agent.toml").egress.media_roots == (Path("/media"), Path("/run/media"))


def test_media_roots_can_be_set(tmp_path: Path) -> None:
    (tmp_path / "agent.toml").write_text(BASE + '[egress]\nmedia_roots = ["/media/test-1"]\n')
    assert load_config(tmp_path / "agent.toml").egress.media_roots == (Path("/media/test-1"),)


def test_a_loop_image_outside_the_configured_roots_is_not_a_volume(tmp_path: Path) -> None:
    laptop = build_laptop(tmp_path)
    own_root = LinuxVolumeSource(
        b"k", proc_root=laptop.proc, sys_root=laptop.sys, dev_root=laptop.dev, media_roots=["/media/bob"]
    )
    usual = LinuxVolumeSource(b"k", proc_root=laptop.proc, sys_root=laptop.sys, dev_root=laptop.dev)
    loops = {v.identity.mount_point for v in usual.snapshot() if v.identity.bus == "loop"}
    assert loops == {"/media/alice/CGTEST"}
    assert not [v for v in own_root.snapshot() if v.identity.bus == "loop"]
    # USB and SD-card disks are removable wherever they are mounted: the roots only place loop images.
    assert {v.identity.bus for v in own_root.snapshot()} == {"usb", "sd"}

