"""Server-side sessions: only a hash of the token is kept; idle and absolute timeouts; one-shot flash."""

from __future__ import annotations

from datetime import timedelta

from collector.console.sessions import SessionPolicy, Sessions, token_hash, tokens_match
from collector.store.console import SQLiteConsoleStore
from tests.unit.workflow.helpers import World


def _sessions(world: World, console: SQLiteConsoleStore) -> Sessions:
    console.add_user("ig.one", "ig_officer", "h", 1)
    policy = SessionPolicy(idle_timeout=timedelta(minutes=30), absolute_timeout=timedelta(hours=12))
    return Sessions(console, policy, world.clock)


def test_the_store_keeps_a_hash_not_the_token(world: World, console: SQLiteConsoleStore) -> None:
    sessions = _sessions(world, console)
    token, session = sessions.start("ig.one")
    assert session.token_hash == token_hash(token) and token not in session.token_hash
    rows = console.db.execute("SELECT token_hash, csrf_token FROM console_sessions").fetchall()
    assert rows == [(token_hash(token), session.csrf_token)] and session.csrf_token != token
    assert sessions.find(token) == session and sessions.find("guess") is None


def test_idle_and_absolute_timeouts(world: World, console: SQLiteConsoleStore) -> None:
    sessions = _sessions(world, console)
    token, _ = sessions.start("ig.one")
    world.clock.advance(minutes=29)
    assert sessions.find(token) is not None  # activity moves the idle timer
    world.clock.advance(minutes=29)
    assert sessions.find(token) is not None
    world.clock.advance(minutes=31)
    assert sessions.find(token) is None
    token, _ = sessions.start("ig.one")
    for _ in range(25):  # busy all day: still ends after 12 hours
        world.clock.advance(minutes=29)
        found = sessions.find(token)
    assert found is None


def test_flash_is_shown_once(world: World, console: SQLiteConsoleStore) -> None:
    sessions = _sessions(world, console)
    token, session = sessions.start("ig.one")
    sessions.flash(session, "success", "Breach confirmed.", reference="INC-1")
    again = sessions.find(token)
    assert again is not None and sessions.pop_flash(again) == {
        "level": "success", "text": "Breach confirmed.", "reference": "INC-1",
    }  # fmt: skip
    assert sessions.pop_flash(sessions.find(token)) is None  # type: ignore[arg-type]


def test_token_comparison_refuses_empty_values() -> None:
    assert tokens_match("abc", "abc") and not tokens_match("abc", "abd")
    assert not tokens_match("", "") and not tokens_match(None, "x")
