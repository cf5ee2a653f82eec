"""Notices to the IG team through a real SMTP server (aiosmtpd) and a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from collector.notify.mail import SmtpChannel, SmtpSettings
from collector.notify.webhook import WebhookChannel, WebhookSettings
from collector.workflow.service import WorkflowService
from tests.integration.harness import Agent, Collector, Inbox, free_port, run_cli, wait_for
from tests.unit.workflow.helpers import EGRESS, T0, World

pytestmark = pytest.mark.integration


@pytest.fixture
def webhook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received, f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_each_deadline_warning_is_mailed_exactly_once(tmp_path: Path, smtp: tuple[Inbox, int], webhook) -> None:
    inbox, port = smtp
    posted, url = webhook
    world = World(tmp_path / "collector.sqlite3")
    try:
        service = WorkflowService(
            world.store,
            email=SmtpChannel(SmtpSettings("127.0.0.1", port, sender="caseguard@test", to=("ig@test",))),
            webhook=WebhookChannel(WebhookSettings(url)),
            clock=world.clock,
        )
        world.emit(world.device("laptop-1"), "case_file_egress", EGRESS)
        service.tick()
        [record] = world.store.list_incidents()
        service.commands.confirm(record.incident_id, by="ig.officer", aware_at=T0, reason="confirmed copy")
        # The injected clock walks past every threshold, ticking twice at each stop.
        for hours in (24, 47.9, 48.1, 55, 60.1, 64, 68.1, 70, 72.1, 90):
            world.clock.now = T0 + timedelta(hours=hours)
            service.tick()
            service.tick()
        warnings = inbox.notices("deadline_warning")
        assert [m["Subject"].split(": ", 1)[1] for m in warnings] == ["ICO deadline Thu 23 Oct 2025, 10:00 BST"] * 4
        bodies = [str(m.get_payload()) for m in warnings]
        assert [next(line for line in b.splitlines() if line.startswith("Warning:")) for b in bodies] == [
            "Warning: statutory:86400",
            "Warning: statutory:43200",
            "Warning: statutory:14400",
            "Warning: statutory:0",
        ]
        assert len(inbox.notices("new_incident")) == 1
        hooked = [p["notice"]["warning"] for p in posted if p["kind"] == "deadline_warning"]
        assert hooked == ["statutory:86400", "statutory:43200", "statutory:14400", "statutory:0"]
        assert "Child A" not in json.dumps(posted) and all("Child A" not in m.as_string() for m in inbox.messages)
    finally:
        world.close()


def test_an_unreachable_server_is_retried_until_it_answers(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    world = World(tmp_path / "collector.sqlite3")
    try:
        dead = WorkflowService(
            world.store, email=SmtpChannel(SmtpSettings("127.0.0.1", free_port(), to=("ig@test",))), clock=world.clock
        )
        world.emit(world.device("laptop-1"), "case_file_egress", EGRESS)
        assert dead.tick().dispatch.failed == 1
        live = WorkflowService(
            world.store, email=SmtpChannel(SmtpSettings("127.0.0.1", port, to=("ig@test",))), clock=world.clock
        )
        assert live.tick().dispatch.delivered == 0  # not due yet: backing off
        world.clock.advance(minutes=1)
        assert live.tick().dispatch.delivered == 1 and len(inbox.notices("new_incident")) == 1
        assert live.tick().dispatch.delivered == 0
    finally:
        world.close()


class ConfiguredCollector(Collector):
    """`caseguard-collector serve --config FILE`."""

    config: Path | None = None

    def start(self, *extra_args: str) -> None:
        assert self.config is not None
        super().start("--config", str(self.config), *extra_args)


def test_serve_mails_and_posts_a_new_incident(
    tmp_path: Path, smtp: tuple[Inbox, int], webhook, make_agent: Callable[..., Agent], collector: Collector
) -> None:
    inbox, port = smtp
    posted, url = webhook
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[organisation]\nname = "Example Council"\nico_registration_number = "Z0000000"\n'
        f'[notify.email]\nhost = "127.0.0.1"\nport = {port}\nto = ["ig@test"]\n'
        f'[notify.webhook]\nurl = "{url}"\n[workflow]\ntick_interval_s = 1\n'
    )
    served = ConfiguredCollector(collector.data_dir, port=collector.port)
    served.config = config
    served.start()
    try:
        agent = make_agent("laptop-1")
        run_cli(
            "agent", "emit", "--config", str(agent.config), "--kind", "case_file_egress", "--body", json.dumps(EGRESS)
        )
        agent.start()
        wait_for(lambda: len(inbox.notices("new_incident")) == 1, 30, "the new-incident email")
        wait_for(lambda: any(p["kind"] == "new_incident" for p in posted), 10, "the new-incident webhook")
        mail = inbox.notices("new_incident")[0]
        assert mail["Subject"].startswith("[Caseguard] INC-") and "new suspected breach" in mail["Subject"]
        notice = next(p["notice"] for p in posted if p["kind"] == "new_incident")
        assert notice["devices"] == ["laptop-1"] and notice["destination_classes"] == ["removable_volume"]
        assert (
            notice["clock"] == "provisional" and notice["deadline"] and notice["risk_grade"] in ("reportable", "high")
        )
        agent.stop()
    finally:
        served.stop()


def test_with_no_channel_nothing_counts_as_sent_and_every_notice_goes_out_once_one_is_configured(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    world = World(tmp_path / "collector.sqlite3")
    try:
        silent = WorkflowService(world.store, clock=world.clock)
        world.emit(world.device("laptop-1"), "case_file_egress", EGRESS)
        report = silent.tick().dispatch
        assert (report.delivered, report.unsent) == (0, 1)
        assert silent.tick().dispatch.unsent == 1  # still queued, still not sent
        live = WorkflowService(
            world.store, email=SmtpChannel(SmtpSettings("127.0.0.1", port, to=("ig@test",))), clock=world.clock
        )
        assert live.tick().dispatch.delivered == 1 and len(inbox.notices("new_incident")) == 1
    finally:
        world.close()


def test_serve_without_a_channel_warns_and_tells_the_reporter_nobody_was_alerted(
    collector: Collector, make_agent: Callable[..., Agent]
) -> None:
    collector.start()
    reporter = make_agent("desk-laptop")
    make_agent("lost-laptop")
    reply = run_cli("agent", "report-lost", "--config", str(reporter.config), "--device", "lost-laptop")
    assert "nobody has been alerted automatically" in reply.stdout
    assert "information-governance team is being alerted" not in reply.stdout
    wait_for(lambda: "no notification channel is configured" in collector.log(), 10, "the start-up warning")


def test_notify_test_sends_on_every_channel_and_says_which_failed(
    tmp_path: Path, smtp: tuple[Inbox, int], webhook, collector: Collector
) -> None:
    inbox, port = smtp
    posted, url = webhook
    config = tmp_path / "collector.toml"
    config.write_text(f'[notify.email]\nhost = "127.0.0.1"\nport = {port}\nto = ["ig@test"]\n'
                      f'[notify.webhook]\nurl = "{url}"\n')
    data = ["--data-dir", str(collector.data_dir), "--config", str(config)]
    ok = run_cli("collector", "notify", "test", *data)
    assert "email: delivered" in ok.stdout and "webhook: delivered" in ok.stdout
    assert len(inbox.notices("test")) == 1 and [p["kind"] for p in posted] == ["test"]
    config.write_text(f'[notify.email]\nhost = "127.0.0.1"\nport = {free_port()}\nto = ["ig@test"]\n')
    broken = run_cli("collector", "notify", "test", *data, check=False)
    assert broken.returncode == 1 and "email: NOT delivered" in broken.stdout and "Traceback" not in broken.stderr
    config.write_text("")
    none = run_cli("collector", "notify", "test", *data, check=False)
    assert none.returncode == 1 and "no notification channel is configured" in none.stderr
