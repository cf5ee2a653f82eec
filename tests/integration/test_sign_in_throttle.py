"""Sign-in that holds, against a real `serve --console` process over HTTP (issue 11, "Sign-in that holds").

The console is served over TLS with the collector's own certificate. Different client
addresses are real: clients bind 127.0.0.2 or 127.0.0.3 as their source address.
Password checks are counted from the audit log (``console.login_failed`` per wrong password
on a real account).
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.harness import PYTHON, Collector, free_port, run_cli, wait_for

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CLIENTS: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def _add_user(collector: Collector, name: str, role: str = "ig_officer") -> None:
    proc = subprocess.run(
        [PYTHON, "-m", "collector", "users", "add", name, "--role", role, "--password-stdin",
         "--data-dir", str(collector.data_dir)],
        input=PASSWORD + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _start(collector: Collector, port: int) -> str:
    collector.start("--console", f"127.0.0.1:{port}")
    url = f"https://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/login", timeout=2, verify=_tls(collector)).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, 20, "the console")
    return url


def _tls(collector: Collector) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(collector.data_dir / "pki" / "ca.pem"))


_CA: list[ssl.SSLContext] = []


@pytest.fixture
def console(collector: Collector) -> Iterator[str]:
    _add_user(collector, "ig.officer")
    _add_user(collector, "ig.second")
    _CA[:] = [_tls(collector)]
    yield _start(collector, free_port())


def _client(url: str, address: str = "127.0.0.1") -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address, verify=_CA[0])
    c = httpx.Client(base_url=url, transport=transport, timeout=60)
    _CLIENTS.append(c)
    return c


def _try(c: httpx.Client, name: str, password: str) -> httpx.Response:
    token = LOGIN_TOKEN.search(c.get("/login").text)
    assert token
    return c.post("/login", data={"name": name, "password": password, "login_token": token.group(1)})


def _failed_checks(collector: Collector, name: str) -> int:
    out = run_cli("collector", "audit", "list", "--data-dir", str(collector.data_dir), "--json").stdout
    entries = [json.loads(line) for line in out.splitlines() if line.strip()]
    return sum(e["action"] == "console.login_failed" and e["subject"] == name for e in entries)


def test_120_parallel_wrong_sign_ins_check_at_most_the_limit(collector: Collector, console: str) -> None:
    clients = [_client(console) for _ in range(120)]
    tokens = []
    for c in clients:
        found = LOGIN_TOKEN.search(c.get("/login").text)
        assert found
        tokens.append(found.group(1))
    barrier = threading.Barrier(120)
    replies: list[httpx.Response] = []

    def guess(i: int) -> None:
        barrier.wait()
        replies.append(clients[i].post("/login", data={"name": "ig.officer", "password": f"guess number {i}",
                                                       "login_token": tokens[i]}))  # fmt: skip

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(120)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    statuses = sorted(r.status_code for r in replies)
    assert len(statuses) == 120 and set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 5, statuses
    assert _failed_checks(collector, "ig.officer") <= 5
    refused = [r for r in replies if r.status_code == 429]
    assert refused and all(int(r.headers["retry-after"]) > 0 for r in refused)
    assert "Try again in" in refused[0].text


def test_a_restart_does_not_reset_the_throttle(collector: Collector, console: str) -> None:
    c = _client(console)
    assert [_try(c, "ig.officer", "not the password").status_code for _ in range(5)] == [401] * 5
    collector.stop()
    url = _start(collector, int(console.rsplit(":", 1)[1]))
    reply = _try(_client(url), "ig.officer", PASSWORD)
    assert reply.status_code == 429 and "Too many failed attempts" in reply.text


def test_guesses_from_another_address_do_not_stop_the_officer(collector: Collector, console: str) -> None:
    attacker = _client(console, "127.0.0.2")
    results = [_try(attacker, "ig.officer", f"guess {n}").status_code for n in range(12)]
    assert 429 in results
    officer = _client(console, "127.0.0.1")
    assert _try(officer, "ig.officer", PASSWORD).status_code == 303


def test_an_unknown_name_is_throttled_just_like_a_real_one(console: str) -> None:
    for name in ("ig.officer", "no.such.person"):
        c = _client(console, "127.0.0.3")
        replies = [_try(c, name, "wrong guess here").status_code for _ in range(6)]
        assert replies == [401] * 5 + [429], (name, replies)


def test_users_unlock_lifts_the_throttle(collector: Collector, console: str) -> None:
    c = _client(console)
    for _ in range(5):
        _try(c, "ig.officer", "not the password")
    assert _try(c, "ig.officer", PASSWORD).status_code == 429
    done = run_cli("collector", "users", "unlock", "ig.officer", "--data-dir", str(collector.data_dir))
    assert "unlocked ig.officer" in done.stdout
    assert _try(c, "ig.officer", PASSWORD).status_code == 303
    unknown = run_cli("collector", "users", "unlock", "nobody.here", "--data-dir", str(collector.data_dir),
                      check=False)  # fmt: skip
    assert unknown.returncode != 0 and len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr
    assert "nobody.here" in unknown.stderr and "Traceback" not in unknown.stderr
    out = run_cli("collector", "audit", "list", "--data-dir", str(collector.data_dir), "--json").stdout
    assert any(json.loads(line)["action"] == "console.user_unlock" for line in out.splitlines() if line.strip())


def _signed_in(url: str, name: str = "ig.officer", password: str = PASSWORD) -> httpx.Client:
    c = _client(url)
    assert _try(c, name, password).status_code == 303
    return c


def _csrf(c: httpx.Client) -> str:
    found = CSRF.search(c.get("/account").text)
    assert found
    return found.group(1)


def test_a_password_change_ends_every_other_session(console: str) -> None:
    here, elsewhere = _signed_in(console), _signed_in(console)
    new = "a brand new long passphrase"
    reply = here.post("/account/password", data={"current": PASSWORD, "new": new, "confirm": new,
                                                 "csrf_token": _csrf(here)})  # fmt: skip
    assert reply.status_code == 303
    assert here.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 303  # back to the sign-in page


def test_an_it_password_reset_ends_every_session(collector: Collector, console: str) -> None:
    c = _signed_in(console, "ig.second")
    assert c.get("/account").status_code == 200
    proc = subprocess.run(
        [PYTHON, "-m", "collector", "users", "set-password", "ig.second", "--password-stdin",
         "--data-dir", str(collector.data_dir)],
        input="another long passphrase here\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert c.get("/account").status_code == 303


def test_a_common_password_is_refused_with_a_reason(collector: Collector, console: str) -> None:
    c = _signed_in(console)
    reply = c.post("/account/password", data={"current": PASSWORD, "new": "Password123456", "confirm": "Password123456",
                                              "csrf_token": _csrf(c)})  # fmt: skip
    assert reply.status_code == 422 and "too common or easy to guess" in reply.text
    proc = subprocess.run(
        [PYTHON, "-m", "collector", "users", "add", "j.smith", "--role", "staff", "--password-stdin",
         "--data-dir", str(collector.data_dir)],
        input="qwertyuiop123\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0 and "too common or easy to guess" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_the_password_change_is_throttled_too(console: str) -> None:
    c = _signed_in(console)
    codes = []
    for n in range(6):
        form = {"current": f"wrong {n}", "new": "x", "confirm": "x", "csrf_token": _csrf(c)}
        codes.append(c.post("/account/password", data=form).status_code)
    assert codes == [422] * 5 + [429], codes


def test_a_cross_origin_post_is_refused(console: str) -> None:
    c = _signed_in(console)
    form = {"current": PASSWORD, "new": "whatever it is", "confirm": "whatever it is", "csrf_token": _csrf(c)}
    for headers in ({"origin": "https://evil.example"}, {"origin": "null"},
                    {"referer": "https://evil.example/page"}):  # fmt: skip
        reply = c.post("/account/password", data=form, headers=headers)
        assert reply.status_code == 403 and "sent from another site" in reply.text, headers
    login = _client(console)
    token = LOGIN_TOKEN.search(login.get("/login").text)
    assert token
    reply = login.post("/login", data={"name": "ig.officer", "password": PASSWORD, "login_token": token.group(1)},
                       headers={"origin": "https://evil.example"})  # fmt: skip
    assert reply.status_code == 403
    same = login.post("/login", data={"name": "ig.officer", "password": PASSWORD, "login_token": token.group(1)},
                      headers={"origin": console})  # fmt: skip
    assert same.status_code == 303
