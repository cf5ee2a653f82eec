"""Enrolment tokens and policy versions behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.enrollment.tokens import TokenRecord, new_token
from collector.store.enrollment import PostgresEnrollmentStore, SQLiteEnrollmentStore
from collector.store.enrollment_base import EnrollmentStore
from collector.store.events import PostgresStore
from tests.postgres_server import create_database, drop_database


@pytest.fixture(params=["sqlite", "postgres"])
def enrollment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EnrollmentStore]:
    if request.param == "sqlite":
        s: EnrollmentStore = SQLiteEnrollmentStore(tmp_path / "collector.sqlite3")
        yield s
        s.close()
        return
    server: str = request.getfixturevalue("postgres_server_url")
    url = create_database(server)
    schema = PostgresStore(url, require_current_schema=False)
    schema.migrate()
    schema.close()
    pg = PostgresEnrollmentStore(url)
    yield pg
    pg.close()
    drop_database(server, url)


def _token(uses: int = 1, expires: int = 1_000) -> TokenRecord:
    t = new_token()
    return TokenRecord(t.token_id, t.secret_hash, expires, uses, 1)


def test_tokens_round_trip_and_list_newest_first(enrollment: EnrollmentStore) -> None:
    a, b = _token(), _token()
    enrollment.add_token(a)
    enrollment.add_token(TokenRecord(b.token_id, b.secret_hash, b.expires_at_us, b.uses_left, 2))
    assert enrollment.get_token(a.token_id) == a
    assert [t.token_id for t in enrollment.list_tokens()] == [b.token_id, a.token_id]
    assert enrollment.get_token("0" * 16) is None


def test_a_token_enrols_exactly_as_many_devices_as_it_allows(enrollment: EnrollmentStore) -> None:
    t = _token(uses=2)
    enrollment.add_token(t)
    assert enrollment.enroll_device(t.token_id, "a-1", "SHA256:a", 10)
    assert enrollment.enroll_device(t.token_id, "b-1", "SHA256:b", 10)
    assert not enrollment.enroll_device(t.token_id, "c-1", "SHA256:c", 10)
    record = enrollment.get_token(t.token_id)
    assert record is not None and record.uses_left == 0


def test_an_expired_token_enrols_nothing(enrollment: EnrollmentStore) -> None:
    t = _token(expires=100)
    enrollment.add_token(t)
    assert not enrollment.enroll_device(t.token_id, "late-1", "SHA256:l", 100)


def test_racing_laptops_cannot_overspend_a_single_use_token(enrollment: EnrollmentStore) -> None:
    t = _token(uses=1)
    enrollment.add_token(t)
    results: list[bool] = []
    lock = threading.Lock()

    def go(i: int) -> None:
        ok = enrollment.enroll_device(t.token_id, f"racer-{i}", f"SHA256:r{i}", 10)
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [False] * 5 + [True]


def test_policy_versions_count_up(enrollment: EnrollmentStore) -> None:
    assert enrollment.current_policy() is None
    assert enrollment.add_policy(b"{}", b"sig1", b"pem", 5, "it.admin") == 1
    assert enrollment.add_policy(b'{"lock":{}}', b"sig2", b"pem", 6, "it.admin") == 2
    current = enrollment.current_policy()
    assert current is not None
    assert (current.version, current.body, current.created_by) == (2, b'{"lock":{}}', "it.admin")
