"""Several collector processes sharing one PostgreSQL: failover without loss or duplicates, and the workflow."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from aiosmtpd.controller import Controller

from tests.integration.harness import EGRESS, Agent, Collector, free_port, run_cli, wait_for
from tests.postgres_server import create_database, drop_database

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(postgres_server_url: str, collector: Collector) -> Iterator[str]:
    """A fresh, migrated database that the ``collector`` fixture (and its agents' enrolment) uses."""
    url = create_database(postgres_server_url)
    out = run_cli("collector", "migrate", "--data-dir", str(collector.data_dir), "--database-url", url).stdout
    assert "version 0 -> " in out, out
    collector.database_url = url
    yield url
    drop_database(postgres_server_url, url)


def _sql(url: str, query: str, *params: Any) -> tuple[Any, ...]:
    with psycopg.connect(url) as db:
        row = db.execute(query, params).fetchone()
    assert row is not None
    return tuple(row)


def _stored(url: str, device: str) -> int:
    return int(_sql(url, "SELECT COUNT(*) FROM events WHERE kind = 'test' AND device = %s", device)[0])


def _talking_to(agent: Agent, collectors: list[Collector]) -> Collector | None:
    """The collector the agent process has a connection open to, if any."""
    assert agent.proc is not None
    ports = {c.port: c for c in collectors}
    for conn in psutil.Process(agent.proc.pid).net_connections(kind="tcp"):
        if conn.status == psutil.CONN_ESTABLISHED and conn.raddr and conn.raddr.port in ports:
            return ports[conn.raddr.port]
    return None


def test_two_collectors_share_postgres_and_a_kill_mid_stream_loses_and_duplicates_nothing(
    collector: Collector, database_url: str, make_agent: Callable[..., Agent]
) -> None:
    second = Collector(collector.data_dir, database_url=database_url)  # same PKI, same database, another port
    collectors = [collector, second]
    try:
        for c in collectors:
            c.start()
        agent = make_agent(
            "laptop-f", settings="[outbox]\nbatch_size = 100\n", addresses=[c.address for c in collectors]
        )
        agent.emit(20_000)
        agent.start()
        wait_for(lambda: _stored(database_url, "laptop-f") >= 2_000, 60, "delivery under way", interval=0.01)
        victim = _talking_to(agent, collectors)
        assert victim is not None, "the agent should be connected to one of the collectors"
        victim.kill9()
        at_kill = _stored(database_url, "laptop-f")
        assert at_kill < 20_000, "the kill must land mid-stream for this test to mean anything"
        survivor = next(c for c in collectors if c is not victim)
        wait_for(lambda: _stored(database_url, "laptop-f") >= 20_000, 180, "all 20,000 events via the other collector")
        assert _talking_to(agent, collectors) in (survivor, None)
        time.sleep(1.5)  # anything duplicated would land now
        total, distinct, seqs = _sql(
            database_url,
            "SELECT COUNT(*), COUNT(DISTINCT event_id), COUNT(DISTINCT seq) FROM events"
            " WHERE kind = 'test' AND device = 'laptop-f'",
        )
        assert (total, distinct, seqs) == (20_000, 20_000, 20_000)
        assert _sql(database_url, "SELECT COUNT(*) FROM sequence_gaps WHERE explained IS NULL") == (0,)
        assert "failed; retrying" not in survivor.log(), "the survivor's breach workflow must keep up"
        assert not (collector.data_dir / "collector.sqlite3").exists(), "nothing may be kept in SQLite"
        print(f"collector on port {victim.port} was killed with {at_kill} of 20000 stored")
    finally:
        second.stop()


def test_an_egress_event_through_a_postgres_collector_opens_an_incident(
    collector: Collector, database_url: str, make_agent: Callable[..., Agent]
) -> None:
    collector.start()
    agent = make_agent("laptop-e")
    run_cli("agent", "emit", "--config", str(agent.config), "--kind", "case_file_egress", "--body", json.dumps(EGRESS))
    agent.start()

    def incidents() -> list[dict[str, Any]]:
        out = run_cli("collector", "incidents", "list", *collector.store_args, "--json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    wait_for(lambda: len(incidents()) == 1, 30, "an incident from the egress event")
    [incident] = incidents()
    assert incident["state"] == "suspected" and incident["incident_id"].startswith("INC-")
    audit = run_cli("collector", "audit", "verify", *collector.store_args, "--json", check=False)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert not (collector.data_dir / "collector.sqlite3").exists(), "nothing may be kept in SQLite"


class SlowInbox:
    """An SMTP handler that takes its time over each message (so two senders would overlap)."""

    def __init__(self) -> None:
        self.incidents: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.5)
        mail = message_from_bytes(envelope.content)
        if mail["X-Caseguard-Notice"] == "new_incident":
            self.incidents.append(str(mail["Subject"]).split()[1])
        return "250 OK"


def test_two_collectors_on_one_database_mail_each_notice_once(
    tmp_path: Path, collector: Collector, database_url: str, make_agent: Callable[..., Agent]
) -> None:
    inbox = SlowInbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[notify.email]\nhost = "127.0.0.1"\nport = {smtp.port}\nto = ["ig@test"]\n[workflow]\ntick_interval_s = 1\n'
    )
    second = Collector(collector.data_dir, database_url=database_url)
    try:
        for c in (collector, second):
            c.start("--config", str(config))
        for n in range(4):  # four devices, each one egress: four incidents, four new-incident notices
            agent = make_agent(f"laptop-{n}", addresses=[(collector, second)[n % 2].address])
            run_cli("agent", "emit", "--config", str(agent.config), "--kind", "case_file_egress",
                    "--body", json.dumps(EGRESS))
            agent.start()
        wait_for(lambda: len(set(inbox.incidents)) == 4, 60, "a new-incident mail for each of the four incidents")
        time.sleep(4)  # both collectors tick several times more: a duplicate would arrive now
        assert sorted(inbox.incidents) == sorted(set(inbox.incidents)), f"a notice was mailed twice: {inbox.incidents}"
        assert _sql(database_url, "SELECT COUNT(*) FROM wf_notifications WHERE email_done = 0") == (0,)
    finally:
        second.stop()
        smtp.stop()
