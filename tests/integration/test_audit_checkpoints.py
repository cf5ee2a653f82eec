"""Signed checkpoints make every rewrite of the audit chain show (real collector data, real CLI)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from collector.domain.audit_chain import GENESIS_HASH, append_entry
from tests.integration.harness import EGRESS, Agent, Collector, run_cli, wait_for

pytestmark = pytest.mark.integration


def _db(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(data_dir / "collector.sqlite3")


def _delete_middle(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM wf_audit WHERE seq = 3")


def _edit(db: sqlite3.Connection) -> None:
    db.execute("UPDATE wf_audit SET actor = 'someone.else' WHERE seq = 2")


def _delete_tail_and_move_head(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM wf_audit WHERE seq > (SELECT MAX(seq) - 2 FROM wf_audit)")
    seq, digest = db.execute("SELECT seq, hash FROM wf_audit ORDER BY seq DESC LIMIT 1").fetchone()
    db.execute("UPDATE wf_audit_head SET seq = ?, hash = ?", (seq, digest))


def _truncate_and_move_head(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM wf_audit WHERE seq > 2")
    seq, digest = db.execute("SELECT seq, hash FROM wf_audit ORDER BY seq DESC LIMIT 1").fetchone()
    db.execute("UPDATE wf_audit_head SET seq = ?, hash = ?", (seq, digest))


def _rewrite_from(n: int) -> Callable[[sqlite3.Connection], None]:
    def rewrite(db: sqlite3.Connection) -> None:
        """Change entry n and recompute every hash after it, and the head, as an insider could."""
        from collector.domain.audit_chain import ChainEntry

        rows = db.execute(
            "SELECT seq, at, actor, action, subject, details_json, prev_hash, hash FROM wf_audit ORDER BY seq"
        ).fetchall()
        previous: ChainEntry | None = None
        for seq, at, actor, action, subject, details, _prev, digest in rows:
            if seq < n:
                previous = ChainEntry(seq, datetime.fromisoformat(at), actor, action, subject, details, _prev, digest)
                continue
            entry = append_entry(previous, at=datetime.fromisoformat(at), actor="rewritten" if seq == n else actor,
                                 action=action, subject=subject, details=json.loads(details))
            db.execute("UPDATE wf_audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                       (entry.actor, entry.prev_hash, entry.hash, seq))
            previous = entry
        assert previous is not None
        db.execute("UPDATE wf_audit_head SET seq = ?, hash = ?", (previous.seq, previous.hash))

    return rewrite


def _wipe(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM wf_audit")
    db.execute("DELETE FROM wf_audit_head")


TAMPERINGS: dict[str, Callable[[sqlite3.Connection], None]] = {
    "edit": _edit,
    "middle deletion": _delete_middle,
    "tail deletion with the head moved back": _delete_tail_and_move_head,
    "truncation with the head moved back": _truncate_and_move_head,
    "rewrite from entry 2 with recomputed hashes": _rewrite_from(2),
    "wipe": _wipe,
}


def test_every_tampering_fails_verification_against_a_signed_checkpoint(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    collector.start()
    agent = make_agent("laptop-1")
    run_cli("agent", "emit", "--config", str(agent.config), "--kind", "case_file_egress", "--body", json.dumps(EGRESS))
    agent.start()
    data = ["--data-dir", str(collector.data_dir)]

    def incidents() -> list[dict[str, object]]:
        out = run_cli("collector", "incidents", "list", *data, "--json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    wait_for(lambda: any("case_file_egress" in i["alert_kinds"] for i in incidents()), 30, "the incident")  # type: ignore[operator]
    agent.stop()
    collector.stop()
    iid = next(str(i["incident_id"]) for i in incidents() if "case_file_egress" in i["alert_kinds"])  # type: ignore[operator]
    for n in range(4):
        run_cli("collector", "incidents", "record-action", iid, "--text", f"step {n}", "--by", "ig.officer", *data)
    checkpoint = tmp_path / "elsewhere" / "audit.checkpoint"
    made = run_cli("collector", "audit", "checkpoint", "--out", str(checkpoint), *data)
    assert "keep a copy off this host" in made.stdout
    # After the checkpoint the chain grows; it still extends the checkpoint.
    run_cli("collector", "incidents", "record-action", iid, "--text", "later", "--by", "ig.officer", *data)
    ok = run_cli("collector", "audit", "verify", "--checkpoint", str(checkpoint), *data)
    assert "intact" in ok.stdout

    for name, tamper in TAMPERINGS.items():
        copy = tmp_path / name.replace(" ", "-")
        shutil.copytree(collector.data_dir, copy)
        db = _db(copy)
        with db:
            tamper(db)
        db.close()
        plain = run_cli("collector", "audit", "verify", "--data-dir", str(copy), check=False)
        checked = run_cli("collector", "audit", "verify", "--checkpoint", str(checkpoint), "--data-dir", str(copy),
                          check=False)
        assert checked.returncode == 1 and "BROKEN" in checked.stdout, (name, plain.stdout, checked.stdout)
        assert "Traceback" not in checked.stderr
        if name in ("truncation with the head moved back", "rewrite from entry 2 with recomputed hashes"):
            assert plain.returncode == 0, name  # what the chain alone cannot see; the checkpoint does

    # A checkpoint edited to fit a rewritten chain no longer carries a valid signature.
    forged = json.loads(checkpoint.read_text())
    forged["seq"] = 2
    bad = tmp_path / "forged.checkpoint"
    bad.write_text(json.dumps(forged))
    refused = run_cli("collector", "audit", "verify", "--checkpoint", str(bad), *data, check=False)
    assert refused.returncode == 1 and "signature does not match" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert GENESIS_HASH not in checkpoint.read_text()
