"""The incident page and the inbox, rendered by the real console app over loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from collector.console.app import build_deps
from collector.console.passwords import Passwords
from collector.console.server import ConsoleListen, ConsoleServer
from collector.store.console import SQLiteConsoleStore
from tests.unit.workflow.helpers import EGRESS, T0, World

PASSWORD = "correct horse battery"


@pytest.fixture
def officer(world: World, console: SQLiteConsoleStore, cheap_passwords: Passwords) -> Iterator[httpx.Client]:
    console.add_user("ig.one", "ig_officer", cheap_passwords.hash(PASSWORD), 1)
    deps = build_deps(world.events, world.service, console, None, passwords=cheap_passwords)
    server = ConsoleServer(deps, ConsoleListen("127.0.0.1", 0, plain_http=True))
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", follow_redirects=False) as c:
            token = re.search(r'name="login_token" value="([^"]+)"', c.get("/login").text)
            assert token
            cookie = f"__Host-caseguard-login={token.group(1)}"
            data = {"name": "ig.one", "password": PASSWORD, "login_token": token.group(1)}
            reply = c.post("/login", data=data, headers={"Cookie": cookie})
            assert reply.status_code == 303
            found = re.search(r"__Host-caseguard-session=([^;]+)", reply.headers.get("set-cookie", ""))
            assert found
            c.headers["Cookie"] = f"__Host-caseguard-session={found.group(1)}"
            yield c
    finally:
        server.stop()


def test_the_incident_page_shows_every_obligation_with_its_rule(world: World, officer: httpx.Client) -> None:
    world.emit(world.device("laptop-1"), "case_file_egress", EGRESS)
    world.service.catch_up()
    incident_id = world.store.list_incidents()[0].incident_id
    world.emit(world.device("laptop-2"), "case_file_egress", EGRESS)  # a second suspected incident: mergeable
    world.service.catch_up()
    suspected = officer.get(f"/incidents/{incident_id}")
    assert suspected.status_code == 200, suspected.text[-2000:]
    world.service.commands.confirm(incident_id, by="ig.one", aware_at=T0, reason="copy")
    page = officer.get(f"/incidents/{incident_id}")
    assert page.status_code == 200, page.text[-2000:]
    assert 'data-obligation="ico"' in page.text and "UK GDPR Art. 33" in page.text
    assert "Correct the awareness time" in page.text
    letter = officer.get(f"/incidents/{incident_id}/letter")
    assert letter.status_code == 200 and "Who to contact" in letter.text
    inbox = officer.get("/inbox")
    assert inbox.status_code == 200 and "ICO: due" in inbox.text
