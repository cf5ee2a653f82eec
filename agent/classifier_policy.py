"""Turning the agent's configuration into the classifier's policy (one place, used by every caller)."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from agent.classify import DEFAULT_LIMITS, ClassifierPolicy
from agent.config import AgentConfig


def classifier_policy(config: AgentConfig) -> ClassifierPolicy:
    """The ClassifierPolicy that `[case_files]` describes."""
    cf = config.case_files
    return ClassifierPolicy(
        reference_patterns=cf.reference_patterns,
        label_map=MappingProxyType(dict(cf.label_map)),
        content_threshold=cf.content_threshold,
        fingerprint_threshold=cf.fingerprint_threshold,
        limits=replace(DEFAULT_LIMITS, ocr=cf.ocr),
    )
