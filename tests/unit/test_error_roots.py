"""Each program has one root error type, and every error class it defines derives from it.

Error classes are found in the source (any class whose bases name an exception), so a new
one that forgets the root fails here.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from agent.errors import AgentError
from agent.errors import UsageError as AgentUsageError
from collector.errors import CollectorError
from collector.errors import UsageError as CollectorUsageError

ROOT = Path(__file__).resolve().parents[2]
ROOTS: dict[str, type[Exception]] = {"agent": AgentError, "collector": CollectorError}


def _is_exceptionish(name: str) -> bool:
    return name.endswith(("Error", "Exception", "Refused", "Rejected", "Lost", "Exists", "Kind", "Password")) or (
        name.startswith(("Unknown", "Invalid", "Missing"))
    )


def error_classes(top: str) -> list[tuple[str, str]]:
    """(module, class) for every class in ``top`` that derives from something exception-like."""
    found = []
    for path in sorted((ROOT / top).rglob("*.py")):
        if "_pb2" in path.name:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                if any(_is_exceptionish(b) for b in bases) and module not in ("agent.errors", "collector.errors"):
                    found.append((module, node.name))
    return found


CASES = [(top, m, c) for top in ROOTS for m, c in error_classes(top)]


def test_the_scan_finds_the_known_error_classes() -> None:
    names = {c for _, _, c in CASES}
    assert {"StoreError", "PkiError", "TokenError", "DomainError", "WorkflowError", "CallerRefused"} <= names
    assert {"DeliveryError", "CredentialsError", "EnrollmentError", "PolicyRejected", "ExtractionError"} <= names


@pytest.mark.parametrize(("top", "module", "name"), CASES, ids=[f"{m}.{c}" for _, m, c in CASES])
def test_every_error_class_derives_from_its_programs_root(top: str, module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        assert issubclass(cls, ROOTS[top]), f"{module}.{name} does not derive from {ROOTS[top].__name__}"


def test_usage_errors_exit_2_and_the_rest_exit_1() -> None:
    from agent.config import ConfigError as AgentConfigError
    from agent.transport.client import DeliveryError
    from collector.config import ConfigError
    from collector.durations import InvalidDuration
    from collector.store.base import UnknownDevice

    assert ConfigError.exit_code == InvalidDuration.exit_code == CollectorUsageError.exit_code == 2
    assert AgentConfigError.exit_code == AgentUsageError.exit_code == 2
    assert UnknownDevice.exit_code == DeliveryError.exit_code == 1
