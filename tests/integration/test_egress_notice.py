"""The person at the laptop is told at the moment a case file lands in a personal folder (issue 13).

Real parts: the real agent judges an exact copy of a protected record saved to a personal
sync folder and sends ``case_file_egress`` to the real collector; the real session component,
running in an Xvfb desktop session with its own D-Bus session bus, shows the notice through
notify-send, and dunst (a real notification daemon) displays it; what dunst displayed is what
the test reads. The notice never names the file, and copying several files in one burst shows
one notice, not one per file; a file saved to another person's folder is told to that person's sessions only.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config import EgressSettings
from tests.integration.harness import Agent, Collector, wait_for
from tests.integration.test_egress_agent import _events
from tests.integration.xvfb import NotificationDaemon, XServer
from tests.unit.classify.documents import make_docx
from tests.unit.classify.synthetic import case_file_paragraphs

pytestmark = pytest.mark.integration


def _notices(daemon: NotificationDaemon) -> list[tuple[str, str, str]]:
    return [n for n in daemon.notifications() if n[0] == "Caseguard"]


def test_a_case_file_saved_to_a_personal_folder_is_told_to_the_person_at_once(
    collector: Collector,
    make_agent: Callable[..., Agent],
    xserver: XServer,
    notification_daemon: NotificationDaemon,
    tmp_path: Path,
) -> None:
    personal = tmp_path / "home" / "Personal Sync"
    theirs = tmp_path / "home-4242" / "Personal Sync"
    protected = tmp_path / "casestore"
    personal.mkdir(parents=True)
    theirs.mkdir(parents=True)
    os.chown(theirs, 4242, 4242)  # another person's folder
    protected.mkdir()
    (tmp_path / "org.key").write_bytes(os.urandom(32).hex().encode())
    record = make_docx(case_file_paragraphs(random.Random(13), paragraphs=14, reference="CS-104251"))
    (protected / "Testcase-Oliver-CP-plan.docx").write_bytes(record)
    settings = (
        f'[egress]\npersonal_dirs = ["{personal}", "{theirs}"]\nsettle_s = 0.5\nburst_gap_s = 3.0\n'
        f'[case_files]\nroots = ["{protected}"]\n'
        f'[privacy]\norg_key_file = "{tmp_path / "org.key"}"\n'
        "[lock]\nidle_timeout_s = 600\nwarn_s = 30\n"
    )
    collector.start()
    agent = make_agent("laptop-n", settings=settings)
    agent.start()
    wait_for(agent.session_socket.exists, 15, "the agent's session channel")
    agent.start_session(notification_daemon.env(xserver))
    wait_for(lambda: bool(_events(collector, "laptop-n", "lock_posture")), 20, "the session component")
    wait_for(lambda: (agent.root / "laptop-n-state" / "protected").exists(), 10, "the protected index")
    time.sleep(2)
    assert _notices(notification_daemon) == [], "a notice before anything was saved"

    saved = time.monotonic()
    (personal / "oliver-for-home.docx").write_bytes(record)
    wait_for(lambda: bool(_notices(notification_daemon)), 20, "the notice on the desktop")
    took = time.monotonic() - saved
    [(_, title, body)] = _notices(notification_daemon)
    assert body == EgressSettings().notice_personal  # the policy's words, as dunst displayed them
    assert "personal folders" in body and "will be told" in body
    assert "oliver" not in (title + body).lower() and ".docx" not in body  # never the file's name
    wait_for(lambda: bool(_events(collector, "laptop-n", "case_file_egress")), 20, "the event at the collector")

    # Three more copies in one burst (after the first burst has ended): one more notice, not three.
    time.sleep(4)
    for i in range(3):
        (personal / f"copy-{i}.docx").write_bytes(record)
    wait_for(lambda: len(_events(collector, "laptop-n", "case_file_egress")) >= 4, 30, "the burst's events")
    time.sleep(3)  # a second or third notice would show within the session's 1 s poll
    assert len(_notices(notification_daemon)) == 2

    # A file saved to another person's personal folder (uid 4242's) is told to that person's sessions,
    # not to this one; root's folder above was told to every session.
    time.sleep(4)  # a new burst
    (theirs / "for-home.docx").write_bytes(record)
    wait_for(lambda: len(_events(collector, "laptop-n", "case_file_egress")) >= 5, 30, "their file's event")
    time.sleep(3)
    assert len(_notices(notification_daemon)) == 2, "another person's notice was shown in this session"
    print(f"notice shown {took:.1f} s after the file was saved")
