"""DEBUG logging never names a file: case files copied with [logging] level = "DEBUG", every log searched.

Before the fix watchdog logged the full path of every copied case file at DEBUG. The names used
here (a child's invented name in file and folder names) and the identifiers inside the files must
appear in no log line of the agent, at any level; with ``[privacy] reveal_names = true`` they may.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Agent, Collector, run_cli, wait_for
from tests.unit.classify.documents import make_docx
from tests.unit.classify.synthetic import case_file_paragraphs, nhs_number

pytestmark = pytest.mark.integration

SECRETS = ("Zebedee", "Quartermaine")  # an invented child's name, used in file and folder names


def _egress(collector: Collector, device: str) -> list[dict[str, Any]]:
    out = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--device", device,
                  "--json", timeout=120).stdout
    return [e for e in map(json.loads, out.splitlines()) if e["kind"] == "case_file_egress"]


@pytest.mark.parametrize("reveal", [False, True])
def test_debug_logs_name_no_files(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path, reveal: bool
) -> None:
    rng = random.Random(3)
    personal = tmp_path / "home" / "Zebedee Quartermaine Sync"
    protected = tmp_path / "Quartermaine casestore"
    personal.mkdir(parents=True)
    protected.mkdir()
    (tmp_path / "org.key").write_bytes(os.urandom(32).hex().encode())
    record = make_docx(case_file_paragraphs(rng, paragraphs=12, reference="CS-104299"))
    (protected / "Quartermaine-Zebedee-CP-plan.docx").write_bytes(record)
    numbers = [nhs_number(rng) for _ in range(3)]
    collector.start()
    agent = make_agent("laptop-l", settings=(
        f'[logging]\nlevel = "DEBUG"\n'
        f'[egress]\npersonal_dirs = ["{personal}"]\nsettle_s = 0.5\n'
        f'[case_files]\nroots = ["{protected}"]\n'
        f'[privacy]\norg_key_file = "{tmp_path / "org.key"}"\nreveal_names = {"true" if reveal else "false"}\n'
    ))
    agent.start()
    wait_for(lambda: "started as device" in agent.log(), 30, "the agent")
    wait_for(lambda: "protected index: reconciled" in agent.log(), 30, "the first index reconcile")
    (personal / "Zebedee-Quartermaine-copy.docx").write_bytes(record)
    for i, number in enumerate(numbers):
        note = (f"Child protection strategy meeting. Child: Zebedee Quartermaine, date of birth 01/02/2015, "
                f"NHS number {number}. Social worker to update the care plan and safeguarding record.\n")
        (personal / f"Quartermaine-note-{i}.txt").write_text(note)
    (personal / "Zebedee-referral.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Kids [2 0 R] >>\ngarbage\n%%EOF\n")
    os.rename(personal / "Quartermaine-note-0.txt", personal / "Quartermaine-note-moved.txt")
    wait_for(lambda: len(_egress(collector, "laptop-l")) >= 4, 40, "four egress events")
    agent.stop()
    log = agent.log()
    leaked = [s for s in (*SECRETS, *numbers, "CS-104299") if s in log]
    if reveal:
        assert " DEBUG watchdog" in log and "Zebedee" in log, "with reveal_names the libraries' DEBUG lines are kept"
    else:
        assert leaked == [], [line for line in log.splitlines() if any(s in line for s in leaked)][:5]
