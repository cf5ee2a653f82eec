"""Fixtures for integration tests: a PKI, a collector and agents, all cleaned up."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Agent, Collector, Inbox, free_port, private_media_root
from tests.integration.xvfb import NotificationDaemon, XServer, run_notification_daemon, run_xserver


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    c = Collector(tmp_path / "collector")
    c.data_dir.mkdir()
    c.init_pki()
    yield c
    c.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on a loopback port, and the messages it accepted."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def media_root() -> Iterator[Path]:
    """This test's own udisks-style media root under /media; the test agents look nowhere else."""
    root = private_media_root()
    yield root
    if root.exists():
        mounted = [p for p in root.glob("*/*") if os.path.ismount(p)]
        assert not mounted, f"still mounted after the test: {mounted}"
        shutil.rmtree(root)


@pytest.fixture
def make_agent(tmp_path: Path, collector: Collector, media_root: Path) -> Iterator[Callable[..., Agent]]:
    agents: list[Agent] = []

    def make(name: str, settings: str = "", addresses: list[str] | None = None) -> Agent:
        certs = collector.issue(name, tmp_path / f"{name}-certs")
        a = Agent(tmp_path, name, addresses or [collector.address], certs, settings, media_root=media_root)
        a.write_config()
        agents.append(a)
        return a

    yield make
    for a in agents:
        for p in [a.proc, *a.session_procs]:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(5)


@pytest.fixture
def xserver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[XServer]:
    """A real X server (Xvfb -noreset) for this test."""
    yield from run_xserver(monkeypatch, tmp_path)


@pytest.fixture
def notification_daemon(xserver: XServer, tmp_path: Path) -> Iterator[NotificationDaemon]:
    """A private session bus with dunst showing notifications on ``xserver`` (each one recorded)."""
    yield from run_notification_daemon(xserver, tmp_path)
