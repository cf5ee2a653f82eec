"""`caseguard-agent`: parse arguments, load config, set up logging, start the runtime."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from agent.config import AgentConfig, ConfigError, load_config
from agent.events import KIND_CLASSES, UnknownEventKind
from agent.transport.codec import InvalidEventBody
from agent.transport.credentials import CredentialsError, load_credentials

log = logging.getLogger("agent")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(Path(args.config))
    except ConfigError as exc:
        print(f"caseguard-agent: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        result: int = args.func(config, args)
        return result
    except (CredentialsError, InvalidEventBody, UnknownEventKind) as exc:
        print(f"caseguard-agent: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="caseguard-agent", description="Caseguard endpoint agent.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the agent until stopped")
    run.set_defaults(func=_cmd_run)

    emit = sub.add_parser("emit", help="commit synthetic events to the outbox and exit")
    emit.add_argument("--kind", default="test", choices=sorted(KIND_CLASSES), help="event kind (default: test)")
    emit.add_argument("--count", type=int, default=1, help="how many events")
    emit.add_argument("--body", default=None, help="JSON body for each event (default: a test body)")
    emit.set_defaults(func=_cmd_emit)

    status = sub.add_parser("status", help="outbox depth, oldest undelivered event, last delivery, shed counts")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=_cmd_status)

    ping = sub.add_parser("ping", help="call the collector's Heartbeat and print its view of this device")
    ping.set_defaults(func=_cmd_ping)

    classify = sub.add_parser("classify", help="judge files as the agent would (one JSON object a line)")
    classify.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (folders are walked)")
    classify.add_argument("--json", action="store_true", help="one JSON object a line")
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
    from agent.enrollment import EnrollmentError, enroll

    try:
        name = enroll(config, args.collector, args.token, args.ca_fingerprint, args.label)
    except EnrollmentError as exc:
        print(f"caseguard-agent: enrolment failed: {exc}", file=sys.stderr)
        return 1
    print(f"enrolled as {name}; certificate in {config.collector.cert}, key (never sent) in {config.collector.key}")
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

    if args.count < 1:
        print("caseguard-agent: --count must be at least 1", file=sys.stderr)
        return 2
    c = config.collector
    device_id = load_credentials(c.ca, c.cert, c.key).device_id
    body: dict[str, Any] | None = json.loads(args.body) if args.body else None
    outbox = open_outbox(config, device_id)
    try:
        chunk = 5_000
        for start in range(0, args.count, chunk):
            n = min(chunk, args.count - start)
            items = [
                (args.kind, body if body is not None else _default_body(args.kind, start + i)) for i in range(n)
            ]
            outbox.append_many(items)
    finally:
        outbox.close()
    print(f"committed {args.count} {args.kind} event(s) to the outbox")
    return 0


def _default_body(kind: str, index: int) -> dict[str, Any]:
    return {"index": index, "note": "synthetic"} if kind == "test" else {}


def _cmd_status(config: AgentConfig, args: argparse.Namespace) -> int:
    from agent.outbox import Outbox

    if not config.outbox_path.exists():
        print(f"caseguard-agent: no outbox yet at {config.outbox_path}", file=sys.stderr)
        return 1

    def never_encode(_: object) -> bytes:
        raise RuntimeError("status does not write events")

    outbox = Outbox(config.outbox_path, encode=never_encode, max_events=config.outbox.max_events)
    try:
        st = outbox.status()
    finally:
        outbox.close()
    now = time.time()
    report = {
        "outbox_depth": st.depth,
        "oldest_undelivered_age_s": None if st.oldest_created_at is None else round(now - st.oldest_created_at, 3),
        "last_delivery_at": _iso(st.last_delivery_at),
        "shed_total": sum(st.shed_totals.values()),
        "shed_by_kind": dict(st.shed_totals),
        "shed_pending_report": st.shed_pending,
        "dead_letters": st.dead_letters,
        "last_error": st.last_error,
        "next_seq": st.next_seq,
    }
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for key, value in report.items():
            print(f"{key:26} {value}")
    return 0


def _cmd_ping(config: AgentConfig, args: argparse.Namespace) -> int:
    from agent.transport.client import CollectorClient, DeliveryError
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
    print(json.dumps(view, sort_keys=True))
    return 0


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
    client = CollectorClient(
        c.addresses, load_credentials(c.ca, c.cert, c.key), server_name=c.server_name, timeout_s=c.timeout_s
    )
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
