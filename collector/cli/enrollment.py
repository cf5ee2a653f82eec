"""`caseguard-collector enroll-token ...` and `policy ...`: what IT runs to enrol laptops and set policy."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collector.cli import audit
from collector.cli.options import BY, CONFIG, JSON, actor
from collector.durations import InvalidDuration, parse_duration
from collector.enrollment import tokens
from collector.errors import CollectorError, UsageError
from collector.pki import PkiPaths, fingerprint_of_pem
from collector.policy.document import PolicyError, canonical, parse_policy_toml, validate
from collector.policy.identifiers import check_export
from collector.policy.signing import sign
from collector.store.factory import open_enrollment_store


def add_commands(sub: Any, data_dir: argparse.ArgumentParser) -> None:
    """Register the enrol-token and policy command groups."""
    tok = sub.add_parser("enroll-token", help="tokens that let laptops enrol").add_subparsers(dest="tok", required=True)
    create = tok.add_parser("create", parents=[data_dir], help="make an expiring enrolment token")
    create.add_argument("--expires", type=_lifetime, default="24h", help="lifetime, e.g. 24h, 90m, 7d (default 24h)")
    create.add_argument("--uses", type=int, default=1, help="how many laptops may enrol with it (default 1)")
    create.set_defaults(func=_create_token)
    tlist = tok.add_parser("list", parents=[data_dir, JSON], help="tokens with expiry and uses left (never the secret)")
    tlist.set_defaults(func=_list_tokens)

    pol = sub.add_parser("policy", help="the central policy agents apply").add_subparsers(dest="pol", required=True)
    pset = pol.add_parser(
        "set", parents=[data_dir, CONFIG, BY], help="validate, sign and publish a policy file as a new version"
    )
    pset.add_argument("file", type=Path, help="policy TOML (see deploy/policy.example.toml)")
    pset.add_argument("--identifiers", type=Path, metavar="CSV",
                      help="case-management export (nhs_number, case_reference, ni_number columns): checked, "
                      "then published as keyed hashes only; needs --org-key")  # fmt: skip
    pset.add_argument("--org-key", type=Path, metavar="FILE",
                      help="the organisation's HMAC key file (the agents' [privacy] org_key_file)")
    pset.add_argument("--clear-identifiers", action="store_true",
                      help="publish without the known identifiers of the current version (kept by default)")
    pset.set_defaults(func=_set_policy)
    pcheck = pol.add_parser("check-identifiers", help="check a case-management export without publishing it")
    pcheck.add_argument("file", type=Path, help="CSV with any of the columns nhs_number, case_reference, ni_number")
    pcheck.set_defaults(func=_check_identifiers)
    pshow = pol.add_parser("show", parents=[data_dir, JSON], help="the current policy version")
    pshow.set_defaults(func=_show_policy)


def _now_us() -> int:
    return time.time_ns() // 1000


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat()


def _lifetime(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except InvalidDuration as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _create_token(args: argparse.Namespace) -> int:
    if args.uses < 1:
        raise UsageError("--uses must be at least 1")
    # Everything that can fail comes before the token is stored: a token nobody was shown
    # (because the PKI is missing) must not sit live in the database.
    pin = fingerprint_of_pem(PkiPaths.in_data_dir(args.data_dir).ca_cert_pem())
    lifetime: timedelta = args.expires
    token = tokens.new_token()
    now = _now_us()
    record = tokens.TokenRecord(token.token_id, token.secret_hash, now + int(lifetime.total_seconds() * 1e6),
                                args.uses, now)
    store = open_enrollment_store(args.data_dir, args.database_url)
    try:
        store.add_token(record)
    finally:
        store.close()
    print(token.text)
    print(f"expires {_iso(record.expires_at_us)}; {args.uses} use(s); --ca-fingerprint {pin}", file=sys.stderr)
    return 0


def _list_tokens(args: argparse.Namespace) -> int:
    store = open_enrollment_store(args.data_dir, args.database_url)
    try:
        records = store.list_tokens()
    finally:
        store.close()
    now = _now_us()
    for r in records:
        row = {"token_id": r.token_id, "expires_at": _iso(r.expires_at_us), "uses_left": r.uses_left,
               "live": r.uses_left > 0 and r.expires_at_us > now}
        print(json.dumps(row, sort_keys=True) if args.json else
              f"{r.token_id} expires {row['expires_at']} uses_left={r.uses_left} {'live' if row['live'] else 'spent'}")
    return 0


def _set_policy(args: argparse.Namespace) -> int:
    try:
        policy = parse_policy_toml(args.file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{args.file}: {exc.strerror or exc}") from None
    except PolicyError as exc:
        raise PolicyError(f"{args.file}: {exc}") from None
    if (args.identifiers is None) != (args.org_key is None):
        raise UsageError("--identifiers and --org-key go together: the export is hashed under the organisation key")
    if args.identifiers is not None and args.clear_identifiers:
        raise UsageError("--identifiers and --clear-identifiers: give one")
    checked = None
    kept = 0
    case_files = policy.setdefault("case_files", {})
    if args.identifiers is not None:
        checked = check_export(args.identifiers, args.org_key)
        case_files["known_identifier_hashes"] = list(checked.hashes)
        case_files["known_identifier_key_check"] = checked.key_check
    paths = PkiPaths.in_data_dir(args.data_dir)
    paths.ca_cert_pem()  # no PKI: say so before anything is made or stored
    store = open_enrollment_store(args.data_dir, args.database_url)
    try:
        if checked is None and not args.clear_identifiers and "known_identifier_hashes" not in case_files:
            # A new lock timeout must not silently drop every laptop's known identifiers.
            kept = _keep_identifiers(store.current_policy(), case_files)
        if not case_files:
            del policy["case_files"]
        policy = validate(policy)
        body = canonical(policy)
        signature, signer = sign(paths, body)
        version = store.add_policy(body, signature, signer, _now_us(), actor(args))
    finally:
        store.close()
    details: dict[str, Any] = {"version": version}
    if checked is not None:
        details["known_identifiers"] = dict(checked.counts)
    audit.record(args, "policy.publish", f"policy v{version}", details)
    print(f"policy version {version} published; agents apply it at their next check")
    if checked is not None:
        print(f"known identifiers: {checked.summary()}, as keyed hashes")
    elif kept:
        print(f"known identifiers: {kept:,} keyed hashes kept from the previous version "
              "(--clear-identifiers drops them)")
    return 0


def _keep_identifiers(current: Any, case_files: dict[str, Any]) -> int:
    """Copy the current version's known-identifier hashes (and key check) into ``case_files``; how many."""
    if current is None:
        return 0
    previous = json.loads(current.body).get("case_files", {})
    hashes = previous.get("known_identifier_hashes") or []
    if hashes:
        case_files["known_identifier_hashes"] = hashes
        if previous.get("known_identifier_key_check"):
            case_files["known_identifier_key_check"] = previous["known_identifier_key_check"]
    return len(hashes)


def _check_identifiers(args: argparse.Namespace) -> int:
    checked = check_export(args.file)
    print(f"{args.file}: {checked.summary()}; every value is well formed")
    return 0


def _show_policy(args: argparse.Namespace) -> int:
    store = open_enrollment_store(args.data_dir, args.database_url)
    try:
        current = store.current_policy()
    finally:
        store.close()
    if current is None:
        raise CollectorError("no central policy yet: agents use their local configuration")
    view = {"version": current.version, "published_at": _iso(current.created_at_us), "by": current.created_by,
            "policy": json.loads(current.body)}
    print(json.dumps(view, sort_keys=True, indent=None if args.json else 2))
    return 0
