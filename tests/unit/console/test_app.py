"""The console app on a real loopback server (plain HTTP on 127.0.0.1, as behind a local TLS proxy)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from collector.console.app import build_deps
from collector.console.passwords import Passwords
from collector.console.server import ConsoleConfigError, ConsoleListen, ConsoleServer, check_listen
from collector.store.console import SQLiteConsoleStore
from tests.unit.workflow.helpers import World

PASSWORD = "correct horse battery"


@pytest.fixture
def site(world: World, console: SQLiteConsoleStore, cheap_passwords: Passwords) -> Iterator[str]:
    console.add_user("ig.one", "ig_officer", cheap_passwords.hash(PASSWORD), 1)
    deps = build_deps(world.events, world.service, console, None, passwords=cheap_passwords)
    server = ConsoleServer(deps, ConsoleListen("127.0.0.1", 0, plain_http=True))
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def _try(base: str, name: str, password: str, next_path: str = "") -> httpx.Response:
    with httpx.Client(base_url=base, follow_redirects=False) as c:
        token = re.search(r'name="login_token" value="([^"]+)"', c.get("/login").text)
        assert token
        # httpx keeps __Host- cookies only over https; hand the sign-in cookie over as a browser would.
        cookie = f"__Host-caseguard-login={token.group(1)}"
        data = {"name": name, "password": password, "login_token": token.group(1), "next": next_path}
        return c.post("/login", data=data, headers={"Cookie": cookie})


def test_unknown_account_and_wrong_password_look_the_same(site: str) -> None:
    unknown, wrong = _try(site, "nobody", PASSWORD), _try(site, "ig.one", "wrong password")
    assert unknown.status_code == wrong.status_code == 401
    assert "The account name or password is not right." in unknown.text and wrong.text.count("not right") == 1


def test_sign_in_goes_back_to_local_pages_only(site: str) -> None:
    assert _try(site, "ig.one", PASSWORD, "/incidents/INC-1").headers["location"] == "/incidents/INC-1"
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert _try(site, "ig.one", PASSWORD, evil).headers["location"] == "/inbox"


def test_oversized_forms_are_refused_before_parsing(site: str) -> None:
    reply = httpx.post(f"{site}/login", content=b"x" * (300 * 1024), headers={"Content-Type": "text/plain"})
    assert reply.status_code == 413


def test_plain_http_is_for_loopback_only(tmp_path: object) -> None:
    with pytest.raises(ConsoleConfigError, match="loopback"):
        check_listen(ConsoleListen("0.0.0.0", 8443, plain_http=True))
    with pytest.raises(ConsoleConfigError, match="TLS"):
        check_listen(ConsoleListen("0.0.0.0", 8443))
