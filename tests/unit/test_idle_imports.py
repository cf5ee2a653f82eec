"""The idle agent's import set stays lean (issue 12, "Footprint"): what each process imports to start.

Each check runs in a fresh interpreter, so an import that slips back to module level (a reader in
the sandbox package, grpc in the session component) fails here rather than as lost megabytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Only the confined extraction worker may load these (each is megabytes; together ~19 MB).
DOCUMENT_READERS = ("pypdf", "pypdfium2", "PIL", "pytesseract")


def _loaded(modules: list[str], watch: tuple[str, ...]) -> list[str]:
    code = (
        "import json, sys\n"
        f"for m in {modules!r}:\n    __import__(m)\n"
        f"print(json.dumps([m for m in {list(watch)!r} if m in sys.modules]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "protos"), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(proc.stdout.splitlines()[-1]))


def test_system_agent_at_idle_loads_no_document_reader():
    # Everything `caseguard-agent run` imports before the first file is judged.
    assert _loaded(["agent.cli", "agent.runtime", "agent.egress_pipeline", "agent.file_judge"], DOCUMENT_READERS) == []


def test_classifier_and_sandbox_client_load_no_document_reader():
    # The classifier hands PDFs and images to the sandbox; only the worker process reads them.
    modules = ["agent.classify", "agent.sandbox", "agent.sandbox.job", "agent.sandbox.runner", "agent.sandbox.worker"]
    assert _loaded(modules, DOCUMENT_READERS) == []


def test_session_component_loads_neither_grpc_nor_the_egress_pipeline():
    # _hashlib is OpenSSL's libcrypto (3.4 MB): the session component hashes nothing.
    heavy = ("grpc", "google.protobuf", "watchdog", "agent.egress_pipeline", "agent.classify", "_hashlib",
             *DOCUMENT_READERS)
    assert _loaded(["agent.cli", "agent.session_runtime", "agent.lock.idle_x11"], heavy) == []


@pytest.mark.parametrize("reader", DOCUMENT_READERS)
def test_the_worker_still_reads_documents(reader):
    # The other side of the bargain: the worker's readers import their libraries.
    assert _loaded(["agent.sandbox.pdf", "agent.sandbox.images"], (reader,)) == [reader]


def test_neither_process_loads_a_schema_library_to_read_its_settings():
    # pydantic (with pydantic_core) cost each process about 16 MB; caseguard.settings checks the same
    # rules itself. Loading and merging a real configuration must not bring it (or a rival) back.
    modules = ["agent.cli", "agent.config", "agent.runtime", "agent.session_runtime", "caseguard.central_policy"]
    assert _loaded(modules, ("pydantic", "pydantic_core", "msgspec", "attrs", "marshmallow")) == []


def test_the_idle_system_agent_loads_neither_the_email_package_nor_importlib_metadata():
    # The email readers (email, html.parser: ~1.6 MB of heap) load when an email arrives; the version
    # comes from caseguard.__version__, not a scan of the installed distributions (~3.5 MB RSS).
    modules = ["agent.cli", "agent.runtime", "agent.egress_pipeline", "agent.file_judge", "agent.classify"]
    assert _loaded(modules, ("email", "html.parser", "importlib.metadata", "agent.classify.mail")) == []


def test_an_email_still_loads_its_reader():
    code = ["agent.classify"]
    assert _loaded(code, ("email",)) == []
    data = b"From: a@b.example\r\nSubject: s\r\n\r\nhello\r\n"
    probe = (
        "import json, sys\nfrom agent.classify.extract import extract\nfrom agent.classify.limits import Budget\n"
        f"from agent.classify import DEFAULT_LIMITS\nr = extract({data!r}, 'eml', Budget(DEFAULT_LIMITS))\n"
        "print(json.dumps(['agent.classify.mail' in sys.modules, r.error]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "protos"), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == [True, None]
