"""`caseguard-agent`: parse arguments, load config, set up logging, start the runtime."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from agent.config import AgentConfig, load_config
from agent.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, AgentError, UsageError
from agent.events import KIND_CLASSES
from agent.log_privacy import configure_logging

if TYPE_CHECKING:
    from agent.transport.credentials import DeviceCredentials

log = logging.getLogger("agent")

JSON_HELP = "print JSON instead of text (lists: one object a line)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the console script: run one command and return its exit code.

    The error boundary: every ``AgentError`` becomes one line on stderr and its exit code
    (0 done, 1 failed, 2 usage or configuration; see ``agent.errors``); a closed output
    pipe (``| head``) ends quietly with 0.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(Path(args.config))
        configure_logging(config.log_level, reveal_names=config.privacy.reveal_names, log_format=config.log_format)
        result: int = args.func(config, args)
        sys.stdout.flush()  # a closed pipe shows up here as often as in print()
        return result
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)  # so the interpreter's flush at exit stays quiet too
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_OK
    except AgentError as exc:
        print(f"caseguard-agent: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a file or folder the user named
        where = f": {exc.filename}" if exc.filename else ""
        print(f"caseguard-agent: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_FAILED


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit 2 (subcommands inherit it)."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: MESSAGE (see PROG --help)`` and exit 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from agent.version import AGENT_VERSION

    p = _Parser(prog="caseguard-agent", description="Caseguard endpoint agent.")
    p.add_argument("--version", action="version", version=f"caseguard-agent {AGENT_VERSION}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the agent until stopped")
    run.set_defaults(func=_cmd_run)

    emit = sub.add_parser("emit", help="commit synthetic events to the outbox and exit")
    emit.add_argument("--kind", default="test", choices=sorted(KIND_CLASSES), help="event kind (default: test)")
    emit.add_argument("--count", type=int, default=1, help="how many events")
    emit.add_argument("--body", default=None, help="JSON body for each event (default: a test body)")
    emit.set_defaults(func=_cmd_emit)

    status = sub.add_parser("status", help="outbox depth, oldest undelivered event, last delivery, shed counts")
    status.add_argument("--json", action="store_true", help=JSON_HELP)
    status.set_defaults(func=_cmd_status)

    ping = sub.add_parser("ping", help="call the collector's Heartbeat and print its view of this device")
    ping.set_defaults(func=_cmd_ping)

    classify = sub.add_parser("classify", help="judge files as the agent would (one JSON object a line)")
    classify.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (folders are walked)")
    classify.add_argument("--json", action="store_true", help=JSON_HELP)
    classify.set_defaults(func=_cmd_classify)

    lost = sub.add_parser("report-lost", help="report a lost or stolen device to the IG team (from another device)")
    lost.add_argument("--device", required=True, help="name of the lost device (as enrolled)")
    lost.add_argument("--when", default=None, help="when it was lost, e.g. 2026-11-20T17:30 (default: now)")
    lost.add_argument("--circumstances", default="", help="where and how (avoid naming people)")
    lost.add_argument("--locked", choices=["yes", "no", "unknown"], default="unknown", help="was it locked?")
    lost.add_argument("--contents", default="", help="what was on it, in general terms")
    lost.set_defaults(func=_cmd_report_lost)

    enroll = sub.add_parser("enroll", help="get this laptop's identity from the collector with a token from IT")
    enroll.add_argument("--collector", required=True, help="HOST:PORT of the collector's enrolment port")
    enroll.add_argument("--token", required=True, help="the enrolment token (cgt_...)")
    enroll.add_argument("--ca-fingerprint", required=True, help="SHA256:... of the collector's CA, from IT")
    enroll.add_argument("--label", default="", help="a readable hint for the device name (default: hostname)")
    enroll.add_argument(
        "--force", action="store_true", help="replace an existing identity (the old one is retired on the collector)"
    )
    enroll.set_defaults(func=_cmd_enroll)

    session = sub.add_parser("session", help="the per-user session component: idle clock, auto-lock, lock posture")
    session.set_defaults(func=_cmd_session)

    for sp in (run, emit, status, ping, classify, lost, session, enroll):
        sp.add_argument("--config", required=True, help="path to agent.toml")
    return p


def _cmd_run(config: AgentConfig, args: argparse.Namespace) -> int:
    from agent.runtime import AgentRuntime

    runtime = AgentRuntime(config)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        runtime.stop(reason=signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runtime.start()
    runtime.wait()
    runtime.stop()
    return 0


def _cmd_enroll(config: AgentConfig, args: argparse.Namespace) -> int:
    from agent.transport.enrollment import EnrollmentError, enroll

    c = config.collector
    old = _current_identity(config)
    if old is not None and not args.force:
        print(
            f"caseguard-agent: this laptop is already enrolled as {old.device_id}; to give it a new identity, "
            "run enroll again with --force (the old one is then retired on the collector)",
            file=sys.stderr,
        )
        return 2
    try:
        name = enroll(config, args.collector, args.token, args.ca_fingerprint, args.label)
    except EnrollmentError as exc:
        print(f"caseguard-agent: enrolment failed: {exc}", file=sys.stderr)
        return 1
    print(f"enrolled as {name}; certificate in {c.cert}, key (never sent) in {c.key}")
    if old is None or old.device_id == name:
        return 0
    return _retire(config, old)


def _current_identity(config: AgentConfig) -> DeviceCredentials | None:
    """The identity this laptop has now, if its certificate and key can be read."""
    from agent.transport.credentials import CredentialsError, load_credentials

    c = config.collector
    if not c.cert.exists() or not c.key.exists():
        return None
    try:
        return load_credentials(c.ca, c.cert, c.key)
    except CredentialsError:
        return None  # a broken identity is replaced without ceremony


def _retire(config: AgentConfig, old: DeviceCredentials) -> int:
    """Retire the replaced identity on the collector, so it is not left registered and "silent"."""
    from agent.transport.client import CollectorClient, DeliveryError

    c = config.collector
    client = CollectorClient(c.addresses, old, server_name=c.server_name, timeout_s=c.timeout_s)
    try:
        client.retire("re-enrolled")
    except DeliveryError as exc:
        print(
            f"caseguard-agent: could not retire the old identity {old.device_id} on the collector "
            f"({exc.details or exc.code.name}); ask IT to run: caseguard-collector devices revoke {old.device_id}",
            file=sys.stderr,
        )
        return 1
    finally:
        client.close()
    print(f"retired the old identity {old.device_id} on the collector")
    return 0


def _cmd_session(config: AgentConfig, args: argparse.Namespace) -> int:
    from agent.session_runtime import SessionRuntime

    runtime = SessionRuntime(config)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        runtime.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runtime.start()
    runtime.wait()
    runtime.stop()
    return 0


def _cmd_emit(config: AgentConfig, args: argparse.Namespace) -> int:
    from agent.runtime import open_outbox
    from agent.transport.credentials import load_credentials

    if args.count < 1:
        print("caseguard-agent: --count must be at least 1", file=sys.stderr)
        return 2
    try:
        body: dict[str, Any] | None = json.loads(args.body) if args.body else None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--body is not JSON: {exc.msg} at character {exc.pos}") from None
    c = config.collector
    device_id = load_credentials(c.ca, c.cert, c.key).device_id
    outbox = open_outbox(config, device_id)
    try:
        chunk = 5_000
        for start in range(0, args.count, chunk):
            n = min(chunk, args.count - start)
            items = [(args.kind, body if body is not None else _default_body(args.kind, start + i)) for i in range(n)]
            outbox.append_many(items)
    finally:
        outbox.close()
    print(f"committed {args.count} {args.kind} event(s) to the outbox")
    return 0


def _default_body(kind: str, index: int) -> dict[str, Any]:
    return {"index": index, "note": "synthetic"} if kind == "test" else {}


def _cmd_status(config: AgentConfig, args: argparse.Namespace) -> int:
    from agent.outbox import read_status

    if not config.outbox_path.exists():
        print(f"caseguard-agent: no outbox yet at {config.outbox_path}", file=sys.stderr)
        return 1
    st = read_status(config.outbox_path)  # read-only: works on a full disk, never repairs
    now = time.time()
    age = None if st.oldest_created_at is None else round(now - float(st.oldest_created_at), 3)
    report: dict[str, Any] = {
        "outbox_depth": int(st.depth),
        "oldest_undelivered_age_s": age,
        "last_delivery_at": _iso(st.last_delivery_at),
        "shed_total": int(sum(st.shed_totals.values())),
        "shed_by_kind": {str(k): int(v) for k, v in st.shed_totals.items()},
        "shed_pending_report": int(st.shed_pending),
        "dead_letters": int(st.dead_letters),
        "last_error": st.last_error,
        "next_seq": int(st.next_seq),
        "outbox_epoch": st.epoch or None,
    }
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print("\n".join(_status_lines(report, now)))
    return 0


def _status_lines(r: dict[str, Any], now: float) -> list[str]:
    """`status` for people: plain sentences, no Python reprs."""
    waiting = f"{r['outbox_depth']} event(s) waiting"
    if r["oldest_undelivered_age_s"] is not None:
        waiting += f", the oldest {_ago(r['oldest_undelivered_age_s'])} old"
    last = "never"
    if r["last_delivery_at"] is not None:
        at = datetime.fromisoformat(r["last_delivery_at"])
        last = f"{at.strftime('%Y-%m-%d %H:%M:%S')} UTC ({_ago(now - at.timestamp())} ago)"
    shed = "none"
    if r["shed_total"]:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(r["shed_by_kind"].items()))
        shed = f"{r['shed_total']} event(s) ({kinds})"
    if r["shed_pending_report"]:
        shed += f"; {r['shed_pending_report']} not yet reported to the collector"
    return [
        f"{'Outbox:':16} {waiting}",
        f"{'Last delivery:':16} {last}",
        f"{'Shed:':16} {shed}",
        f"{'Dead letters:':16} {r['dead_letters'] or 'none'}",
        f"{'Last error:':16} {r['last_error'] or 'none'}",
        f"{'Next seq:':16} {r['next_seq']} (outbox epoch {r['outbox_epoch'] or 'not set'})",
    ]


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


def _cmd_ping(config: AgentConfig, args: argparse.Namespace) -> int:
    from agent.transport.client import CollectorClient, DeliveryError
    from agent.transport.credentials import load_credentials
    from agent.version import AGENT_VERSION

    c = config.collector
    client = CollectorClient(
        c.addresses, load_credentials(c.ca, c.cert, c.key), server_name=c.server_name, timeout_s=c.timeout_s
    )
    try:
        view = client.heartbeat(outbox_depth=0, agent_version=AGENT_VERSION)
    except DeliveryError as exc:
        print(f"caseguard-agent: collector refused or unreachable: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    view["policy_version"] = str(_applied_policy_version(config))  # what this agent runs, as heartbeats say
    print(json.dumps(view, sort_keys=True))
    return 0


def _applied_policy_version(config: AgentConfig) -> int:
    """The central policy version the agent applies (0: its local settings only)."""
    from agent.crypto_child import verify_policy_in_child
    from agent.policy.applier import load_cached

    cached = load_cached(config, verify_policy_in_child)
    return cached.version if cached is not None else 0


def _cmd_classify(config: AgentConfig, args: argparse.Namespace) -> int:
    from agent.file_judge import CommandLineJudge

    judge = CommandLineJudge(config)
    try:
        if judge.note:
            print(f"caseguard-agent: {judge.note}", file=sys.stderr)
        if config.case_files.roots:
            judge.judge.reconcile()  # incremental: only new or changed protected files are read
        for path in _walk(args.paths):
            verdict = judge.judge.judge(path)
            if args.json:
                print(verdict.to_json(str(path)), flush=True)
            else:
                reasons = ",".join(verdict.reasons) or "-"
                flag = "CASE FILE" if verdict.case_file else "not a case file"
                error = f" (error: {verdict.error})" if verdict.error else ""
                print(f"{flag:15} {verdict.confidence:.2f} {reasons:30} {path}{error}")
    finally:
        judge.close()
    return 0


def _walk(paths: Sequence[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file()))
        else:
            out.append(p)
    return out


def _cmd_report_lost(config: AgentConfig, args: argparse.Namespace) -> int:
    from agent.transport.client import CollectorClient, DeliveryError
    from agent.transport.credentials import load_credentials

    try:
        when = datetime.fromisoformat(args.when) if args.when else datetime.now(UTC)
    except ValueError:
        print(f"caseguard-agent: --when {args.when!r} is not a date and time like 2026-11-20T17:30", file=sys.stderr)
        return 2
    if when.tzinfo is None:
        when = when.astimezone()  # the reporter's local time
    report = {
        "device_name": args.device,
        "lost_at": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "circumstances": args.circumstances,
        "was_locked": args.locked == "yes",
        "was_locked_known": args.locked != "unknown",
        "contents_note": args.contents,
    }
    c = config.collector
    credentials = load_credentials(c.ca, c.cert, c.key)
    if args.device == credentials.device_id:
        print(
            f"caseguard-agent: {args.device} is this device, which cannot report itself lost. Use the "
            "Caseguard web console's report page (/report), or report-lost from another enrolled device, "
            "or phone the IT service desk.",
            file=sys.stderr,
        )
        return 2
    client = CollectorClient(c.addresses, credentials, server_name=c.server_name, timeout_s=c.timeout_s)
    try:
        reference, message = client.report_lost_device(report)
    except DeliveryError as exc:
        why = exc.details or exc.code.name
        print(f"caseguard-agent: the report did not reach the collector: {why}", file=sys.stderr)
        print("Please phone the IT service desk and your information-governance team now.", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(f"Reported. Reference: {reference}")
    print(message)
    return 0


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


if __name__ == "__main__":
    sys.exit(main())
