"""Shared fixtures for classifier tests."""

from __future__ import annotations

import random

import pytest

from agent.classify import ClassifierPolicy
from tests.unit.classify.documents import LABEL_GUID

REFERENCE = r"\bCS-\d{6}\b"


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20250301)


@pytest.fixture
def policy() -> ClassifierPolicy:
    """A council's policy: CS-nnnnnn case references, one protected label mapped by GUID, one by name."""
    return ClassifierPolicy(
        reference_patterns=(REFERENCE,),
        label_map={LABEL_GUID: "case-confidential", "Highly Confidential - Children": "children-restricted"},
    )
