"""The web console on PostgreSQL: accounts and owners from the shell, then sign-in and the inbox over HTTP.

A real `serve --console --database-url` process, its console in plain HTTP on loopback (as
behind a local TLS proxy). Everything the console keeps - accounts, sessions, owners,
assignments - must land in PostgreSQL, where another collector would find it.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from collector.store.base import IncomingEvent
from collector.store.events import PostgresStore
from collector.workflow.times import to_us, utc_now
from tests.integration.harness import PYTHON, Collector, free_port, run_cli, wait_for
from tests.postgres_server import create_database, drop_database
from tests.unit.workflow.helpers import EGRESS, body

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
SESSION = re.compile(r"__Host-caseguard-session=([^;]+)")


@pytest.fixture
def collector(tmp_path: Path, postgres_server_url: str) -> Iterator[Collector]:
    """A collector with its PKI in a data dir and everything else in a fresh, migrated PostgreSQL database."""
    collector = Collector(tmp_path / "collector")
    collector.data_dir.mkdir(parents=True)
    collector.init_pki()
    url = create_database(postgres_server_url)
    try:
        out = run_cli("collector", "migrate", "--data-dir", str(collector.data_dir), "--database-url", url).stdout
        assert "version 0 -> " in out, out
        collector.database_url = url
        yield collector
    finally:
        collector.stop()
        drop_database(postgres_server_url, url)


def _cli_json(collector: Collector, *args: str) -> list[dict[str, Any]]:
    out = run_cli("collector", *args, *collector.store_args, "--json").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _add_user(collector: Collector, name: str, role: str) -> None:
    proc = subprocess.run(
        [PYTHON, "-m", "collector", "users", "add", name, "--role", role, "--password-stdin", *collector.store_args],
        input=PASSWORD + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _sql(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as db:
        return db.execute(query).fetchall()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _sign_in(c: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    """POST /login as a browser would. httpx keeps ``__Host-`` cookies only over https, so they are sent by hand."""
    token = LOGIN_TOKEN.search(c.get("/login").text)
    assert token
    form = {"name": name, "password": password, "login_token": token.group(1)}
    return c.post("/login", data=form, headers={"Cookie": f"__Host-caseguard-login={token.group(1)}"})


def test_the_console_keeps_accounts_and_sessions_in_postgres(collector: Collector) -> None:
    url = collector.database_url
    assert url is not None
    _add_user(collector, "ig.officer", "ig_officer")
    _add_user(collector, "staff.member", "staff")
    collector.issue("laptop-1", collector.data_dir.parent / "laptop-1-certs")
    run_cli("collector", "devices", "assign-owner", "laptop-1", "staff.member", *collector.store_args)
    assert _cli_json(collector, "devices", "owners") == [{"device": "laptop-1", "owners": ["staff.member"]}]
    assert {u["name"]: (u["role"], u["devices"]) for u in _cli_json(collector, "users", "list")} == {
        "ig.officer": ("ig_officer", []),
        "staff.member": ("staff", ["laptop-1"]),
    }
    assert _sql(url, "SELECT name FROM console_users ORDER BY name") == [("ig.officer",), ("staff.member",)]

    events = PostgresStore(url)  # an agent's case-file copy, stored as ingest stores it
    try:
        now = to_us(utc_now())
        egress = IncomingEvent(str(uuid.uuid4()), 1, "case_file_egress", now, "t", body("case_file_egress", EGRESS))
        events.ingest([("laptop-1", [egress])], now)
    finally:
        events.close()

    port = free_port()
    collector.start("--console", f"127.0.0.1:{port}", "--console-plain-http")
    wait_for(lambda: _listening(port), 20, "the console")
    wait_for(lambda: bool(_sql(url, "SELECT 1 FROM wf_incidents")), 30, "the incident from the stored event")
    [(incident_id,)] = _sql(url, "SELECT incident_id FROM wf_incidents")

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False, timeout=20) as c:
        assert _sign_in(c, "ig.officer", "not the password").status_code == 401
        reply = _sign_in(c, "ig.officer")
        assert reply.status_code == 303 and reply.headers["location"] == "/inbox", reply.text
        found = SESSION.search(reply.headers["set-cookie"])
        assert found
        cookie = {"Cookie": f"__Host-caseguard-session={found.group(1)}"}
        assert _sql(url, "SELECT user_name FROM console_sessions") == [("ig.officer",)]
        [(last_login,)] = _sql(url, "SELECT last_login_at FROM console_users WHERE name = 'ig.officer'")
        assert last_login is not None

        inbox = c.get("/inbox", headers=cookie)
        assert inbox.status_code == 200 and incident_id in inbox.text

        csrf = CSRF.search(c.get(f"/incidents/{incident_id}", headers=cookie).text)
        assert csrf
        assigned = c.post(
            f"/incidents/{incident_id}/assign", data={"csrf_token": csrf.group(1), "user": "ig.officer"}, headers=cookie
        )
        assert assigned.status_code == 303, assigned.text
        assert _sql(url, "SELECT incident_id, user_name FROM console_assignments") == [(incident_id, "ig.officer")]
        mine = c.get("/inbox?mine=1", headers=cookie)
        assert mine.status_code == 200 and incident_id in mine.text

        run_cli("collector", "users", "disable", "ig.officer", *collector.store_args)  # from the shell: signed out
        assert _sql(url, "SELECT COUNT(*) FROM console_sessions") == [(0,)]
        gone = c.get("/inbox", headers=cookie)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        assert _sign_in(c, "ig.officer").status_code == 401
