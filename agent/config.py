"""Agent settings: one frozen, typed object loaded once from TOML.

Each section is declared once below, with its defaults and the value rules of
caseguard.settings; every key is documented in deploy/agent.example.toml (a test holds the
two together). Unknown keys are an error, so a typo in a policy file fails loudly instead of
silently weakening enforcement; every bad value is one line naming the file, the key, what was
expected and what was found.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from agent.egress.model import DEFAULT_MEDIA_ROOTS
from agent.errors import UsageError
from caseguard.central_policy import DEFAULT_NOTICE_PERSONAL, DEFAULT_NOTICE_REMOVABLE, check_lock_timing
from caseguard.settings import (
    Accepts,
    After,
    Before,
    Count,
    Days,
    Flag,
    Fraction,
    HostPort,
    IdentifierHash,
    LogFormat,
    LogLevel,
    NonEmptyText,
    NoticeText,
    OptionalPath,
    Regex,
    Seconds,
    SecondsOrZero,
    SettingsPath,
    Text,
    Threshold,
    as_input,
    refuse,
    rule,
    settings,
    validate,
)


class ConfigError(UsageError, ValueError):
    """The configuration file is missing, unreadable or has a bad value."""


# Rules of the agent's own. Backoff grows as multiplier**attempt (attempt capped at 64): a bigger
# multiplier overflows. gRPC takes message limits as 32-bit integers.
Multiplier = Annotated[float, rule("a number above 0 and at most 10", lambda v: 0 < v <= 10)]
MessageBytes = Annotated[int, rule("a whole number of bytes from 1 to 2147483647", lambda v: 0 < v < 2**31)]
Threads = Annotated[int, rule("a whole number from 1 to 64", lambda v: 0 < v <= 64)]
Workers = Annotated[int, rule("a whole number from 1 to 8", lambda v: 0 < v <= 8)]


@settings
@dataclass(frozen=True)
class CollectorSettings:
    """How to reach the collector. ``addresses`` holds one or more HOST:PORT, tried in order."""

    addresses: tuple[HostPort, ...]
    ca: SettingsPath
    cert: SettingsPath
    key: SettingsPath
    server_name: Text = ""  # TLS name override, when the address is not in the server certificate
    timeout_s: Seconds = 10.0
    max_message_bytes: MessageBytes = 4 * 1024 * 1024
    renew_before_days: Days = 30.0
    policy_interval_s: Seconds = 300.0


@settings
@dataclass(frozen=True)
class OutboxSettings:
    """Bounds of the durable outbox and the size of delivery batches."""

    max_events: Count = 200_000
    batch_size: Count = 500
    reserve_bytes: Count = 8 * 1024 * 1024  # held back on disk for breach-class events when it fills


@settings
@dataclass(frozen=True)
class RetrySettings:
    """Exponential backoff with jitter between failed deliveries."""

    initial_backoff_s: Seconds = 0.5
    max_backoff_s: Seconds = 30.0
    multiplier: Multiplier = 2.0
    jitter: Fraction = 0.2


@settings
@dataclass(frozen=True)
class HeartbeatSettings:
    """How often the agent says it is alive (with its posture summary)."""

    interval_s: Seconds = 300.0


@settings
@dataclass(frozen=True)
class PrivacySettings:
    """What may leave the laptop. Names and paths are off unless the organisation opts in."""

    reveal_names: Flag = False
    org_key_file: OptionalPath = None  # the organisation's HMAC key (shared by its agents and collector)


@settings
@dataclass(frozen=True)
class EgressSettings:
    """Where case files must not go, and how arrivals there are watched."""

    enabled: Flag = True
    personal_dirs: tuple[SettingsPath, ...] = ()
    approved_dirs: tuple[SettingsPath, ...] = ()
    include_business: Flag = True
    settle_s: Seconds = 2.0
    burst_gap_s: Seconds = 5.0
    volume_poll_s: Seconds = 1.0
    portable_poll_s: Seconds = 5.0  # Windows: phones/cameras over MTP (a PowerShell query each time)
    scan_limit: Count = 20_000
    classifier_threads: Threads = 2
    rediscover_s: Seconds = 600.0
    retry_s: Seconds = 60.0  # how often an unreadable, missing or failing destination or root is retried
    homes: tuple[SettingsPath, ...] = ()  # whose personal clouds to look for; default: every local person's home
    # Linux: where udisks mounts removable media (<root>/<user>/<label>); a loop image counts only there.
    media_roots: tuple[SettingsPath, ...] = tuple(Path(r) for r in DEFAULT_MEDIA_ROOTS)
    # The person at the laptop is told at once (a desktop notification from the session component).
    notify_user: Flag = True
    notice_removable: NoticeText = DEFAULT_NOTICE_REMOVABLE
    notice_personal: NoticeText = DEFAULT_NOTICE_PERSONAL


@settings
@dataclass(frozen=True)
class LockSettings:
    """Auto-lock policy, enforced by the per-user session component."""

    enabled: Flag = True
    idle_timeout_s: Seconds = 300.0
    warn_s: SecondsOrZero = 30.0  # less than idle_timeout_s (checked with the file)
    allow_inhibitors: Flag = False
    command: tuple[NonEmptyText, ...] = ()
    retry_s: Seconds = 60.0


@settings
@dataclass(frozen=True)
class SessionSettings:
    """Where the system agent listens for the per-user session component."""

    socket: SettingsPath = Path("/run/caseguard-agent/session.sock")


@settings
@dataclass(frozen=True)
class PostureSettings:
    """How often posture is re-read (reported only when it changes)."""

    lock_interval_s: Seconds = 300.0
    encryption_interval_s: Seconds = 3600.0


@settings
@dataclass(frozen=True)
class CaseFilesSettings:
    """Where the protected case-file stores are and how case files are recognised."""

    roots: tuple[SettingsPath, ...] = ()
    reconcile_interval_s: Seconds = 3600.0
    reference_patterns: tuple[Regex, ...] = ()
    label_map: Mapping[Text, Text] = field(default_factory=dict)
    content_threshold: Threshold = 0.5
    fingerprint_threshold: Threshold = 0.5
    known_identifiers_csv: OptionalPath = None  # case-management export: nhs_number, case_reference, ni_number
    known_identifier_hashes: tuple[IdentifierHash, ...] = ()  # the same, as keyed hashes (from the central policy)
    known_identifier_key_check: Text = ""  # which key made them (from the central policy)
    ocr: Flag = True  # read scans and photos with Tesseract; off: they are reported unjudged (ocr-off)
    extraction_workers: Workers = 2  # sandboxed PDF/OCR worker processes, started on first need, ended when idle
    extraction_worker_jobs: Count = 500  # files one worker reads before a fresh one replaces it


@settings
@dataclass(frozen=True)
class LoggingSettings:
    """What the agent logs."""

    level: LogLevel = "INFO"
    format: LogFormat = "text"  # "json": one JSON object a line, for a log collector


@dataclass(frozen=True)
class AgentConfig:
    """The whole agent configuration."""

    state_dir: Path
    collector: CollectorSettings
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    heartbeat: HeartbeatSettings = field(default_factory=HeartbeatSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    case_files: CaseFilesSettings = field(default_factory=CaseFilesSettings)
    egress: EgressSettings = field(default_factory=EgressSettings)
    lock: LockSettings = field(default_factory=LockSettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    posture: PostureSettings = field(default_factory=PostureSettings)
    log_level: str = LoggingSettings.level
    log_format: str = LoggingSettings.format
    source: Path | None = None
    explicit: frozenset[str] = frozenset()  # "section.key" set in the file (central policy merging)

    @property
    def outbox_path(self) -> Path:
        """The outbox database file inside ``state_dir``."""
        return self.state_dir / "outbox.sqlite3"


def _one_address_list(table: Any) -> Any:
    """``address = "h:p"`` and ``addresses = [...]`` both name collectors: one list, tried in order."""
    if not isinstance(table, Mapping):
        return table
    out = dict(table)
    if "address" in out:
        address = out.pop("address")
        if not isinstance(address, str) or ":" not in address:
            raise refuse("HOST:PORT", found=address, key="address")
        rest = out.get("addresses", [])
        out["addresses"] = [address, *rest] if isinstance(rest, list | tuple) else rest
    if not out.get("addresses", True):
        raise refuse("at least one HOST:PORT", found=out["addresses"], key="addresses")
    if "addresses" not in out and set(out) <= set(CollectorSettings.__dataclass_fields__):  # else: a typo, say so
        raise refuse('HOST:PORT (or addresses = ["HOST:PORT", ...])', found=None, key="address")
    return out


def _lock_timing(lock: LockSettings) -> LockSettings:
    check_lock_timing(lock.idle_timeout_s, lock.warn_s)
    return lock


@settings
@dataclass(frozen=True)
class AgentFile:
    """agent.toml as written: the sections above, checked together."""

    state_dir: SettingsPath
    collector: Annotated[CollectorSettings, Before(_one_address_list), Accepts(("address",))]
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    heartbeat: HeartbeatSettings = field(default_factory=HeartbeatSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    case_files: CaseFilesSettings = field(default_factory=CaseFilesSettings)
    egress: EgressSettings = field(default_factory=EgressSettings)
    lock: Annotated[LockSettings, After(_lock_timing)] = field(default_factory=LockSettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    posture: PostureSettings = field(default_factory=PostureSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)


def load_config(path: Path) -> AgentConfig:
    """Read and validate the TOML file at ``path``."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from exc
    return parse_config(raw, base_dir=path.parent, source=path)


def parse_config(raw: Mapping[str, Any], base_dir: Path, source: Path | None = None) -> AgentConfig:
    """Validate an already-parsed TOML mapping; relative paths resolve against ``base_dir``."""
    where = str(source) if source is not None else "agent configuration"
    f = validate(AgentFile, raw, where=where, error=ConfigError, context={"base_dir": base_dir})
    return AgentConfig(
        state_dir=f.state_dir,
        collector=f.collector,
        outbox=f.outbox,
        retry=f.retry,
        heartbeat=f.heartbeat,
        privacy=f.privacy,
        case_files=f.case_files,
        egress=f.egress,
        lock=f.lock,
        session=f.session,
        posture=f.posture,
        log_level=f.logging.level,
        log_format=f.logging.format,
        source=source,
        explicit=frozenset(
            f"{section}.{key}" for section, table in raw.items() if isinstance(table, Mapping) for key in table
        ),
    )


def check_config(config: AgentConfig, where: str) -> AgentConfig:
    """``config`` (e.g. as merged with the central policy) held to the same rules as the file; returns it."""
    sections: dict[str, Any] = {"state_dir": config.state_dir, "logging": {"level": config.log_level,
                                                                                "format": config.log_format}}
    for name in AgentFile.__dataclass_fields__:
        if name not in sections:
            sections[name] = as_input(getattr(config, name))
    validate(AgentFile, sections, where=where, error=ConfigError)
    return config
