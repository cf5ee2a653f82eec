"""Enrolment with expiring tokens, certificate renewal, and central policy, end to end."""

from __future__ import annotations

import json
import os
import random
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from collector.pki import fingerprint_of_pem
from tests.integration.harness import Agent, Collector, free_port, run_cli, wait_for
from tests.unit.classify.synthetic import nhs_number

pytestmark = pytest.mark.integration


@pytest.fixture
def enrolling_collector(collector: Collector) -> Iterator[tuple[Collector, str, str]]:
    """A collector with an enrolment port; yields (collector, enrolment address, CA fingerprint)."""
    port = free_port()
    collector.start("--enroll-listen", f"127.0.0.1:{port}")
    pin = fingerprint_of_pem((collector.data_dir / "pki" / "ca.pem").read_bytes())
    yield collector, f"127.0.0.1:{port}", pin


def _token(collector: Collector, *args: str) -> str:
    return run_cli("collector", "enroll-token", "create", "--data-dir", str(collector.data_dir), *args).stdout.strip()


def _fresh_agent(tmp_path: Path, collector: Collector, name: str, settings: str = "") -> Agent:
    agent = Agent(tmp_path, name, [collector.address], tmp_path / f"{name}-certs", settings)
    agent.write_config()
    return agent


def _enroll(agent: Agent, address: str, token: str, pin: str) -> Any:
    return run_cli("agent", "enroll", "--config", str(agent.config), "--collector", address, "--token", token,
                   "--ca-fingerprint", pin, "--label", "LAPTOP-0042", check=False)


def _checks_policy_every_second(agent: Agent) -> Agent:
    """The agent asks the collector for a new central policy every second (not every few minutes)."""
    text = agent.config.read_text().replace("timeout_s = 5\n", "timeout_s = 5\npolicy_interval_s = 1\n")
    agent.config.write_text(text)
    return agent


def _events(collector: Collector, device: str, kind: str) -> list[dict[str, Any]]:
    out = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--device", device,
                  "--json").stdout
    return [e for e in map(json.loads, out.splitlines()) if e["kind"] == kind]


def test_a_laptop_enrols_with_a_token_and_delivers(
    enrolling_collector: tuple[Collector, str, str], tmp_path: Path
) -> None:
    collector, address, pin = enrolling_collector
    token = _token(collector, "--expires", "1h", "--uses", "1")
    agent = _fresh_agent(tmp_path, collector, "fresh")
    proc = _enroll(agent, address, token, pin)
    assert proc.returncode == 0, proc.stderr
    name = proc.stdout.split("enrolled as ")[1].split(";")[0]
    assert name.startswith("LAPTOP-0042-") and len(name) == len("LAPTOP-0042-") + 6
    key = agent.cert_dir / "device.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes()
    agent.emit(5)
    agent.start()
    wait_for(lambda: collector.count("test", name) == 5, 30, "events from the enrolled laptop")
    agent.stop()

    # The token was for one laptop: a second (e.g. a cloned image) is refused, clearly.
    clone = _fresh_agent(tmp_path, collector, "clone")
    again = _enroll(clone, address, token, pin)
    assert again.returncode == 1 and "already been used" in again.stderr
    assert not (clone.cert_dir / "device.pem").exists()


def test_expired_tokens_and_a_wrong_ca_fingerprint_are_refused(
    enrolling_collector: tuple[Collector, str, str], tmp_path: Path
) -> None:
    collector, address, pin = enrolling_collector
    short = _token(collector, "--expires", "1s")
    time.sleep(1.5)
    agent = _fresh_agent(tmp_path, collector, "late")
    proc = _enroll(agent, address, short, pin)
    assert proc.returncode == 1 and "expired" in proc.stderr
    live = _token(collector)
    wrong_pin = "SHA256:" + "00" * 32
    proc = _enroll(agent, address, live, wrong_pin)
    assert proc.returncode == 1 and "not the fingerprint you were given" in proc.stderr
    assert not (agent.cert_dir / "device.key").exists(), "nothing is written when the CA does not match"
    tokens = [json.loads(x) for x in run_cli("collector", "enroll-token", "list", "--data-dir",
                                             str(collector.data_dir), "--json").stdout.splitlines()]
    assert {t["live"] for t in tokens} == {True, False} and all("secret" not in t for t in tokens)


def test_certificates_renew_before_expiry_and_delivery_goes_on(
    collector: Collector, make_agent: Callable[..., Agent]
) -> None:
    collector.start()
    agent = make_agent("laptop-renew", settings="")
    cert = agent.cert_dir / "device.pem"
    before = fingerprint_of_pem(cert.read_bytes())
    old_key = (agent.cert_dir / "device.key").read_bytes()
    text = agent.config.read_text().replace("timeout_s = 5\n", "timeout_s = 5\nrenew_before_days = 1000\n")
    agent.config.write_text(text)  # every certificate is "about to expire": renew at start
    agent.start()
    wait_for(lambda: fingerprint_of_pem(cert.read_bytes()) != before, 30, "a renewed certificate")
    assert (agent.cert_dir / "device.key").read_bytes() != old_key, "renewal makes a new key on the laptop"
    renewed = x509.load_pem_x509_certificate(cert.read_bytes())
    assert renewed.subject.rfc4514_string() == "CN=laptop-renew"
    agent.emit(3)
    wait_for(lambda: collector.count("test", "laptop-renew") == 3, 30, "delivery with the renewed certificate")
    devices = run_cli("collector", "devices", "list", "--data-dir", str(collector.data_dir), "--json").stdout
    assert len(devices.splitlines()) == 1


def test_central_policy_is_applied_live_and_local_settings_only_tighten(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    collector.start()
    policy_dir = tmp_path / "OrgPolicyPersonal"
    policy_dir.mkdir()
    agent = _checks_policy_every_second(make_agent("laptop-pol", settings="[privacy]\nreveal_names = false\n"))
    agent.start()
    wait_for(lambda: bool(_events(collector, "laptop-pol", "agent_started")), 20, "the agent")
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[lock]\nidle_timeout_s = 240\n[egress]\npersonal_dirs = ["{policy_dir}"]\n'
                      "[privacy]\nreveal_names = true\n")
    out = run_cli("collector", "policy", "set", str(policy), "--by", "it.admin", "--data-dir",
                  str(collector.data_dir)).stdout
    assert "version 1" in out
    wait_for(lambda: bool(_events(collector, "laptop-pol", "policy_applied")), 20, "policy_applied")
    applied = _events(collector, "laptop-pol", "policy_applied")[0]
    assert applied["version"] == "1" and applied["tightened_locally"] == ["privacy.reveal_names"]
    session_policy = json.loads((agent.root / "laptop-pol-state" / "session" / "session-policy.json").read_text())
    assert session_policy["idle_timeout_s"] == 240 and session_policy["version"] == 1
    # The policy's personal folder is watched now, without a restart, and names stay private.
    time.sleep(2)
    (policy_dir / "notes.txt").write_text(
        f"Strategy meeting for the child; NHS number {nhs_number(random.Random(2))}; date of birth 01/02/2015. "
        "Child protection plan and safeguarding review with the social worker.\n"
    )
    wait_for(lambda: bool(_events(collector, "laptop-pol", "case_file_egress")), 30, "egress under the new policy")
    assert _events(collector, "laptop-pol", "case_file_egress")[0]["file"]["file_name"] == ""
    shown = json.loads(run_cli("collector", "policy", "show", "--json", "--data-dir", str(collector.data_dir)).stdout)
    assert shown["version"] == 1 and shown["by"] == "it.admin"
    assert agent.proc is not None and agent.proc.poll() is None


def test_identifiers_from_the_case_management_export_reach_every_laptop_as_keyed_hashes(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    """Issue 13: IT loads the export; a laptop that never held the child's records still catches a note."""
    collector.start()
    personal = tmp_path / "Personal Sync"
    personal.mkdir()
    org_key = tmp_path / "org.key"
    org_key.write_bytes(os.urandom(32).hex().encode())
    agent = _checks_policy_every_second(make_agent(
        "laptop-ids", settings=f'[egress]\npersonal_dirs = ["{personal}"]\nsettle_s = 0.5\n'
                               f'[privacy]\norg_key_file = "{org_key}"\n'))  # fmt: skip
    agent.start()
    wait_for(lambda: bool(_events(collector, "laptop-ids", "agent_started")), 20, "the agent")
    nhs = nhs_number(random.Random(41)).replace(" ", "")
    export = tmp_path / "cms-export.csv"
    export.write_text(f"child_id,nhs_number,case_reference,ni_number\n17,{nhs},CS-400917,\n18,,CS-400918,\n")
    policy = tmp_path / "policy.toml"
    policy.write_text('[case_files]\nreference_patterns = ["\\\\bCS-\\\\d{6}\\\\b"]\n')

    bad = tmp_path / "bad-export.csv"
    wrong_check_digit = nhs[:9] + ("1" if nhs[9] == "0" else "0")
    bad.write_text(f"nhs_number\n{nhs}\n{wrong_check_digit}\n")
    refused = run_cli("collector", "policy", "set", str(policy), "--identifiers", str(bad), "--org-key", str(org_key),
                      "--by", "it.admin", "--data-dir", str(collector.data_dir), check=False)  # fmt: skip
    assert refused.returncode != 0 and "line 3, nhs_number: not a valid NHS number" in refused.stderr
    assert nhs not in refused.stderr and "Traceback" not in refused.stderr

    out = run_cli("collector", "policy", "set", str(policy), "--identifiers", str(export), "--org-key", str(org_key),
                  "--by", "it.admin", "--data-dir", str(collector.data_dir)).stdout  # fmt: skip
    assert "1 NHS numbers, 2 case references and 0 NI numbers, as keyed hashes" in out
    shown = run_cli("collector", "policy", "show", "--json", "--data-dir", str(collector.data_dir)).stdout
    assert len(json.loads(shown)["policy"]["case_files"]["known_identifier_hashes"]) == 3
    assert nhs not in shown and "CS-400917" not in shown  # the values are never published
    wait_for(lambda: bool(_events(collector, "laptop-ids", "policy_applied")), 20, "policy_applied")
    time.sleep(1)

    # Two lines, no case vocabulary: only the known case reference makes it a case file.
    (personal / "note.txt").write_text("Rang school re CS-400918. Will call back tomorrow.\n")
    wait_for(lambda: bool(_events(collector, "laptop-ids", "case_file_egress")), 30, "egress of the short note")
    [event] = _events(collector, "laptop-ids", "case_file_egress")
    assert "known_identifier" in event["file"]["reasons"]
    state = b"".join(p.read_bytes() for p in (agent.root / "laptop-ids-state").rglob("*") if p.is_file())
    assert b"CS-400917" not in state and nhs.encode() not in state  # the laptop keeps hashes only

    # A later change (a new lock timeout) keeps the list; only --clear-identifiers drops it.
    policy.write_text('[case_files]\nreference_patterns = ["\\\\bCS-\\\\d{6}\\\\b"]\n[lock]\nidle_timeout_s = 240\n')
    later = run_cli("collector", "policy", "set", str(policy), "--by", "it.admin",
                    "--data-dir", str(collector.data_dir)).stdout  # fmt: skip
    assert "3 keyed hashes kept from the previous version" in later
    kept = json.loads(run_cli("collector", "policy", "show", "--json", "--data-dir", str(collector.data_dir)).stdout)
    assert len(kept["policy"]["case_files"]["known_identifier_hashes"]) == 3 and kept["version"] == 2
    degraded = _events(collector, "laptop-ids", "coverage_degraded")
    assert not [e for e in degraded if e["component"] == "known_identifiers"]  # same key on both sides
    run_cli("collector", "policy", "set", str(policy), "--clear-identifiers", "--by", "it.admin",
            "--data-dir", str(collector.data_dir))  # fmt: skip
    cleared = json.loads(run_cli("collector", "policy", "show", "--json", "--data-dir", str(collector.data_dir)).stdout)
    assert "known_identifier_hashes" not in cleared["policy"]["case_files"]
