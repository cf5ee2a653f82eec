"""Central policy: validation, signatures that must chain to our CA, and tighten-only merging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.config import AgentConfig, parse_config
from agent.policy.merge import merge_policy
from agent.policy.verify import PolicyRejected, verify_policy
from collector.pki import PkiPaths, init_pki
from collector.policy.document import PolicyError, canonical, parse_policy_toml
from collector.policy.signing import sign

BASE = {"state_dir": "s", "collector": {"address": "c:1", "ca": "ca", "cert": "c", "key": "k"}}


def _config(**sections: dict[str, object]) -> AgentConfig:
    return parse_config({**BASE, **sections}, base_dir=Path("/"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    paths = PkiPaths.in_data_dir(tmp_path_factory.mktemp("collector"))
    init_pki(paths, [])
    return paths


def test_a_signed_policy_verifies_and_a_tampered_one_does_not(pki: PkiPaths) -> None:
    body = canonical(parse_policy_toml("[lock]\nidle_timeout_s = 120\n"))
    signature, signer = sign(pki, body)
    ca = pki.ca_cert.read_bytes()
    assert verify_policy(body, signature, signer, ca) == {"lock": {"idle_timeout_s": 120}}
    with pytest.raises(PolicyRejected, match="signature"):
        verify_policy(body.replace(b"120", b"9999"), signature, signer, ca)


def test_a_policy_signed_by_another_ca_or_a_non_signer_is_refused(pki: PkiPaths, tmp_path: Path) -> None:
    other = PkiPaths.in_data_dir(tmp_path / "rogue")
    init_pki(other, [])
    body = canonical({"privacy": {"reveal_names": True}})
    signature, signer = sign(other, body)
    with pytest.raises(PolicyRejected, match="not certified"):
        verify_policy(body, signature, signer, pki.ca_cert.read_bytes())
    # the collector's TLS certificate chains to the CA but is not a policy signer
    with pytest.raises(PolicyRejected, match="not a policy signer"):
        verify_policy(body, signature, pki.server_cert.read_bytes(), pki.ca_cert.read_bytes())


@pytest.mark.parametrize(
    "text",
    ["[lock]\nidle_timeout_s = -1\n", "[lock]\nidle_timout_s = 60\n", "[network]\nx = 1\n",
     "[case_files]\nreference_patterns = ['(']\n", "[privacy]\nreveal_names = 'yes'\n"],
)
def test_invalid_policies_are_refused_before_publishing(text: str) -> None:
    with pytest.raises(PolicyError):
        parse_policy_toml(text)


def test_central_settings_apply_where_the_laptop_says_nothing() -> None:
    merged = merge_policy(_config(), {"lock": {"idle_timeout_s": 600}, "privacy": {"reveal_names": True},
                                      "egress": {"personal_dirs": ["/home/x/Sync"]}})
    assert merged.config.lock.idle_timeout_s == 600
    assert merged.config.privacy.reveal_names is True
    assert Path("/home/x/Sync") in merged.config.egress.personal_dirs
    assert merged.tightened_locally == ()


def test_local_settings_may_tighten_but_never_loosen() -> None:
    local = _config(lock={"idle_timeout_s": 120, "allow_inhibitors": True},
                    privacy={"reveal_names": False},
                    egress={"approved_dirs": ["/corp/OneDrive", "/home/x/Dropbox"]})
    merged = merge_policy(local, {"lock": {"idle_timeout_s": 600, "allow_inhibitors": False},
                                  "privacy": {"reveal_names": True},
                                  "egress": {"approved_dirs": ["/corp/OneDrive", "/corp/Teams"]}})
    c = merged.config
    assert c.lock.idle_timeout_s == 120  # stricter locally: kept
    assert c.lock.allow_inhibitors is False  # looser locally: central wins
    assert c.privacy.reveal_names is False  # more private locally: kept
    assert c.egress.approved_dirs == (Path("/corp/OneDrive"),)  # local can only withdraw approvals
    assert set(merged.tightened_locally) == {"lock.idle_timeout_s", "privacy.reveal_names", "egress.approved_dirs"}
    loose = merge_policy(_config(lock={"idle_timeout_s": 1800}), {"lock": {"idle_timeout_s": 300}})
    assert loose.config.lock.idle_timeout_s == 300 and loose.tightened_locally == ()


def test_protective_lists_are_unions() -> None:
    local = _config(case_files={"roots": ["/cases/local"], "reference_patterns": ["LOC-\\d+"],
                                "label_map": {"g1": "Local"}})
    merged = merge_policy(local, {"case_files": {"roots": ["/cases/shared"], "reference_patterns": ["CS-\\d{6}"],
                                                 "label_map": {"g2": "Org"}}})
    cf = merged.config.case_files
    assert set(cf.roots) == {Path("/cases/local"), Path("/cases/shared")}
    assert set(cf.reference_patterns) == {"LOC-\\d+", "CS-\\d{6}"}
    assert dict(cf.label_map) == {"g1": "Local", "g2": "Org"}
    assert json.loads(canonical({"b": 1, "a": [2]})) == {"a": [2], "b": 1}


def test_the_example_policy_in_deploy_is_valid() -> None:
    example = Path(__file__).resolve().parents[3] / "deploy" / "policy.example.toml"
    policy = parse_policy_toml(example.read_text())
    assert policy["lock"]["idle_timeout_s"] == 300
    assert merge_policy(_config(), policy).config.lock.idle_timeout_s == 300
