"""`serve` writes signed audit checkpoints on its own and mails them off the host; failures are loud.

Real parts: the collector process with a configuration file, an agent whose case-file egress
opens an incident (so the audit trail grows), the CLI recording actions, a real SMTP server
(aiosmtpd) on loopback, the ops listener's Prometheus text, and `audit verify` on a copy of
the database whose tail was cut off afterwards.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.harness import EGRESS, Agent, Collector, Inbox, free_port, run_cli, wait_for

pytestmark = pytest.mark.integration


def _config(tmp_path: Path, smtp_port: int, folder: Path, every_s: float = 2) -> Path:
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[notify.email]\nhost = "127.0.0.1"\nport = {smtp_port}\nto = ["ig@test"]\ntimeout_s = 2\n'
        f'[audit]\ncheckpoint_s = {every_s}\ncheckpoint_dir = "{folder}"\n[workflow]\ntick_interval_s = 1\n'
    )
    return config


def _attachment(mail: Message) -> tuple[str, dict[str, object]]:
    parts = [p for p in mail.walk() if p.get_filename()]
    assert len(parts) == 1, mail.as_string()[:2000]
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(parts[0].get_filename()), json.loads(payload)


def _audit_seq(data_dir: Path) -> int:
    db = sqlite3.connect(data_dir / "collector.sqlite3", timeout=30)
    try:
        return int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM wf_audit").fetchone()[0])
    finally:
        db.close()


def test_checkpoints_are_written_and_mailed_and_the_mailed_copy_catches_a_later_truncation(
    collector: Collector, make_agent: Callable[..., Agent], smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    folder = tmp_path / "checkpoints"
    data = ["--data-dir", str(collector.data_dir)]
    collector.start("--config", str(_config(tmp_path, port, folder)))
    agent = make_agent("laptop-1")
    run_cli("agent", "emit", "--config", str(agent.config), "--kind", "case_file_egress", "--body", json.dumps(EGRESS))
    agent.start()

    def incidents() -> list[dict[str, object]]:
        out = run_cli("collector", "incidents", "list", *data, "--json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    wait_for(lambda: any("case_file_egress" in str(i["alert_kinds"]) for i in incidents()), 30, "the incident")
    iid = next(str(i["incident_id"]) for i in incidents() if "case_file_egress" in str(i["alert_kinds"]))
    for n in range(4):
        run_cli("collector", "incidents", "record-action", iid, "--text", f"step {n}", "--by", "ig.officer", *data)
    head = _audit_seq(collector.data_dir)
    assert head >= 5

    def mailed_at_head() -> list[Message]:
        return [m for m in inbox.notices("audit_checkpoint") if int(str(_attachment(m)[1]["seq"])) >= head]

    wait_for(lambda: bool(mailed_at_head()), 30, "a mailed checkpoint of the whole trail")
    mail = mailed_at_head()[0]
    name, document = _attachment(mail)
    head = int(str(document["seq"]))
    assert mail["Subject"] == f"[Caseguard] signed audit checkpoint at entry {head}"
    on_disk = folder / name
    assert name.startswith("audit-checkpoint-") and name.endswith("Z.json")
    assert json.loads(on_disk.read_text()) == document  # the file in checkpoint_dir is the one mailed
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "a temporary file was left behind"
    agent.stop()
    collector.stop()

    kept = tmp_path / "kept-by-the-ig-team.json"  # the copy that lives off the database host
    kept.write_text(json.dumps(document))
    ok = run_cli("collector", "audit", "verify", "--checkpoint", str(kept), *data)
    assert "intact" in ok.stdout

    # Someone with the database cuts off the last two entries and moves the head back.
    copy = tmp_path / "tampered"
    shutil.copytree(collector.data_dir, copy)
    db = sqlite3.connect(copy / "collector.sqlite3")
    with db:
        db.execute("DELETE FROM wf_audit WHERE seq > ?", (head - 2,))
        seq, digest = db.execute("SELECT seq, hash FROM wf_audit ORDER BY seq DESC LIMIT 1").fetchone()
        db.execute("UPDATE wf_audit_head SET seq = ?, hash = ?", (seq, digest))
    db.close()
    plain = run_cli("collector", "audit", "verify", "--data-dir", str(copy), check=False)
    assert plain.returncode == 0, "the chain alone cannot see a tail truncation: that is the point"
    checked = run_cli("collector", "audit", "verify", "--checkpoint", str(kept), "--data-dir", str(copy), check=False)
    assert checked.returncode == 1 and "BROKEN" in checked.stdout, checked.stdout


def _failed_steps(ops: str) -> dict[str, float]:
    import urllib.request

    with urllib.request.urlopen(f"http://{ops}/metrics", timeout=5) as response:
        text = response.read().decode()
    steps: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "caseguard_audit_checkpoint_steps_total" and sample.labels["outcome"] == "failed":
                steps[sample.labels["step"]] = sample.value
    return steps


def test_a_failing_write_or_send_is_loud_retried_and_recovers_while_serving(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    blocked = tmp_path / "checkpoints"
    blocked.write_text("a file where the folder should be")
    smtp_port, ops = free_port(), f"127.0.0.1:{free_port()}"
    collector.start("--config", str(_config(tmp_path, smtp_port, blocked, every_s=1)), "--ops", ops)

    wait_for(lambda: "audit checkpoint failed writing" in collector.log(), 20, "the write failure in the log")
    wait_for(lambda: _failed_steps(ops).get("write", 0) >= 2, 20, "failed writes counted and retried")
    agent = make_agent("laptop-1")
    agent.emit(3)
    agent.start()
    wait_for(lambda: collector.count("test", "laptop-1") == 3, 30, "events stored while checkpoints fail")

    blocked.unlink()
    wait_for(lambda: "audit checkpoint writing recovered" in collector.log(), 20, "the write recovery")
    assert any(p.name.startswith("audit-checkpoint-") for p in blocked.iterdir())
    wait_for(lambda: "failed sending it by email" in collector.log(), 20, "the send failure in the log")
    wait_for(lambda: _failed_steps(ops).get("email", 0) >= 1, 10, "the failed send counted")

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        wait_for(lambda: bool(inbox.notices("audit_checkpoint")), 30, "the checkpoint mail once SMTP is back")
        wait_for(lambda: "audit checkpoint sending by email recovered" in collector.log(), 10, "the send recovery")
    finally:
        controller.stop()
    assert "Traceback" in collector.log()  # the first failure of each step is logged with its cause
    agent.stop()
