"""The console's server-side refusals, with plain HTTP requests to a real `serve --console` process.

A real collector serves the console over TLS (its own PKI); a real agent's case-file event
makes the incident. No browser here: these requests are what a forger or a curious account
could send, and the server alone must refuse them.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.harness import EGRESS, PYTHON, Agent, Collector, free_port, run_cli, wait_for

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
ACCOUNTS = {
    "ig.officer": "ig_officer",
    "ig.second": "ig_officer",
    "it.admin": "it_admin",
    "staff.member": "staff",
    "auditor": "auditor",
    "locked.out": "ig_officer",
}
ENCRYPTED = {"system_volume": "ENCRYPTION_STATE_ENCRYPTED", "home_volume": "ENCRYPTION_STATE_ENCRYPTED",
             "method": "luks2"}  # fmt: skip
LOCKED = {"os_lock_timeout_s": 300, "os_lock_timeout_known": True, "password_on_wake": True,
          "password_on_wake_known": True, "enforced_by_agent": True}  # fmt: skip
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


@dataclass
class Site:
    """A running collector with its console, its accounts and one incident from a real agent event."""

    collector: Collector
    url: str
    ca: Path
    incident_id: str
    root: Path

    def cli(self, *args: str) -> list[dict[str, Any]]:
        out = run_cli("collector", *args, "--data-dir", str(self.collector.data_dir), "--json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def add_user(collector: Collector, name: str, role: str) -> None:
    proc = subprocess.run(
        [PYTHON, "-m", "collector", "users", "add", name, "--role", role, "--password-stdin",
         "--data-dir", str(collector.data_dir)],
        input=PASSWORD + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def build_site(root: Path) -> Iterator[Site]:
    """Collector + console, accounts, device owners, and an incident made by a real agent's event."""
    collector = Collector(root / "collector")
    collector.data_dir.mkdir(parents=True)
    collector.init_pki()
    for name, role in ACCOUNTS.items():
        add_user(collector, name, role)
    certs = collector.issue("laptop-1", root / "laptop-1-certs")
    collector.issue("laptop-2", root / "laptop-2-certs")
    run_cli("collector", "devices", "assign-owner", "laptop-2", "staff.member", "--data-dir", str(collector.data_dir))
    port = free_port()
    agent = Agent(root, "laptop-1", [collector.address], certs)
    agent.write_config()
    try:
        collector.start("--console", f"127.0.0.1:{port}")
        wait_for(lambda: _listening(port), 20, "the console")
        for kind, body in (("encryption_posture", ENCRYPTED), ("lock_posture", LOCKED), ("case_file_egress", EGRESS)):
            run_cli("agent", "emit", "--config", str(agent.config), "--kind", kind, "--body", json.dumps(body))
        agent.start()
        site = Site(collector, f"https://127.0.0.1:{port}", collector.data_dir / "pki" / "ca.pem", "", root)
        wait_for(lambda: len(site.cli("incidents", "list")) == 1, 30, "the incident from the agent's event")
        site.incident_id = site.cli("incidents", "list")[0]["incident_id"]
        agent.stop()
        yield site
    finally:
        if agent.proc is not None:
            agent.proc.kill()
            agent.proc.wait(5)
        collector.stop()


_CLIENTS: list[httpx.Client] = []  # closed after each test, so no connection outlives it


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def client(site: Site) -> httpx.Client:
    """An HTTP client that trusts only the collector's CA (closed when the test ends)."""
    c = httpx.Client(
        base_url=site.url, verify=ssl.create_default_context(cafile=str(site.ca)), follow_redirects=False, timeout=20
    )
    _CLIENTS.append(c)
    return c


def sign_in(site: Site, name: str, password: str = PASSWORD) -> httpx.Client:
    c = client(site)
    form = c.get("/login")
    token = LOGIN_TOKEN.search(form.text)
    assert form.status_code == 200 and token
    reply = c.post("/login", data={"name": name, "password": password, "login_token": token.group(1)})
    assert reply.status_code == 303, reply.text
    return c


def csrf_of(c: httpx.Client, path: str) -> str:
    page = c.get(path)
    assert page.status_code == 200, (path, page.status_code)
    found = CSRF.search(page.text)
    assert found
    return found.group(1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from build_site(tmp_path_factory.mktemp("console-http"))


def test_sign_in_sets_hardened_cookies_and_headers(site: Site) -> None:
    c = client(site)
    form = c.get("/login")
    assert form.headers["content-security-policy"].startswith("default-src 'none'")
    assert form.headers["x-frame-options"] == "DENY" and form.headers["cache-control"] == "no-store"
    token = LOGIN_TOKEN.search(form.text)
    assert token
    reply = c.post("/login", data={"name": "ig.officer", "password": PASSWORD, "login_token": token.group(1)})
    assert reply.status_code == 303 and reply.headers["location"] == "/inbox"
    cookie = next(v for v in reply.headers.get_list("set-cookie") if v.startswith("__Host-caseguard-session="))
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= attributes
    assert not any(a.startswith("domain") for a in attributes)


def test_pages_need_a_session(site: Site) -> None:
    c = client(site)
    reply = c.get(f"/incidents/{site.incident_id}")
    assert reply.status_code == 303 and reply.headers["location"].startswith("/login?next=")
    assert c.post(f"/incidents/{site.incident_id}/dismiss", data={"reason": "x"}).status_code == 403
    # A sign-in form posted without the cookie made with it (login CSRF) is refused too.
    forged = {"name": "ig.officer", "password": PASSWORD, "login_token": "forged"}
    assert c.post("/login", data=forged).status_code == 403


def test_forged_forms_without_the_csrf_token_are_refused(site: Site) -> None:
    c = sign_in(site, "ig.officer")
    path = f"/incidents/{site.incident_id}/dismiss"
    assert c.post(path, data={"reason": "forged"}).status_code == 403
    assert c.post(path, data={"reason": "forged", "csrf_token": "not-the-token"}).status_code == 403
    token = csrf_of(c, f"/incidents/{site.incident_id}")
    cross = c.post(path, data={"reason": "forged", "csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    another = sign_in(site, "ig.second")  # a valid token of another session is no good either
    assert another.post(path, data={"reason": "forged", "csrf_token": token}).status_code == 403
    [incident] = site.cli("incidents", "list")
    assert incident["state"] == "suspected"  # nothing happened


@pytest.mark.parametrize(
    ("name", "method", "path"),
    [
        ("staff.member", "GET", "/inbox"),
        ("staff.member", "GET", "/incidents/{iid}"),
        ("staff.member", "GET", "/incidents/{iid}/ico"),
        ("staff.member", "GET", "/incidents/{iid}/ico.json"),
        ("staff.member", "GET", "/register.csv"),
        ("staff.member", "GET", "/dashboard"),
        ("staff.member", "GET", "/dashboard/ico-share.csv"),
        ("it.admin", "GET", "/dashboard"),
        ("staff.member", "GET", "/devices"),
        ("staff.member", "GET", "/audit"),
        ("staff.member", "POST", "/incidents/{iid}/confirm"),
        ("it.admin", "GET", "/incidents/{iid}"),
        ("it.admin", "GET", "/inbox"),
        ("it.admin", "POST", "/incidents/{iid}/dismiss"),
        ("auditor", "POST", "/incidents/{iid}/dismiss"),
        ("auditor", "POST", "/incidents/{iid}/ico"),
        ("auditor", "POST", "/devices/laptop-1/revoke"),
        ("ig.officer", "POST", "/devices/laptop-1/revoke"),
        ("ig.officer", "GET", "/report"),
        ("auditor", "POST", "/report"),
    ],
)
def test_routes_above_the_role_are_refused(site: Site, name: str, method: str, path: str) -> None:
    c = sign_in(site, name)
    token = csrf_of(c, "/account")  # a valid token for this session: only the role may refuse
    url = path.format(iid=site.incident_id)
    data = {"csrf_token": token, "reason": "r", "aware_at": "2026-01-01T09:00", "device": "laptop-2"}
    reply = c.get(url) if method == "GET" else c.post(url, data=data)
    assert reply.status_code == 403, (name, method, url, reply.status_code)
    assert "Not allowed" in reply.text


def test_staff_report_opens_an_incident_they_cannot_see(site: Site) -> None:
    c = sign_in(site, "staff.member")
    token = csrf_of(c, "/report")
    form = {"csrf_token": token, "device": "laptop-1", "how": "lost", "where": "train", "locked": "yes"}
    assert c.post("/report", data=form).status_code == 422  # not their device: refused on the server
    reply = c.post("/report", data={**form, "device": "laptop-2"}, follow_redirects=True)
    assert reply.status_code == 200
    reference = re.search(r'class="reference">(INC-[0-9-]+)<', reply.text)
    assert reference, reply.text
    # This collector has no notification channel: the page must not claim anyone was told.
    assert "Nobody has been alerted automatically" in reply.text and "has been told" not in reply.text
    assert c.get(f"/incidents/{reference.group(1)}").status_code == 403
    shown = site.cli("incidents", "show", reference.group(1))[0]
    assert shown["alert_kinds"] == ["lost_device"] and shown["devices"] == ["laptop-2"]
    assert shown["alert_details"][0]["lost_report"]["reported_by"] == "console:staff.member"
    devices = {
        d["device"]: d
        for d in map(
            json.loads,
            run_cli(
                "collector", "devices", "list", "--data-dir", str(site.collector.data_dir), "--json"
            ).stdout.splitlines(),
        )
    }
    assert devices["laptop-2"]["lost"] is True  # fmt: skip


def test_ig_officers_see_a_banner_while_no_notification_channel_is_configured(site: Site) -> None:
    officer = sign_in(site, "ig.officer").get("/inbox")
    assert officer.status_code == 200 and 'id="no-notify-channel"' in officer.text
    staff = sign_in(site, "staff.member").get("/report")
    assert 'id="no-notify-channel"' not in staff.text  # staff cannot do anything about it


def test_sign_in_is_rate_limited_per_account(site: Site) -> None:
    c = client(site)
    for _ in range(5):
        token = LOGIN_TOKEN.search(c.get("/login").text)
        assert token
        wrong = {"name": "locked.out", "password": "wrong password!", "login_token": token.group(1)}
        reply = c.post("/login", data=wrong)
        assert reply.status_code == 401
    token = LOGIN_TOKEN.search(c.get("/login").text)
    assert token
    reply = c.post("/login", data={"name": "locked.out", "password": PASSWORD, "login_token": token.group(1)})
    assert reply.status_code == 429 and "Too many failed attempts" in reply.text
    entries = site.cli("audit", "list")
    assert sum(e["action"] == "console.login_failed" and e["subject"] == "locked.out" for e in entries) == 5
    assert PASSWORD not in json.dumps(entries) and PASSWORD not in site.collector.log()


def test_disabled_accounts_are_signed_out_at_once(site: Site) -> None:
    c = sign_in(site, "ig.second")
    assert c.get("/inbox").status_code == 200
    run_cli("collector", "users", "disable", "ig.second", "--data-dir", str(site.collector.data_dir))
    reply = c.get("/inbox")
    assert reply.status_code == 303 and reply.headers["location"].startswith("/login")
    run_cli("collector", "users", "enable", "ig.second", "--data-dir", str(site.collector.data_dir))
    verified = site.cli("audit", "verify")[0]
    assert verified["ok"]


def test_the_incident_page_lists_who_must_be_told_and_the_letter_draft(site: Site) -> None:
    c = sign_in(site, "ig.officer")
    page = f"/incidents/{site.incident_id}"
    token = csrf_of(c, page)
    aware = site.cli("incidents", "show", site.incident_id)[0]["clock"]["started_at"]
    reply = c.post(f"{page}/confirm", data={"csrf_token": token, "aware_at": aware, "reason": "copied to USB"})
    assert reply.status_code in (302, 303), reply.text[:400]
    text = c.get(page).text
    assert "Who must be told" in text and 'data-obligation="ico"' in text and 'data-obligation="dspt"' in text
    assert "UK GDPR Art. 33" in text and "Art. 34" in text
    refused = c.post(f"{page}/tell", data={"csrf_token": token, "body": "police", "reference": ""})
    assert refused.status_code == 422 and "crime reference" in refused.text
    letter = c.get(f"{page}/letter")
    assert letter.status_code == 200 and "Who to contact" in letter.text and "[Name]" in letter.text
    inbox = c.get("/inbox").text
    assert "Who must be told" in inbox and "ICO: due" in inbox
