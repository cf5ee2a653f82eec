"""Collector settings for the breach workflow: one frozen, typed object loaded once from TOML.

The file's sections are declared once below with the value rules of caseguard.settings; their
defaults come from the domain objects they configure (the one place defaults live), and every
key is documented in deploy/collector.example.toml (a test holds the two together). Unknown
keys are an error, so a typo cannot silently switch off a notification or loosen a risk
threshold; every bad value is one line naming the file, the key, what was expected and what
was found. Without a file the defaults apply: the workflow runs, nobody is emailed, and the
ICO draft's "About you" answers are blank. The environment variables the collector reads go
through the same rules (``read_environment``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from caseguard.settings import (
    After,
    Alias,
    Before,
    Count,
    Days,
    Flag,
    HoursOrZero,
    LogFormat,
    LogLevel,
    Minutes,
    NonEmptyText,
    OptionalPath,
    Port,
    Score,
    Seconds,
    SecondsOrZero,
    SettingsPath,
    Text,
    Threshold,
    one_or_more,
    refuse,
    rule,
    settings,
    validate,
)
from collector.domain.clocks import ClockPolicy
from collector.domain.device_signals import DeviceSignalPolicy
from collector.domain.grouping import GroupingPolicy
from collector.domain.ico_form import DataSubjectCategory, PersonalDataCategory, YesNoUnknown
from collector.domain.ico_prefill import OrgProfile
from collector.domain.pre_assessment import PreAssessmentPolicy
from collector.domain.risk import RiskPolicy
from collector.errors import UsageError
from collector.ingest.quota import DeviceLimits
from collector.notify.base import Channel
from collector.notify.mail import SmtpChannel, SmtpSettings
from collector.notify.webhook import WebhookChannel, WebhookSettings
from collector.store.base import IngestBounds
from collector.store.factory import StoreSettings
from collector.store.workflow_base import WorkflowStore
from collector.workflow.auto_checkpoints import CheckpointSchedule
from collector.workflow.policy import WorkflowPolicy
from collector.workflow.service import NO_ORGANISATION, WorkflowService
from collector.workflow.times import utc_now


class ConfigError(UsageError, ValueError):
    """The configuration file is missing, unreadable or has a bad value."""


@dataclass(frozen=True)
class CollectorConfig:
    """The whole collector configuration (the workflow's part; listen address and data dir are flags)."""

    org: OrgProfile = NO_ORGANISATION
    email: SmtpSettings | None = None
    webhook: WebhookSettings | None = None
    workflow: WorkflowPolicy = field(default_factory=WorkflowPolicy)
    audit: CheckpointSchedule = field(default_factory=CheckpointSchedule)
    log_format: str = "text"
    database: StoreSettings = field(default_factory=StoreSettings)
    limits: DeviceLimits = field(default_factory=DeviceLimits)
    source: Path | None = None


CONFIG_ENV = "CASEGUARD_COLLECTOR_CONFIG"
DEFAULT_DATA_DIR = Path("/var/lib/caseguard-collector")


def _database_url(value: str) -> str:
    if not value.startswith(("postgresql://", "postgres://")):
        # Only the scheme is repeated back: the rest may hold a password.
        raise refuse("a postgresql:// URL", found=value.split(":", 1)[0] + ":..." if ":" in value else "...")
    return value


DatabaseUrl = Annotated[str, After(_database_url)]


@settings
@dataclass(frozen=True)
class CollectorEnvironment:
    """The environment variables the collector reads (an empty one counts as unset)."""

    log_level: Annotated[LogLevel, Alias("CASEGUARD_LOG_LEVEL")] = "INFO"
    data_dir: Annotated[SettingsPath, Alias("CASEGUARD_DATA_DIR")] = DEFAULT_DATA_DIR
    database_url: Annotated[DatabaseUrl | None, Alias("CASEGUARD_DATABASE_URL")] = None
    config: Annotated[OptionalPath, Alias("CASEGUARD_COLLECTOR_CONFIG")] = None


ENVIRONMENT_VARIABLES = ("CASEGUARD_LOG_LEVEL", "CASEGUARD_DATA_DIR", "CASEGUARD_DATABASE_URL", CONFIG_ENV)


def read_environment(environ: Mapping[str, str]) -> CollectorEnvironment:
    """The collector's variables from ``environ``, validated; ConfigError names the variable."""
    raw = {name: environ[name] for name in ENVIRONMENT_VARIABLES if environ.get(name)}
    return validate(CollectorEnvironment, raw, where="environment", error=ConfigError)


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
    return parse_config(raw, base_dir=path.parent, source=path)


def workflow_service(
    store: WorkflowStore, config: CollectorConfig, clock: Callable[[], datetime] = utc_now
) -> WorkflowService:
    """The breach workflow as configured: policy, organisation profile and notification channels."""
    email, webhook = _channels(config)
    return WorkflowService(store, policy=config.workflow, org=config.org, email=email, webhook=webhook, clock=clock)


def notify_channels(config: CollectorConfig) -> tuple[Channel, ...]:
    """The notification channels configured (email first), for senders outside the notice queue."""
    return tuple(c for c in _channels(config) if c is not None)


def _channels(config: CollectorConfig) -> tuple[Channel | None, Channel | None]:
    return (
        SmtpChannel(config.email) if config.email else None,
        WebhookChannel(config.webhook) if config.webhook else None,
    )


def parse_config(raw: Mapping[str, Any], base_dir: Path, source: Path | None = None) -> CollectorConfig:
    """Validate an already-parsed TOML mapping; relative paths resolve against ``base_dir``."""
    where = str(source) if source is not None else "collector configuration"
    f = validate(CollectorFile, raw, where=where, error=ConfigError, context={"base_dir": base_dir})
    return CollectorConfig(
        org=f.organisation.profile() if raw.get("organisation") else NO_ORGANISATION,
        email=f.notify.email.settings(),
        webhook=f.notify.webhook.settings(),
        workflow=f.workflow.policy(),
        audit=f.audit.schedule(),
        log_format=f.logging.format,
        database=f.database.settings(),
        limits=f.limits.limits(),
        source=source,
    )


# -- the file's sections; defaults are read from the domain objects they configure ------------

_ORG = OrgProfile("", "")
_MAIL = SmtpSettings(host="")
_HOOK = WebhookSettings(url="")
_AUDIT = CheckpointSchedule()
_POLICY = WorkflowPolicy()
_PRE = _POLICY.pre_assessment
_RISK = _POLICY.risk


_MINUTE, _DAY = timedelta(minutes=1), timedelta(days=1)
# The domain's durations in the units the file uses.
_TICK_S = _POLICY.tick_interval.total_seconds()
_GROUPING_MIN = _POLICY.grouping.destination_window / _MINUTE
_DEVICE_SIGNAL_MIN = _POLICY.grouping.device_signal_window / _MINUTE
_SILENT_DAYS = _POLICY.device_signals.max_silence / _DAY
_GAP_SETTLE_MIN = _POLICY.device_signals.gap_settle / _MINUTE
_WARNING_HOURS = tuple(t / timedelta(hours=1) for t in _POLICY.clock.warning_thresholds)
_OS_LOCK_MIN = _PRE.max_os_lock_timeout / _MINUTE
_POSTURE_AGE_DAYS = _PRE.max_posture_age / _DAY
_SWEEP_S = _POLICY.sweep_interval.total_seconds()
_SWEEP_LOOKBACK_DAYS = _POLICY.sweep_lookback / _DAY
_STORE = StoreSettings()


@settings
@dataclass(frozen=True)
class OrganisationSection:
    """[organisation]: the standing answers on the ICO report form."""

    name: Text = _ORG.organisation_name
    ico_registration_number: Text = _ORG.ico_registration_number
    address: Text = _ORG.address
    reporter_name: Text = _ORG.reporter_name
    reporter_role: Text = _ORG.reporter_role
    reporter_email: Text = _ORG.reporter_email
    reporter_phone: Text = _ORG.reporter_phone
    dpo_name: Text = _ORG.dpo_name
    dpo_email: Text = _ORG.dpo_email
    dpo_phone: Text = _ORG.dpo_phone
    staff_training_last_two_years: YesNoUnknown = _ORG.staff_training_last_two_years
    training_details: Text = _ORG.training_details
    measures_in_place: Text = _ORG.measures_in_place
    potential_consequences: Text = _ORG.potential_consequences
    data_categories: tuple[PersonalDataCategory, ...] = _ORG.case_file_data_categories
    subject_categories: tuple[DataSubjectCategory, ...] = _ORG.data_subject_categories

    def profile(self) -> OrgProfile:
        """The organisation profile these answers make."""
        return OrgProfile(
            organisation_name=self.name,
            ico_registration_number=self.ico_registration_number,
            address=self.address,
            reporter_name=self.reporter_name,
            reporter_role=self.reporter_role,
            reporter_email=self.reporter_email,
            reporter_phone=self.reporter_phone,
            dpo_name=self.dpo_name,
            dpo_email=self.dpo_email,
            dpo_phone=self.dpo_phone,
            staff_training_last_two_years=self.staff_training_last_two_years,
            training_details=self.training_details,
            measures_in_place=self.measures_in_place,
            potential_consequences=self.potential_consequences,
            case_file_data_categories=self.data_categories,
            data_subject_categories=self.subject_categories,
        )


@settings
@dataclass(frozen=True)
class EmailSection:
    """[notify.email]: SMTP notices to the IG team (an empty host: no email)."""

    host: Text = ""
    port: Port = _MAIL.port
    sender: Annotated[Text, Alias("from")] = _MAIL.sender
    to: Annotated[tuple[NonEmptyText, ...], Before(one_or_more)] = _MAIL.to
    starttls: Flag = _MAIL.starttls
    credentials_file: OptionalPath = _MAIL.credentials_file
    ca_file: OptionalPath = _MAIL.ca_file
    timeout_s: Seconds = _MAIL.timeout_s
    subject_prefix: Text = _MAIL.subject_prefix

    def settings(self) -> SmtpSettings | None:
        """The mail channel's settings, or None without a host."""
        if not self.host:
            return None
        return SmtpSettings(
            host=self.host,
            port=self.port,
            sender=self.sender,
            to=self.to,
            starttls=self.starttls,
            credentials_file=self.credentials_file,
            ca_file=self.ca_file,
            timeout_s=self.timeout_s,
            subject_prefix=self.subject_prefix,
        )


def _someone_to_tell(email: EmailSection) -> EmailSection:
    if email.host and not email.to:
        raise refuse("at least one address when notify.email.host is set", found=email.to, key="to")
    return email


def _web_url(url: str) -> str:
    if url and not url.startswith(("https://", "http://")):
        raise refuse("a URL starting with https:// (or http://)")
    return url


@settings
@dataclass(frozen=True)
class WebhookSection:
    """[notify.webhook]: notices as JSON POSTs (an empty url: no webhook)."""

    url: Annotated[Text, After(_web_url)] = ""
    timeout_s: Seconds = _HOOK.timeout_s
    secret_file: OptionalPath = _HOOK.secret_file

    def settings(self) -> WebhookSettings | None:
        """The webhook channel's settings, or None without a URL."""
        if not self.url:
            return None
        return WebhookSettings(url=self.url, timeout_s=self.timeout_s, secret_file=self.secret_file)


@settings
@dataclass(frozen=True)
class NotifySection:
    """[notify]: where notices go."""

    email: Annotated[EmailSection, After(_someone_to_tell)] = field(default_factory=EmailSection)
    webhook: WebhookSection = field(default_factory=WebhookSection)


@settings
@dataclass(frozen=True)
class RiskSection:
    """[workflow.risk]: the likelihood x severity grid."""

    ico_min_likelihood: Score = _RISK.ico_min_likelihood
    ico_min_severity: Score = _RISK.ico_min_severity
    high_risk_min_likelihood: Score = _RISK.high_risk_min_likelihood
    high_risk_min_severity: Score = _RISK.high_risk_min_severity
    vulnerable_floor: Score = _RISK.vulnerable_floor

    def policy(self) -> RiskPolicy:
        """The grid these thresholds make."""
        return RiskPolicy(
            ico_min_likelihood=self.ico_min_likelihood,
            ico_min_severity=self.ico_min_severity,
            high_risk_min_likelihood=self.high_risk_min_likelihood,
            high_risk_min_severity=self.high_risk_min_severity,
            vulnerable_floor=self.vulnerable_floor,
        )


@settings
@dataclass(frozen=True)
class PreAssessmentSection:
    """[workflow.pre_assessment]: how the drafted assessment is made."""

    max_os_lock_timeout_minutes: Minutes = _OS_LOCK_MIN
    max_posture_age_days: Days = _POSTURE_AGE_DAYS
    assume_vulnerable: Flag = _PRE.assume_vulnerable
    high_confidence: Threshold = _PRE.high_confidence
    low_confidence: Threshold = _PRE.low_confidence
    serious_file_count: Count = _PRE.serious_file_count
    serious_identifier_count: Count = _PRE.serious_identifier_count

    def policy(self) -> PreAssessmentPolicy:
        """The pre-assessment policy these settings make."""
        return PreAssessmentPolicy(
            max_os_lock_timeout=timedelta(minutes=self.max_os_lock_timeout_minutes),
            max_posture_age=timedelta(days=self.max_posture_age_days),
            assume_vulnerable=self.assume_vulnerable,
            high_confidence=self.high_confidence,
            low_confidence=self.low_confidence,
            serious_file_count=self.serious_file_count,
            serious_identifier_count=self.serious_identifier_count,
        )


@settings
@dataclass(frozen=True)
class WorkflowSection:
    """[workflow]: grouping, device signals, deadline warnings and timing."""

    tick_interval_s: Seconds = _TICK_S
    sweep_interval_s: Seconds = _SWEEP_S
    sweep_lookback_days: Days = _SWEEP_LOOKBACK_DAYS
    grouping_window_minutes: Minutes = _GROUPING_MIN
    device_signal_window_minutes: Minutes = _DEVICE_SIGNAL_MIN
    silent_device_days: Days = _SILENT_DAYS
    gap_settle_minutes: Minutes = _GAP_SETTLE_MIN
    high_confidence: Threshold = _POLICY.clock.high_confidence
    # Hours left before the deadline; 0 = when it has passed.
    warning_hours: tuple[HoursOrZero, ...] = _WARNING_HOURS
    risk: RiskSection = field(default_factory=RiskSection)
    pre_assessment: PreAssessmentSection = field(default_factory=PreAssessmentSection)

    def policy(self) -> WorkflowPolicy:
        """The workflow policy these settings make."""
        return WorkflowPolicy(
            grouping=GroupingPolicy(
                destination_window=timedelta(minutes=self.grouping_window_minutes),
                device_signal_window=timedelta(minutes=self.device_signal_window_minutes),
            ),
            device_signals=DeviceSignalPolicy(
                max_silence=timedelta(days=self.silent_device_days),
                gap_settle=timedelta(minutes=self.gap_settle_minutes),
            ),
            clock=ClockPolicy(
                high_confidence=self.high_confidence,
                warning_thresholds=tuple(timedelta(hours=h) for h in sorted(set(self.warning_hours), reverse=True)),
            ),
            risk=self.risk.policy(),
            pre_assessment=self.pre_assessment.policy(),
            tick_interval=timedelta(seconds=self.tick_interval_s),
            sweep_interval=timedelta(seconds=self.sweep_interval_s),
            sweep_lookback=timedelta(days=self.sweep_lookback_days),
        )


_LIMITS = DeviceLimits()
LimitOrZero = Annotated[int, rule("a whole number from 0 (no limit) to 2**62", lambda v: 0 <= v <= 2**62)]


@settings
@dataclass(frozen=True)
class LimitsSection:
    """[limits]: what one device may send (breach-class events are never refused)."""

    device_events_per_minute: LimitOrZero = _LIMITS.events_per_minute
    device_bytes_stored: LimitOrZero = _LIMITS.bytes_stored

    def limits(self) -> DeviceLimits:
        """The per-device limits these settings make."""
        return DeviceLimits(events_per_minute=self.device_events_per_minute, bytes_stored=self.device_bytes_stored)


@settings
@dataclass(frozen=True)
class DatabaseSection:
    """[database]: how long ingest may wait and run, and PostgreSQL's settle window."""

    settle_s: Seconds = _STORE.settle_s
    ingest_statement_timeout_s: Seconds = _STORE.ingest.statement_timeout_s
    ingest_lock_timeout_s: Seconds = _STORE.ingest.lock_timeout_s

    def settings(self) -> StoreSettings:
        """The store settings these make."""
        return StoreSettings(
            settle_s=self.settle_s,
            ingest=IngestBounds(
                statement_timeout_s=self.ingest_statement_timeout_s, lock_timeout_s=self.ingest_lock_timeout_s
            ),
        )


@settings
@dataclass(frozen=True)
class AuditSection:
    """[audit]: signed checkpoints of the audit chain, written and sent by the running collector."""

    checkpoint_s: SecondsOrZero = _AUDIT.interval_s  # 0: none (then run `audit checkpoint` yourself)
    checkpoint_dir: OptionalPath = _AUDIT.directory  # empty: audit-checkpoints in --data-dir

    def schedule(self) -> CheckpointSchedule:
        """The checkpoint schedule these settings make."""
        return CheckpointSchedule(interval_s=self.checkpoint_s, directory=self.checkpoint_dir)


@settings
@dataclass(frozen=True)
class LoggingSection:
    """[logging]: how the collector writes its log (to stderr; the level is $CASEGUARD_LOG_LEVEL)."""

    format: LogFormat = "text"


@settings
@dataclass(frozen=True)
class CollectorFile:
    """collector.toml as written."""

    organisation: OrganisationSection = field(default_factory=OrganisationSection)
    notify: NotifySection = field(default_factory=NotifySection)
    workflow: WorkflowSection = field(default_factory=WorkflowSection)
    audit: AuditSection = field(default_factory=AuditSection)
    logging: LoggingSection = field(default_factory=LoggingSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    limits: LimitsSection = field(default_factory=LimitsSection)
