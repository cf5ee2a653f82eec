"""Collector settings for the breach workflow: one frozen, typed object loaded once from TOML.

Every key is documented in deploy/collector.example.toml. Unknown keys are an error, so a
typo cannot silently switch off a notification or loosen a risk threshold. Without a file
the defaults apply: the workflow runs, nobody is emailed, and the ICO draft's "About you"
answers are blank.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from collector.domain.clocks import ClockPolicy
from collector.domain.device_signals import DeviceSignalPolicy
from collector.domain.grouping import GroupingPolicy
from collector.domain.ico_form import DataSubjectCategory, PersonalDataCategory, YesNoUnknown
from collector.domain.ico_prefill import OrgProfile
from collector.domain.pre_assessment import PreAssessmentPolicy
from collector.domain.risk import RiskPolicy
from collector.notify.mail import SmtpChannel, SmtpSettings
from collector.notify.webhook import WebhookChannel, WebhookSettings
from collector.store.workflow_base import WorkflowStore
from collector.workflow.policy import WorkflowPolicy
from collector.workflow.service import NO_ORGANISATION, WorkflowService
from collector.workflow.times import utc_now

E = TypeVar("E", bound=enum.Enum)


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or has a bad value."""


@dataclass(frozen=True)
class CollectorConfig:
    """The whole collector configuration (the workflow's part; listen address and data dir are flags)."""

    org: OrgProfile = NO_ORGANISATION
    email: SmtpSettings | None = None
    webhook: WebhookSettings | None = None
    workflow: WorkflowPolicy = field(default_factory=WorkflowPolicy)
    source: Path | None = None


CONFIG_ENV = "CASEGUARD_COLLECTOR_CONFIG"


def default_config_path(environ: Mapping[str, str]) -> Path | None:
    """The configuration file named by ``$CASEGUARD_COLLECTOR_CONFIG``, or None (built-in defaults)."""
    value = environ.get(CONFIG_ENV, "")
    return Path(value) if value else None


def load_config(path: Path | None) -> CollectorConfig:
    """Read and validate the TOML file at ``path``; None gives the defaults."""
    if path is None:
        return CollectorConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from exc
    try:
        return parse_config(raw, base_dir=path.parent, source=path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def workflow_service(
    store: WorkflowStore, config: CollectorConfig, clock: Callable[[], datetime] = utc_now
) -> WorkflowService:
    """The breach workflow as configured: policy, organisation profile and notification channels."""
    return WorkflowService(
        store,
        policy=config.workflow,
        org=config.org,
        email=SmtpChannel(config.email) if config.email else None,
        webhook=WebhookChannel(config.webhook) if config.webhook else None,
        clock=clock,
    )


def parse_config(raw: Mapping[str, Any], base_dir: Path, source: Path | None = None) -> CollectorConfig:
    """Validate an already-parsed TOML mapping; relative paths resolve against ``base_dir``."""
    _reject_unknown(raw, {"organisation", "notify", "workflow"}, "")
    notify = _table(raw, "notify", "")
    _reject_unknown(notify, {"email", "webhook"}, "notify")
    return CollectorConfig(
        org=_org(_table(raw, "organisation", "")),
        email=_email(_table(notify, "email", "notify"), base_dir),
        webhook=_webhook(_table(notify, "webhook", "notify"), base_dir),
        workflow=_workflow(_table(raw, "workflow", "")),
        source=source,
    )


_ORG_TEXT = (
    "address", "reporter_name", "reporter_role", "reporter_email", "reporter_phone", "dpo_name", "dpo_email",
    "dpo_phone", "training_details", "measures_in_place", "potential_consequences",
)  # fmt: skip


def _org(t: Mapping[str, Any]) -> OrgProfile:
    _reject_unknown(
        t,
        {"name", "ico_registration_number", "staff_training_last_two_years", "data_categories", "subject_categories",
         *_ORG_TEXT},
        "organisation",
    )  # fmt: skip
    if not t:
        return NO_ORGANISATION
    defaults = OrgProfile("", "")
    return OrgProfile(
        organisation_name=_str(t.get("name", ""), "organisation.name"),
        ico_registration_number=_str(t.get("ico_registration_number", ""), "organisation.ico_registration_number"),
        staff_training_last_two_years=_enum(
            YesNoUnknown,
            t.get("staff_training_last_two_years", "not_known"),
            "organisation.staff_training_last_two_years",
        ),
        case_file_data_categories=_enums(
            PersonalDataCategory, t, "data_categories", defaults.case_file_data_categories, "organisation"
        ),
        data_subject_categories=_enums(
            DataSubjectCategory, t, "subject_categories", defaults.data_subject_categories, "organisation"
        ),
        **{k: _str(t.get(k, ""), f"organisation.{k}") for k in _ORG_TEXT},
    )


def _email(t: Mapping[str, Any], base_dir: Path) -> SmtpSettings | None:
    _reject_unknown(
        t, {"host", "port", "from", "to", "starttls", "credentials_file", "ca_file", "timeout_s", "subject_prefix"},
        "notify.email",
    )  # fmt: skip
    host = _str(t.get("host", ""), "notify.email.host")
    if not host:
        return None
    to = t.get("to", [])
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to:
        raise ConfigError("notify.email.to must list at least one address")
    port = t.get("port", 25)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError("notify.email.port must be a port number")
    return SmtpSettings(
        host=host,
        port=port,
        sender=_str(t.get("from", "caseguard@localhost"), "notify.email.from"),
        to=tuple(_str(a, "notify.email.to[]") for a in to),
        starttls=_bool(t.get("starttls", False), "notify.email.starttls"),
        credentials_file=_path(t.get("credentials_file", ""), base_dir, "notify.email.credentials_file"),
        ca_file=_path(t.get("ca_file", ""), base_dir, "notify.email.ca_file"),
        timeout_s=_positive(t.get("timeout_s", 10.0), "notify.email.timeout_s"),
        subject_prefix=_str(t.get("subject_prefix", "[Caseguard]"), "notify.email.subject_prefix"),
    )


def _webhook(t: Mapping[str, Any], base_dir: Path) -> WebhookSettings | None:
    _reject_unknown(t, {"url", "timeout_s", "secret_file"}, "notify.webhook")
    url = _str(t.get("url", ""), "notify.webhook.url")
    if not url:
        return None
    if not url.startswith(("https://", "http://")):
        raise ConfigError("notify.webhook.url must start with https:// (or http://)")
    return WebhookSettings(
        url=url,
        timeout_s=_positive(t.get("timeout_s", 10.0), "notify.webhook.timeout_s"),
        secret_file=_path(t.get("secret_file", ""), base_dir, "notify.webhook.secret_file"),
    )


def _workflow(t: Mapping[str, Any]) -> WorkflowPolicy:
    _reject_unknown(
        t,
        {"tick_interval_s", "grouping_window_minutes", "device_signal_window_minutes", "silent_device_days",
         "gap_settle_minutes", "high_confidence", "warning_hours", "risk", "pre_assessment"},
        "workflow",
    )  # fmt: skip
    w = "workflow."
    hours = t.get("warning_hours", [24, 12, 4, 0])
    if not isinstance(hours, list) or not all(isinstance(h, (int, float)) and h >= 0 for h in hours):
        raise ConfigError("workflow.warning_hours must be a list of hours left (0 = when the deadline passes)")
    clock = ClockPolicy(
        high_confidence=_fraction(t.get("high_confidence", 0.9), w + "high_confidence"),
        warning_thresholds=tuple(timedelta(hours=h) for h in sorted(set(hours), reverse=True)),
    )
    return WorkflowPolicy(
        grouping=GroupingPolicy(
            destination_window=timedelta(
                minutes=_positive(t.get("grouping_window_minutes", 30), w + "grouping_window_minutes")
            ),
            device_signal_window=timedelta(
                minutes=_positive(t.get("device_signal_window_minutes", 30), w + "device_signal_window_minutes")
            ),
        ),
        device_signals=DeviceSignalPolicy(
            max_silence=timedelta(days=_positive(t.get("silent_device_days", 14), w + "silent_device_days")),
            gap_settle=timedelta(minutes=_positive(t.get("gap_settle_minutes", 60), w + "gap_settle_minutes")),
        ),
        clock=clock,
        risk=_risk(_table(t, "risk", "workflow")),
        pre_assessment=_pre_assessment(_table(t, "pre_assessment", "workflow")),
        tick_interval=timedelta(seconds=_positive(t.get("tick_interval_s", 60), w + "tick_interval_s")),
    )  # fmt: skip


_RISK_KEYS = ("ico_min_likelihood", "ico_min_severity", "high_risk_min_likelihood", "high_risk_min_severity",
              "vulnerable_floor")  # fmt: skip


def _risk(t: Mapping[str, Any]) -> RiskPolicy:
    _reject_unknown(t, set(_RISK_KEYS), "workflow.risk")
    defaults = RiskPolicy()
    values = {k: t.get(k, getattr(defaults, k)) for k in _RISK_KEYS}
    for k, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 5:
            raise ConfigError(f"workflow.risk.{k} must be a whole number from 1 to 5")
    return RiskPolicy(**values)


def _pre_assessment(t: Mapping[str, Any]) -> PreAssessmentPolicy:
    p = "workflow.pre_assessment."
    _reject_unknown(
        t,
        {"max_os_lock_timeout_minutes", "max_posture_age_days", "assume_vulnerable", "high_confidence",
         "low_confidence", "serious_file_count", "serious_identifier_count"},
        "workflow.pre_assessment",
    )  # fmt: skip
    d = PreAssessmentPolicy()
    return PreAssessmentPolicy(
        max_os_lock_timeout=timedelta(
            minutes=_positive(t.get("max_os_lock_timeout_minutes", 15), p + "max_os_lock_timeout_minutes")
        ),
        max_posture_age=timedelta(days=_positive(t.get("max_posture_age_days", 30), p + "max_posture_age_days")),
        assume_vulnerable=_bool(t.get("assume_vulnerable", d.assume_vulnerable), p + "assume_vulnerable"),
        high_confidence=_fraction(t.get("high_confidence", d.high_confidence), p + "high_confidence"),
        low_confidence=_fraction(t.get("low_confidence", d.low_confidence), p + "low_confidence"),
        serious_file_count=int(_positive(t.get("serious_file_count", d.serious_file_count), p + "serious_file_count")),
        serious_identifier_count=int(
            _positive(t.get("serious_identifier_count", d.serious_identifier_count), p + "serious_identifier_count")
        ),
    )


# -- value helpers ----------------------------------------------------------------------


def _reject_unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        place = f"[{where}]" if where else "the top level"
        raise ConfigError(f"unknown key(s) in {place}: {', '.join(unknown)}")


def _table(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{f'{where}.' if where else ''}{key}] must be a table")
    return value


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false")
    return value


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{name} must be a number above 0")
    return float(value)


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{name} must be a number from 0 to 1")
    return float(value)


def _path(value: Any, base_dir: Path, name: str) -> Path | None:
    text = _str(value, name)
    if not text:
        return None
    p = Path(text).expanduser()
    return p if p.is_absolute() else base_dir / p


def _enum(cls: type[E], value: Any, name: str) -> E:
    try:
        return cls(value)
    except ValueError:
        raise ConfigError(f"{name} must be one of: {', '.join(str(m.value) for m in cls)}") from None


def _enums(cls: type[E], t: Mapping[str, Any], key: str, default: tuple[E, ...], where: str) -> tuple[E, ...]:
    if key not in t:
        return default
    values = t[key]
    if not isinstance(values, list):
        raise ConfigError(f"{where}.{key} must be a list")
    return tuple(_enum(cls, v, f"{where}.{key}[]") for v in values)
