"""ProtectedIndex: incremental reconcile, persistence, watch hooks and lookups."""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.protected.index import DB_NAME, ProtectedIndex
from tests.unit.protected.fake_analyse import FakeAnalyse, fingerprints_of

KEY = b"org-key"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(path: Path, data: bytes, *, mtime_ns: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "Cases"
    put(root / "smith" / "assessment.docx", b"child protection plan for Smith family alpha")
    put(root / "smith" / "minutes.txt", b"core group minutes beta gamma")
    put(root / "jones" / "referral.txt", b"referral from school delta epsilon")
    put(root / "~$lock.docx", b"owner file")
    return root


@pytest.fixture
def analyse() -> FakeAnalyse:
    return FakeAnalyse()


def open_index(tmp_path: Path, roots: list[Path], analyse, key: bytes = KEY) -> ProtectedIndex:
    return ProtectedIndex(tmp_path / "state", roots, key, analyse, batch_size=2)


def test_initial_reconcile_indexes_everything_but_lock_files(tmp_path, store, analyse):
    with open_index(tmp_path, [store], analyse) as index:
        stats = index.reconcile()
        assert (stats.seen, stats.added, stats.removed, stats.errors, stats.complete) == (3, 3, 0, 0, True)
        assert index.count() == 3
        ref = index.by_sha256(sha(b"core group minutes beta gamma"))
        expected = hmac.new(KEY, os.fsencode(store / "smith" / "minutes.txt"), hashlib.sha256).hexdigest()
        assert ref == expected == index.ref_for(store / "smith" / "minutes.txt")
        assert "minutes" not in ref


def test_reconcile_is_incremental(tmp_path, store, analyse):
    with open_index(tmp_path, [store], analyse) as index:
        index.reconcile()
        analyse.calls = 0
        again = index.reconcile()
        assert (again.unchanged, again.added, again.updated, again.removed) == (3, 0, 0, 0)
        assert analyse.calls == 0

        put(store / "smith" / "minutes.txt", b"core group minutes revised zeta", mtime_ns=1_700_000_000_000_000_000)
        put(store / "new" / "plan.txt", b"new plan eta")
        (store / "jones" / "referral.txt").unlink()
        stats = index.reconcile()
        assert (stats.updated, stats.added, stats.removed, stats.unchanged) == (1, 1, 1, 1)
        assert analyse.calls == 2
        assert index.count() == 3
        assert index.by_sha256(sha(b"core group minutes beta gamma")) is None
        assert index.by_sha256(sha(b"core group minutes revised zeta")) == index.ref_for(
            store / "smith" / "minutes.txt"
        )
        assert index.by_sha256(sha(b"referral from school delta epsilon")) is None
        # The old fingerprints went with the old content; the new ones are there.
        assert index.best_fingerprint_match(fingerprints_of(b"beta gamma")) is None
        match = index.best_fingerprint_match(fingerprints_of(b"revised zeta"))
        assert match == (index.ref_for(store / "smith" / "minutes.txt"), 1.0)


def test_index_persists_across_reopen(tmp_path, store, analyse):
    with open_index(tmp_path, [store], analyse) as index:
        index.reconcile()
    analyse.calls = 0
    with open_index(tmp_path, [store], analyse) as index:
        assert index.count() == 3
        assert index.reconcile().unchanged == 3
        assert analyse.calls == 0
        assert index.by_sha256(sha(b"new plan eta")) is None
        assert index.by_sha256(sha(b"referral from school delta epsilon")) is not None
    with sqlite3.connect(tmp_path / "state" / DB_NAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_best_fingerprint_match_is_containment_of_the_query(tmp_path, analyse):
    root = tmp_path / "Cases"
    put(root / "a.txt", b"alpha beta gamma delta")
    put(root / "b.txt", b"alpha epsilon")
    with open_index(tmp_path, [root], analyse) as index:
        index.reconcile()
        match = index.best_fingerprint_match(fingerprints_of(b"alpha beta gamma zeta"))
        assert match is not None
        ref, containment = match
        assert ref == index.ref_for(root / "a.txt")
        assert containment == pytest.approx(3 / 4)
        other = index.best_fingerprint_match(fingerprints_of(b"epsilon omega"))
        assert other is not None and other.ref == index.ref_for(root / "b.txt")
        assert index.best_fingerprint_match(frozenset()) is None
        assert index.best_fingerprint_match(fingerprints_of(b"nothing shared")) is None


def test_fingerprints_beyond_signed_64_bits_round_trip(tmp_path):
    root = tmp_path / "Cases"
    put(root / "x.bin", b"x")
    big = frozenset({2**64 - 1, 2**63, 5})

    def analyse_big(path: Path):
        from agent.protected.index import ProtectedFacts

        return ProtectedFacts(sha(path.read_bytes()), 1, big)

    with open_index(tmp_path, [root], analyse_big) as index:
        index.reconcile()
        assert index.best_fingerprint_match(frozenset({2**64 - 1, 2**63})) == (index.ref_for(root / "x.bin"), 1.0)
        # Values outside [0, 2**64) are reduced modulo 2**64, as ever: -1 is 2**64 - 1, 2**64 + 5 is 5.
        assert index.best_fingerprint_match(frozenset({-1, 2**64 + 5})) == (index.ref_for(root / "x.bin"), 1.0)
        assert index.best_fingerprint_match(frozenset({-1, 2**64 - 1, 7})) == (index.ref_for(root / "x.bin"), 0.5)


def test_best_fingerprint_match_is_the_same_without_sqlite_json(tmp_path, analyse):
    root = tmp_path / "Cases"
    put(root / "a.txt", b"alpha beta gamma delta")
    put(root / "b.txt", b"alpha epsilon")
    queries = [fingerprints_of(b"alpha beta gamma zeta"), fingerprints_of(b"epsilon omega"),
               fingerprints_of(b"alpha"), fingerprints_of(b"nothing shared"), frozenset({2**63, 0, 2**64 - 1})]
    with open_index(tmp_path, [root], analyse) as index:
        index.reconcile()
        assert index._json_each  # SQLite 3.38+ has json_each built in: the quick path is the one tested
        with_json = [index.best_fingerprint_match(q) for q in queries]
        index._json_each = False
        assert [index.best_fingerprint_match(q) for q in queries] == with_json
    assert with_json[0] == (index.ref_for(root / "a.txt"), pytest.approx(3 / 4)) and with_json[3] is None


def test_watch_hooks(tmp_path, store, analyse):
    with open_index(tmp_path, [store], analyse) as index:
        index.reconcile()
        put(store / "smith" / "letter.txt", b"letter theta")
        assert index.note_changed(store / "smith" / "letter.txt") == 1
        assert index.note_changed(store / "smith" / "letter.txt") == 0  # unchanged since
        put(store / "moved-in" / "one.txt", b"one iota")
        put(store / "moved-in" / "deep" / "two.txt", b"two kappa")
        assert index.note_changed(store / "moved-in") == 2
        assert index.count() == 6
        outside = tmp_path / "elsewhere.txt"
        put(outside, b"not protected")
        assert index.note_changed(outside) == 0
        assert index.note_deleted(store / "moved-in") == 2
        assert index.note_deleted(store / "smith" / "letter.txt") == 1
        assert index.count() == 3
        assert index.best_fingerprint_match(fingerprints_of(b"iota kappa theta")) is None


def test_note_deleted_does_not_touch_sibling_with_common_prefix(tmp_path, analyse):
    root = tmp_path / "Cases"
    put(root / "ab" / "x.txt", b"x1")
    put(root / "ab-c" / "y.txt", b"y1")
    put(root / "ab0" / "z.txt", b"z1")
    with open_index(tmp_path, [root], analyse) as index:
        index.reconcile()
        assert index.note_deleted(root / "ab") == 1
        assert index.count() == 2


def test_unavailable_root_keeps_its_documents(tmp_path, store, analyse):
    other = tmp_path / "Share"
    put(other / "s.txt", b"share doc")
    with open_index(tmp_path, [store, other], analyse) as index:
        index.reconcile()
        assert index.count() == 4
        os.rename(other, tmp_path / "Share-unmounted")
        stats = index.reconcile()
        assert stats.removed == 0 and index.count() == 4


def test_roots_removed_from_configuration_are_dropped(tmp_path, store, analyse):
    other = tmp_path / "Old"
    put(other / "o.txt", b"old doc")
    with open_index(tmp_path, [store, other], analyse) as index:
        index.reconcile()
    with open_index(tmp_path, [store], analyse) as index:
        assert index.reconcile().removed == 1
        assert index.count() == 3


def test_analysis_failure_is_counted_and_keeps_known_document(tmp_path, store):
    with open_index(tmp_path, [store], FakeAnalyse()) as index:
        index.reconcile()
    failing = FakeAnalyse(fail_on=frozenset({"minutes.txt", "new.txt"}))
    put(store / "smith" / "minutes.txt", b"changed", mtime_ns=1_600_000_000_000_000_000)
    put(store / "new.txt", b"new")
    with open_index(tmp_path, [store], failing) as index:
        stats = index.reconcile()
        assert stats.errors == 2 and stats.removed == 0
        assert index.count() == 3
        assert index.by_sha256(sha(b"core group minutes beta gamma")) is not None


def test_stopped_reconcile_removes_nothing(tmp_path, store, analyse):
    with open_index(tmp_path, [store], analyse) as index:
        index.reconcile()
        for name in ("jones/referral.txt", "smith/minutes.txt"):
            (store / name).unlink()
        stop = threading.Event()
        stop.set()
        stats = index.reconcile(stop)
        assert not stats.complete and stats.removed == 0
        assert index.count() == 3
        assert index.reconcile().removed == 2


def test_key_change_recomputes_references(tmp_path, store, analyse):
    with open_index(tmp_path, [store], analyse) as index:
        index.reconcile()
        old = index.by_sha256(sha(b"core group minutes beta gamma"))
    with open_index(tmp_path, [store], analyse, key=b"new-key") as index:
        new = index.by_sha256(sha(b"core group minutes beta gamma"))
        assert new != old
        assert new == index.ref_for(store / "smith" / "minutes.txt")


def test_bad_digest_is_not_found(tmp_path, store, analyse):
    with open_index(tmp_path, [store], analyse) as index:
        assert index.by_sha256("not hex") is None


def test_has_fingerprints(tmp_path, analyse):
    root = tmp_path / "Cases"
    root.mkdir()
    with open_index(tmp_path, [root], analyse) as index:
        assert not index.has_fingerprints()
        put(root / "a.txt", b"alpha")
        index.reconcile()
        assert index.has_fingerprints()


def test_fingerprint_scheme_change_reindexes_everything(tmp_path, store, analyse):
    with ProtectedIndex(tmp_path / "state", [store], KEY, analyse, scheme="words-v1") as index:
        index.reconcile()
    analyse.calls = 0
    with ProtectedIndex(tmp_path / "state", [store], KEY, analyse, scheme="words-v1") as index:
        assert index.count() == 3
    with ProtectedIndex(tmp_path / "state", [store], KEY, analyse, scheme="shingles-v2") as index:
        assert index.count() == 0
        assert index.reconcile().added == 3
        assert analyse.calls == 3


def test_analyser_result_with_extra_fields_and_unreadable_files(tmp_path):
    @dataclass(frozen=True)
    class ClassifierFacts:  # the shape of agent.classify.protected.ProtectedFacts
        sha256: str
        size: int
        fingerprints: frozenset[int]
        scheme: str
        error: str | None = None

    def analyse(path: Path) -> ClassifierFacts:
        if path.name == "unreadable.txt":
            return ClassifierFacts("", 0, frozenset(), "w", "permission denied")
        data = path.read_bytes()
        return ClassifierFacts(sha(data), len(data), fingerprints_of(data), "w")

    root = tmp_path / "Cases"
    put(root / "ok.txt", b"fine words")
    put(root / "unreadable.txt", b"secret")
    with open_index(tmp_path, [root], analyse) as index:
        stats = index.reconcile()
        assert (stats.added, stats.errors) == (1, 1)
        assert index.by_sha256("") is None


def test_watch_hooks_racing_a_reconcile_stay_consistent(tmp_path, analyse):
    root = tmp_path / "Cases"
    for i in range(300):
        put(root / f"d{i % 7}" / f"f{i}.txt", f"document {i} words w{i}".encode())
    errors: list[BaseException] = []
    with ProtectedIndex(tmp_path / "state", [root], KEY, analyse, batch_size=50) as index:

        def hooks() -> None:
            try:
                for i in range(0, 300, 3):
                    index.note_changed(root / f"d{i % 7}" / f"f{i}.txt")
            except BaseException as exc:  # reported below
                errors.append(exc)

        thread = threading.Thread(target=hooks)
        thread.start()
        index.reconcile()
        thread.join()
        assert errors == []
        assert index.count() == 300
        assert index.reconcile().unchanged == 300
        match = index.best_fingerprint_match(fingerprints_of(b"document 42 words w42"))
        assert match is not None and match.ref == index.ref_for(root / "d0" / "f42.txt")


def test_fingerprints_given_as_a_generator_are_all_looked_up_even_off_the_fast_path():
    from agent.protected.index import _signed64_array

    assert sorted(_signed64_array(iter([1, -2, 3]))) == [-2, 1, 3]  # -2 forces the one-by-one reduction
    assert sorted(_signed64_array(v for v in (5, 2**64 + 5, 7))) == [5, 7]
