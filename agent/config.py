"""Agent settings: one frozen, typed object loaded once from TOML.

Every key is documented in deploy/agent.example.toml. Unknown keys are an error, so a
typo in a policy file fails loudly instead of silently weakening enforcement.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.egress.volumes_linux import DEFAULT_MEDIA_ROOTS


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or has a bad value."""


@dataclass(frozen=True)
class CollectorSettings:
    """How to reach the collector. ``addresses`` holds one or more HOST:PORT, tried in order."""

    addresses: tuple[str, ...]
    ca: Path
    cert: Path
    key: Path
    server_name: str = ""  # TLS name override, when the address is not in the server certificate
    timeout_s: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    renew_before_days: float = 30.0
    policy_interval_s: float = 300.0


@dataclass(frozen=True)
class OutboxSettings:
    """Bounds of the durable outbox and the size of delivery batches."""

    max_events: int = 200_000
    batch_size: int = 500


@dataclass(frozen=True)
class RetrySettings:
    """Exponential backoff with jitter between failed deliveries."""

    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2


@dataclass(frozen=True)
class HeartbeatSettings:
    """How often the agent says it is alive (with its posture summary)."""

    interval_s: float = 300.0


@dataclass(frozen=True)
class PrivacySettings:
    """What may leave the laptop. Names and paths are off unless the organisation opts in."""

    reveal_names: bool = False
    org_key_file: Path | None = None  # the organisation's HMAC key (shared by its agents and collector)


@dataclass(frozen=True)
class EgressSettings:
    """Where case files must not go, and how arrivals there are watched."""

    enabled: bool = True
    personal_dirs: tuple[Path, ...] = ()
    approved_dirs: tuple[Path, ...] = ()
    include_business: bool = True
    settle_s: float = 2.0
    burst_gap_s: float = 5.0
    volume_poll_s: float = 1.0
    scan_limit: int = 20_000
    classifier_threads: int = 2
    rediscover_s: float = 600.0
    homes: tuple[Path, ...] = ()  # whose personal clouds to look for; default: every local person's home
    # Linux: where udisks mounts removable media (<root>/<user>/<label>); a loop image counts only there.
    media_roots: tuple[Path, ...] = tuple(Path(r) for r in DEFAULT_MEDIA_ROOTS)


@dataclass(frozen=True)
class LockSettings:
    """Auto-lock policy, enforced by the per-user session component."""

    enabled: bool = True
    idle_timeout_s: float = 300.0
    warn_s: float = 30.0
    allow_inhibitors: bool = False
    command: tuple[str, ...] = ()
    retry_s: float = 60.0


@dataclass(frozen=True)
class SessionSettings:
    """Where the system agent listens for the per-user session component."""

    socket: Path = Path("/run/caseguard-agent/session.sock")


@dataclass(frozen=True)
class PostureSettings:
    """How often posture is re-read (reported only when it changes)."""

    lock_interval_s: float = 300.0
    encryption_interval_s: float = 3600.0


@dataclass(frozen=True)
class CaseFilesSettings:
    """Where the protected case-file stores are and how case files are recognised."""

    roots: tuple[Path, ...] = ()
    reconcile_interval_s: float = 3600.0
    reference_patterns: tuple[str, ...] = ()
    label_map: Mapping[str, str] = field(default_factory=dict)
    content_threshold: float = 0.5
    fingerprint_threshold: float = 0.5


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
    log_level: str = "INFO"
    source: Path | None = None
    explicit: frozenset[str] = frozenset()  # "section.key" set in the file (central policy merging)

    @property
    def outbox_path(self) -> Path:
        """The outbox database file inside ``state_dir``."""
        return self.state_dir / "outbox.sqlite3"


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
    _reject_unknown(
        raw,
        {"state_dir", "collector", "outbox", "retry", "heartbeat", "privacy", "case_files", "egress", "lock",
         "session", "posture", "logging"},
        "",
    )

    def path_of(value: Any, name: str) -> Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{name} must be a non-empty path string")
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base_dir / p)

    if "state_dir" not in raw:
        raise ConfigError("state_dir is required")
    state_dir = path_of(raw["state_dir"], "state_dir")

    col = _table(raw, "collector")
    _reject_unknown(
        col,
        {"address", "addresses", "ca", "cert", "key", "server_name", "timeout_s", "max_message_bytes",
         "renew_before_days", "policy_interval_s"},
        "collector",
    )
    addresses: list[str] = []
    if "address" in col:
        addresses.append(_str(col["address"], "collector.address"))
    if "addresses" in col:
        if not isinstance(col["addresses"], list):
            raise ConfigError("collector.addresses must be a list of HOST:PORT strings")
        addresses.extend(_str(a, "collector.addresses[]") for a in col["addresses"])
    if not addresses:
        raise ConfigError("collector.address is required")
    for a in addresses:
        if ":" not in a:
            raise ConfigError(f"collector address {a!r} must be HOST:PORT")
    for k in ("ca", "cert", "key"):
        if k not in col:
            raise ConfigError(f"collector.{k} is required")
    collector = CollectorSettings(
        addresses=tuple(addresses),
        ca=path_of(col["ca"], "collector.ca"),
        cert=path_of(col["cert"], "collector.cert"),
        key=path_of(col["key"], "collector.key"),
        server_name=_str(col.get("server_name", ""), "collector.server_name", allow_empty=True),
        timeout_s=_positive(col.get("timeout_s", 10.0), "collector.timeout_s"),
        max_message_bytes=int(_positive(col.get("max_message_bytes", 4 * 1024 * 1024), "collector.max_message_bytes")),
        renew_before_days=_positive(col.get("renew_before_days", 30.0), "collector.renew_before_days"),
        policy_interval_s=_positive(col.get("policy_interval_s", 300.0), "collector.policy_interval_s"),
    )

    ob = _table(raw, "outbox")
    _reject_unknown(ob, {"max_events", "batch_size"}, "outbox")
    outbox = OutboxSettings(
        max_events=int(_positive(ob.get("max_events", OutboxSettings.max_events), "outbox.max_events")),
        batch_size=int(_positive(ob.get("batch_size", OutboxSettings.batch_size), "outbox.batch_size")),
    )

    rt = _table(raw, "retry")
    _reject_unknown(rt, {"initial_backoff_s", "max_backoff_s", "multiplier", "jitter"}, "retry")
    retry = RetrySettings(
        initial_backoff_s=_positive(rt.get("initial_backoff_s", 0.5), "retry.initial_backoff_s"),
        max_backoff_s=_positive(rt.get("max_backoff_s", 30.0), "retry.max_backoff_s"),
        multiplier=_positive(rt.get("multiplier", 2.0), "retry.multiplier"),
        jitter=float(rt.get("jitter", 0.2)),
    )
    if not 0.0 <= retry.jitter <= 1.0:
        raise ConfigError("retry.jitter must be between 0 and 1")

    hb = _table(raw, "heartbeat")
    _reject_unknown(hb, {"interval_s"}, "heartbeat")
    heartbeat = HeartbeatSettings(interval_s=_positive(hb.get("interval_s", 300.0), "heartbeat.interval_s"))

    pv = _table(raw, "privacy")
    _reject_unknown(pv, {"reveal_names", "org_key_file"}, "privacy")
    privacy = PrivacySettings(
        reveal_names=_bool(pv.get("reveal_names", False), "privacy.reveal_names"),
        org_key_file=path_of(pv["org_key_file"], "privacy.org_key_file") if pv.get("org_key_file") else None,
    )

    eg = _table(raw, "egress")
    _reject_unknown(
        eg,
        {"enabled", "personal_dirs", "approved_dirs", "include_business", "settle_s", "burst_gap_s", "volume_poll_s",
         "scan_limit", "classifier_threads", "rediscover_s", "homes", "media_roots"},
        "egress",
    )
    egress = EgressSettings(
        enabled=_bool(eg.get("enabled", True), "egress.enabled"),
        personal_dirs=tuple(path_of(d, "egress.personal_dirs[]") for d in _list(eg, "personal_dirs", [])),
        approved_dirs=tuple(path_of(d, "egress.approved_dirs[]") for d in _list(eg, "approved_dirs", [])),
        include_business=_bool(eg.get("include_business", True), "egress.include_business"),
        settle_s=_positive(eg.get("settle_s", 2.0), "egress.settle_s"),
        burst_gap_s=_positive(eg.get("burst_gap_s", 5.0), "egress.burst_gap_s"),
        volume_poll_s=_positive(eg.get("volume_poll_s", 1.0), "egress.volume_poll_s"),
        scan_limit=int(_positive(eg.get("scan_limit", 20_000), "egress.scan_limit")),
        classifier_threads=int(_positive(eg.get("classifier_threads", 2), "egress.classifier_threads")),
        rediscover_s=_positive(eg.get("rediscover_s", 600.0), "egress.rediscover_s"),
        homes=tuple(path_of(h, "egress.homes[]") for h in _list(eg, "homes", [])),
        media_roots=tuple(
            path_of(r, "egress.media_roots[]") for r in _list(eg, "media_roots", list(DEFAULT_MEDIA_ROOTS))
        ),
    )

    cf = _table(raw, "case_files")
    _reject_unknown(
        cf,
        {"roots", "reconcile_interval_s", "reference_patterns", "label_map", "content_threshold",
         "fingerprint_threshold"},
        "case_files",
    )
    patterns = tuple(_str(p, "case_files.reference_patterns[]") for p in _list(cf, "reference_patterns", []))
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"case_files.reference_patterns: {pattern!r} is not a valid regex: {exc}") from exc
    label_map = _table(cf, "label_map")
    case_files = CaseFilesSettings(
        roots=tuple(path_of(r, "case_files.roots[]") for r in _list(cf, "roots", [])),
        reconcile_interval_s=_positive(cf.get("reconcile_interval_s", 3600.0), "case_files.reconcile_interval_s"),
        reference_patterns=patterns,
        label_map={str(k): _str(v, f"case_files.label_map.{k}") for k, v in label_map.items()},
        content_threshold=_fraction(cf.get("content_threshold", 0.5), "case_files.content_threshold"),
        fingerprint_threshold=_fraction(cf.get("fingerprint_threshold", 0.5), "case_files.fingerprint_threshold"),
    )

    lk = _table(raw, "lock")
    _reject_unknown(lk, {"enabled", "idle_timeout_s", "warn_s", "allow_inhibitors", "command", "retry_s"}, "lock")
    lock = LockSettings(
        enabled=_bool(lk.get("enabled", True), "lock.enabled"),
        idle_timeout_s=_positive(lk.get("idle_timeout_s", 300.0), "lock.idle_timeout_s"),
        warn_s=float(lk.get("warn_s", 30.0)),
        allow_inhibitors=_bool(lk.get("allow_inhibitors", False), "lock.allow_inhibitors"),
        command=tuple(_str(a, "lock.command[]") for a in _list(lk, "command", [])),
        retry_s=_positive(lk.get("retry_s", 60.0), "lock.retry_s"),
    )
    if not 0 <= lock.warn_s < lock.idle_timeout_s:
        raise ConfigError("lock.warn_s must be at least 0 and less than lock.idle_timeout_s")

    se = _table(raw, "session")
    _reject_unknown(se, {"socket"}, "session")
    session = SessionSettings(socket=path_of(se.get("socket", str(SessionSettings.socket)), "session.socket"))

    po = _table(raw, "posture")
    _reject_unknown(po, {"lock_interval_s", "encryption_interval_s"}, "posture")
    posture = PostureSettings(
        lock_interval_s=_positive(po.get("lock_interval_s", 300.0), "posture.lock_interval_s"),
        encryption_interval_s=_positive(po.get("encryption_interval_s", 3600.0), "posture.encryption_interval_s"),
    )

    lg = _table(raw, "logging")
    _reject_unknown(lg, {"level"}, "logging")
    level = _str(lg.get("level", "INFO"), "logging.level").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError("logging.level must be DEBUG, INFO, WARNING or ERROR")

    return AgentConfig(
        state_dir=state_dir,
        collector=collector,
        outbox=outbox,
        retry=retry,
        heartbeat=heartbeat,
        privacy=privacy,
        explicit=frozenset(
            f"{section}.{key}" for section, table in raw.items() if isinstance(table, Mapping) for key in table
        ),
        case_files=case_files,
        egress=egress,
        lock=lock,
        session=session,
        posture=posture,
        log_level=level,
        source=source,
    )


def _table(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _reject_unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        place = f"[{where}]" if where else "top level"
        raise ConfigError(f"unknown key(s) at {place}: {', '.join(unknown)}")


def _str(value: Any, name: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ConfigError(f"{name} must be a string")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false")
    return value


def _list(table: Mapping[str, Any], key: str, default: list[Any]) -> list[Any]:
    value = table.get(key, default)
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list")
    return value


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(f"{name} must be a number in (0, 1]")
    return float(value)


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{name} must be a positive number")
    return float(value)
