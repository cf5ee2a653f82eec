"""The workflow's policy: the domain's policies in one object, plus how often to check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from collector.domain.checklists import DEFAULT_CHECKLISTS
from collector.domain.clocks import ClockPolicy
from collector.domain.device_signals import DeviceSignalPolicy
from collector.domain.grouping import GroupingPolicy
from collector.domain.obligations import ObligationPolicy
from collector.domain.pre_assessment import PreAssessmentPolicy
from collector.domain.risk import RiskPolicy


@dataclass(frozen=True)
class WorkflowPolicy:
    """Grouping windows, device signals, clocks, the risk grid and pre-assessment, and timing.

    ``tick_interval`` is how often ``serve`` runs the periodic checks and retries
    notifications; ``batch_size`` is how many events one intake transaction handles;
    ``sweep_interval`` is how often it looks for breach-class events the cursor passed without
    handling, as far back as ``sweep_lookback``.
    """

    grouping: GroupingPolicy = field(default_factory=GroupingPolicy)
    device_signals: DeviceSignalPolicy = field(default_factory=DeviceSignalPolicy)
    clock: ClockPolicy = field(default_factory=ClockPolicy)
    risk: RiskPolicy = field(default_factory=RiskPolicy)
    pre_assessment: PreAssessmentPolicy = field(default_factory=PreAssessmentPolicy)
    obligations: ObligationPolicy = field(default_factory=ObligationPolicy)
    checklists: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CHECKLISTS))
    tick_interval: timedelta = timedelta(seconds=60)
    batch_size: int = 500
    sweep_interval: timedelta = timedelta(seconds=60)
    sweep_lookback: timedelta = timedelta(days=7)


DEFAULT_WORKFLOW_POLICY = WorkflowPolicy()
