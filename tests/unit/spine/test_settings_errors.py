"""One typed configuration: every bad value is one line naming the file, the key, expected and found."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from agent.config import AgentConfig, ConfigError, check_config, load_config, parse_config
from agent.policy.applier import AppliedPolicy, PolicyApplier
from agent.policy.merge import merge_policy
from agent.transport.codec import SignedPolicyWire
from collector.config import ConfigError as CollectorConfigError
from collector.config import load_config as load_collector_config
from collector.config import read_environment
from collector.pki import PkiPaths, init_pki
from collector.policy.document import PolicyError, canonical, parse_policy_toml
from collector.policy.signing import sign

BASE = """
state_dir = "state"
[collector]
address = "collector.example:7443"
ca = "ca.pem"
cert = "device.pem"
key = "device.key"
"""


def _agent_error(tmp_path: Path, extra: str) -> str:
    path = tmp_path / "agent.toml"
    if extra.startswith("[collector]\n"):  # BASE ends in that table
        text = BASE + extra.removeprefix("[collector]\n")
    elif extra.startswith("["):
        text = BASE + extra
    else:  # top-level keys come before any table
        text = extra + BASE
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- the four crashes of issue 10 ------------------------------------------------------------


def test_an_array_for_the_jitter_is_one_line_not_a_type_error(tmp_path: Path) -> None:
    assert _agent_error(tmp_path, "[retry]\njitter = [1]\n") == (
        f"{tmp_path / 'agent.toml'}: retry.jitter: expected a number, got an array"
    )


def test_text_for_the_warning_is_one_line_not_a_value_error(tmp_path: Path) -> None:
    assert _agent_error(tmp_path, '[lock]\nwarn_s = "abc"\n') == (
        f'{tmp_path / "agent.toml"}: lock.warn_s: expected a number, got "abc"'
    )


def test_true_is_not_taken_as_one_second(tmp_path: Path) -> None:
    assert _agent_error(tmp_path, "[lock]\nwarn_s = true\n").endswith("lock.warn_s: expected a number, got true")


def test_an_unknown_log_level_in_the_environment_names_the_variable() -> None:
    with pytest.raises(CollectorConfigError) as caught:
        read_environment({"CASEGUARD_LOG_LEVEL": "verbose"})
    assert str(caught.value) == (
        'environment: CASEGUARD_LOG_LEVEL: expected a log level (DEBUG, INFO, WARNING or ERROR), got "verbose"'
    )


# -- unknown keys, depth, shared rules ---------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        ("[retry]\njiter = 0.1\n", "retry.jiter: unknown key (did you mean jitter?)"),
        ("[lok]\nenabled = true\n", "lok: unknown key (did you mean lock?)"),
        ("[egress]\nsettle = 1\n", "egress.settle: unknown key (did you mean settle_s?)"),
        ("state_dri = 'x'\n", "state_dri: unknown key (did you mean state_dir?)"),
    ],
)
def test_an_unknown_key_names_the_likely_intended_one(tmp_path: Path, extra: str, line: str) -> None:
    assert _agent_error(tmp_path, extra).endswith(line)


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        ('[case_files]\nroots = ["a", 3]\n', "case_files.roots[1]: expected a path (a non-empty string), got 3"),
        ('[case_files.label_map]\n"3a1c-guid" = 7\n', "case_files.label_map.3a1c-guid: expected a string, got 7"),
        ('[case_files]\nreference_patterns = ["CS-\\\\d+", "("]\n',
         'case_files.reference_patterns[1]: expected a valid regular expression, got "("'),
        ("[lock]\ncommand = ['i3lock', 5]\n", "lock.command[1]: expected a string, got 5"),
        ("[lock]\nidle_timeout_s = 20\nwarn_s = 30\n", "lock.warn_s: expected a number below lock.idle_timeout_s (20)"),
        ("[outbox]\nbatch_size = 2.5\n", "outbox.batch_size: expected a whole number, got 2.5"),
        ("[retry]\njitter = 1.5\n", "retry.jitter: expected a number from 0 to 1, got 1.5"),
        ("[case_files]\ncontent_threshold = 0\n",
         "case_files.content_threshold: expected a number above 0 and at most 1"),
        ("[outbox]\nmax_events = -1\n", "outbox.max_events: expected a whole number above 0, got -1"),
        ("outbox = 3\n", "outbox: expected a table, got 3"),
        # values that passed before and then overflowed a timer, the backoff or gRPC's 32-bit limit
        ("[collector]\npolicy_interval_s = inf\n", "collector.policy_interval_s: expected a number of seconds above 0"),
        ("[lock]\nretry_s = 1e300\n", "lock.retry_s: expected a number of seconds above 0, at most ten years"),
        ("[retry]\nmultiplier = 1e308\n", "retry.multiplier: expected a number above 0 and at most 10, got 1e+308"),
        ("[collector]\nmax_message_bytes = 1099511627776\n", "collector.max_message_bytes: expected a whole number of"),
        ("[lock]\nidle_timeout_s = nan\n", "lock.idle_timeout_s: expected a number of seconds above 0"),
    ],
)
def test_bad_values_at_any_depth_name_the_key_path(tmp_path: Path, extra: str, line: str) -> None:
    assert line in _agent_error(tmp_path, extra)


def test_a_bad_collector_address_names_the_key_the_user_wrote(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(BASE.replace('"collector.example:7443"', '"collector.example"'))
    with pytest.raises(ConfigError, match=r'collector\.address: expected HOST:PORT, got "collector.example"$'):
        load_config(path)
    path.write_text(BASE.replace('key = "device.key"\n', ""))
    with pytest.raises(ConfigError, match=r"collector\.key: missing \(this key is required\)$"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[notify.email]\nhost = 'smtp'\nto = 'ig@example.org'\nport = 'x'\n",
         'notify.email.port: expected a whole number, got "x"'),
        ("[workflow.risk]\nico_min_severity = true\n",
         "workflow.risk.ico_min_severity: expected a whole number, got true"),
        ("[workflow.pre_assessment]\nlow_confidence = [0.5]\n",
         "workflow.pre_assessment.low_confidence: expected a number, got an array"),
        ("[workflow]\nwarning_hours = [24, 'soon']\n", 'workflow.warning_hours[1]: expected a number, got "soon"'),
        ("[notify.email]\nfrm = 'x'\n", "notify.email.frm: unknown key (did you mean from?)"),
        ("[workflow]\nsilent_device_days = 1e300\n",  # was an OverflowError in timedelta
         "workflow.silent_device_days: expected a number of days above 0, at most ten years, got 1e+300"),
        ("[workflow]\ntick_interval_s = inf\n", "workflow.tick_interval_s: expected a number of seconds above 0"),
        ("[organisation]\ndata_categories = ['health', 'gossip']\n",
         'organisation.data_categories[1]: expected a known value, got "gossip"'),
    ],
)
def test_collector_files_get_the_same_one_line_errors(tmp_path: Path, text: str, line: str) -> None:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    with pytest.raises(CollectorConfigError) as caught:
        load_collector_config(path)
    assert str(caught.value).startswith(f"{path}: {line}") and "\n" not in str(caught.value)


def test_a_fraction_means_the_same_in_the_agent_and_the_collector(tmp_path: Path) -> None:
    """Thresholds (scores compared with >=) are (0, 1] on both sides; issue 10 found them differing."""
    path = tmp_path / "collector.toml"
    path.write_text("[workflow]\nhigh_confidence = 0\n")
    with pytest.raises(CollectorConfigError, match=r"expected a number above 0 and at most 1, got 0$"):
        load_collector_config(path)
    assert "expected a number above 0 and at most 1, got 0" in _agent_error(
        tmp_path, "[case_files]\nfingerprint_threshold = 0\n"
    )


@pytest.mark.parametrize(
    ("environ", "line"),
    [
        ({"CASEGUARD_DATABASE_URL": "mysql://cg:s3cret@db/x"},  # the password is not repeated
         'environment: CASEGUARD_DATABASE_URL: expected a postgresql:// URL, got "mysql:..."'),
        ({"CASEGUARD_LOG_LEVEL": "LOUD", "CASEGUARD_DATA_DIR": "/srv"}, "environment: CASEGUARD_LOG_LEVEL:"),
    ],
)
def test_environment_variables_are_validated(environ: dict[str, str], line: str) -> None:
    with pytest.raises(CollectorConfigError) as caught:
        read_environment(environ)
    assert str(caught.value).startswith(line)


def test_valid_environment_variables_are_read_and_empty_ones_are_unset() -> None:
    env = read_environment({"CASEGUARD_LOG_LEVEL": "debug", "CASEGUARD_DATA_DIR": "/srv/cg",
                            "CASEGUARD_DATABASE_URL": "", "CASEGUARD_COLLECTOR_CONFIG": "/etc/c.toml"})
    assert env.log_level == "DEBUG" and env.data_dir == Path("/srv/cg")
    assert env.database_url is None and env.config == Path("/etc/c.toml")


def test_central_policy_errors_are_one_line_with_suggestions() -> None:
    with pytest.raises(PolicyError, match=r"^lock\.idle_timout_s: unknown key \(did you mean idle_timeout_s\?\)$"):
        parse_policy_toml("[lock]\nidle_timout_s = 60\n")
    with pytest.raises(PolicyError, match=r"^lock\.warn_s: expected a number, got true$"):
        parse_policy_toml("[lock]\nwarn_s = true\n")


# -- the tighten-only merge is validated again -------------------------------------------------


def _local() -> AgentConfig:
    return parse_config({"state_dir": "s", "collector": {"address": "c:1", "ca": "ca", "cert": "c", "key": "k"}},
                        base_dir=Path("/"), source=Path("/etc/caseguard/agent.toml"))


@pytest.mark.parametrize(
    ("policy", "line"),
    [
        ({"lock": {"idle_timeout_s": -5}}, "lock.idle_timeout_s: expected a number of seconds above 0, at most ten"),
        ({"lock": {"idle_timeout_s": True}}, "lock.idle_timeout_s: expected a number, got true"),
        ({"case_files": {"reference_patterns": ["("]}}, "case_files.reference_patterns[0]: expected a valid regular"),
        ({"egress": {"approved_dirs": "/corp"}}, "egress.approved_dirs: expected a list"),
    ],
)
def test_a_signed_policy_the_agent_cannot_run_with_is_refused_in_one_line(policy: dict, line: str) -> None:
    """A policy that verifies (e.g. published by an older collector) but is not valid: never merged."""
    with pytest.raises(ConfigError) as caught:
        merge_policy(_local(), policy)
    assert str(caught.value).startswith(f"central policy: {line}")


def test_merged_settings_are_held_to_the_files_rules() -> None:
    local = _local()
    bad = dataclasses.replace(local, lock=dataclasses.replace(local.lock, warn_s=400.0))
    with pytest.raises(ConfigError) as caught:
        check_config(bad, "/etc/caseguard/agent.toml merged with the central policy")
    assert str(caught.value) == (
        "/etc/caseguard/agent.toml merged with the central policy: "
        "lock.warn_s: expected a number below lock.idle_timeout_s (300), got 400.0"
    )
    assert check_config(local, "x") is local
    merged = merge_policy(local, {"lock": {"idle_timeout_s": 20}})
    assert merged.config.lock.warn_s < merged.config.lock.idle_timeout_s == 20


class _Client:
    def __init__(self, wire: SignedPolicyWire) -> None:
        self.wire = wire

    def get_policy(self, have_version: int) -> SignedPolicyWire | None:
        return self.wire if self.wire.version > have_version else None


class _Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def emit(self, kind: str, body: dict) -> None:
        self.events.append((kind, body))


def test_the_running_agent_keeps_its_settings_when_a_signed_policy_is_invalid(tmp_path: Path) -> None:
    pki = PkiPaths.in_data_dir(tmp_path / "collector")
    init_pki(pki, [])
    local = parse_config({"state_dir": str(tmp_path / "state"),
                          "collector": {"address": "c:1", "ca": str(pki.ca_cert), "cert": "c", "key": "k"}},
                         base_dir=tmp_path)
    (tmp_path / "state").mkdir()
    body = canonical({"lock": {"idle_timeout_s": -5}})  # signed without the publishing checks
    signature, signer = sign(pki, body)
    sink, applied = _Sink(), list[AppliedPolicy]()
    applier = PolicyApplier(local, _Client(SignedPolicyWire(3, body, signature, signer)),
                            sink, applied.append, threading.Event(), None)  # type: ignore[arg-type]
    assert applier.check_once() is False
    assert applied == [] and applier.version == 0 and not (tmp_path / "state" / "policy.json").exists()
    assert sink.events == [("policy_applied", {
        "version": 3,
        "error": "central policy: lock.idle_timeout_s: expected a number of seconds above 0, at most ten years, "
                 "got -5"})]
