"""`caseguard-collector`: parse arguments, open the store, run the command.

The error boundary is here: every ``CollectorError`` (and a file the user named that cannot be
read or written) becomes one line on stderr and its exit code (0 done, 1 failed, 2 usage or
configuration; see ``collector.errors``). A closed output pipe (``| head``) ends quietly.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from caseguard.log_format import formatter_for
from collector.cli import audit
from collector.cli import console as console_cli
from collector.cli import enrollment as enrollment_cli
from collector.cli import workflow as workflow_cli
from collector.cli.options import BY_OPTIONAL, CONFIG, JSON, STORE, Parser, apply_environment
from collector.cli.terminal import install_safe_stdout
from collector.config import ConfigError, load_config, read_environment
from collector.errors import EXIT_FAILED, EXIT_OK, CollectorError, UsageError
from collector.pki import PkiPaths, init_pki, issue_device_certificate, write_device_bundle
from collector.store.base import Device, DeviceExists, Store
from collector.store.factory import check_database, migrate, open_store
from collector.wire import codec

log = logging.getLogger("collector")

PROG = "caseguard-collector"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def use_log_format(log_format: str) -> None:
    """Switch every root handler to ``[logging] format`` ("text" or "json")."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter_for(log_format, LOG_FORMAT))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the console script: run one command and return its exit code."""
    try:
        env = read_environment(os.environ)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    args = _parser().parse_args(argv)
    apply_environment(args, env)
    install_safe_stdout()
    logging.basicConfig(level=env.log_level, format=LOG_FORMAT, stream=sys.stderr)
    return run_command(PROG, lambda: args.func(args))


def run_command(prog: str, command: Callable[[], int]) -> int:
    """Run ``command`` behind the error boundary: one line on stderr and an exit code, never a traceback."""
    try:
        code = command()
        sys.stdout.flush()  # a closed pipe shows up here as often as in print()
        return code
    except BrokenPipeError:
        return _quiet_after_broken_pipe()
    except CollectorError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.exit_code
    except argparse.ArgumentTypeError as exc:  # a value checked after parsing (e.g. a time)
        print(f"{prog}: {exc}", file=sys.stderr)
        return UsageError.exit_code
    except OSError as exc:  # a file or folder the user named
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{prog}: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _quiet_after_broken_pipe() -> int:
    # The reader went away (`| head`): that is normal use, not a failure. Point stdout at
    # /dev/null so the interpreter's own flush at exit cannot complain either.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Caseguard collector.")
    data_dir = STORE
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[STORE, CONFIG], help="receive events from agents (mTLS gRPC)")
    serve.add_argument("--listen", default="0.0.0.0:7443", help="HOST:PORT for agents (default 0.0.0.0:7443)")
    serve.add_argument("--max-message-bytes", type=int, default=4 * 1024 * 1024, help="largest request accepted")
    serve.add_argument("--workers", type=int, default=16, help="gRPC worker threads")
    serve.add_argument(
        "--enroll-listen",
        default=None,
        help="HOST:PORT where laptops enrol with a token (no client certificate; off unless given)",
    )
    serve.add_argument(
        "--console",
        metavar="HOST:PORT",
        help="also serve the web console here, over HTTPS with the collector's server certificate",
    )
    serve.add_argument(
        "--ops", metavar="HOST:PORT",
        help="plain-HTTP listener for probes and Prometheus (/healthz, /readyz, /metrics; no client certificate)",
    )
    serve.add_argument("--ready-workflow-s", type=float, default=300.0, metavar="S",
                       help="/readyz fails when the workflow runner has not completed a round in S seconds")
    serve.add_argument("--console-cert", type=Path, help="PEM certificate chain for the console instead")
    serve.add_argument("--console-key", type=Path, help="PEM private key for --console-cert")
    serve.add_argument(
        "--console-plain-http",
        action="store_true",
        help="serve the console as plain HTTP (loopback only: for a TLS-terminating reverse proxy on this host)",
    )
    serve.set_defaults(func=_cmd_serve)

    pki = sub.add_parser("pki", help="the collector's certificate authority").add_subparsers(dest="pki", required=True)
    init = pki.add_parser("init", parents=[data_dir], help="create the CA and the server certificate")
    init.add_argument("--hostname", action="append", default=[], help="a name agents use for the collector (repeat)")
    init.add_argument("--org", default="Caseguard", help="organisation name in the CA certificate")
    init.add_argument("--force", action="store_true", help="replace an existing CA (every device must re-enrol)")
    init.set_defaults(func=_cmd_pki_init)

    devices = sub.add_parser("devices", help="enrolled devices").add_subparsers(dest="devices", required=True)
    issue = devices.add_parser("issue", parents=[data_dir], help="issue a device certificate and key")
    issue.add_argument("name", help="the device's name (its identity)")
    issue.add_argument("--out", type=Path, required=True, help="folder for device.pem, device.key and ca.pem")
    issue.set_defaults(func=_cmd_devices_issue)
    revoke = devices.add_parser("revoke", parents=[data_dir, CONFIG, BY_OPTIONAL], help="refuse a device from now on")
    revoke.add_argument("name")
    revoke.set_defaults(func=_cmd_devices_revoke)
    dlist = devices.add_parser("list", parents=[data_dir, JSON], help="devices with last seen, events and gaps")
    dlist.set_defaults(func=_cmd_devices_list)
    workflow_cli.add_device_commands(devices, data_dir)
    console_cli.add_owner_commands(devices, data_dir)

    events = sub.add_parser("events", help="stored events").add_subparsers(dest="events", required=True)
    elist = events.add_parser("list", parents=[data_dir, JSON], help="events in the order they were stored")
    elist.add_argument("--device", help="only this device")
    elist.add_argument("--limit", type=int, help="at most this many")
    elist.set_defaults(func=_cmd_events_list)
    gaps = events.add_parser("gaps", parents=[data_dir, JSON], help="sequence numbers that never arrived")
    gaps.add_argument("--device", help="only this device")
    gaps.set_defaults(func=_cmd_events_gaps)

    enrollment_cli.add_commands(sub, data_dir)

    mig = sub.add_parser("migrate", parents=[data_dir], help="bring the database schema up to date")
    mig.set_defaults(func=_cmd_migrate)
    db = sub.add_parser("db", help="the collector's database").add_subparsers(dest="db", required=True)
    check = db.add_parser(
        "check", parents=[data_dir], help="check the database for damage and its schema version (serve: a quick one)"
    )
    check.add_argument("--quick", action="store_true", help="the quick check serve runs at start, not the full one")
    check.set_defaults(func=_cmd_db_check)

    workflow_cli.add_commands(sub, data_dir)
    console_cli.add_user_commands(sub, data_dir)
    return p


def _store(args: argparse.Namespace) -> Store:
    return open_store(args.data_dir, args.database_url)


def _now_us() -> int:
    return time.time_ns() // 1000


def _cmd_serve(args: argparse.Namespace) -> int:
    from collector.runtime import CollectorRuntime, ServeOptions

    if args.config is not None:
        use_log_format(load_config(args.config).log_format)
    options = ServeOptions(
        data_dir=args.data_dir, database_url=args.database_url, config=args.config, listen=args.listen,
        enroll_listen=args.enroll_listen, console=args.console, console_cert=args.console_cert,
        console_key=args.console_key, console_plain_http=args.console_plain_http,
        max_message_bytes=args.max_message_bytes, workers=args.workers, ops=args.ops,
        ready_workflow_s=args.ready_workflow_s,
    )  # fmt: skip
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with CollectorRuntime(options) as runtime:
        print(f"{PROG}: serving on {args.listen} (port {runtime.port})", flush=True)
        if runtime.console_url is not None:
            print(f"{PROG}: console on {runtime.console_url}", flush=True)
        if runtime.enroll_port is not None:
            print(f"{PROG}: enrolment on {args.enroll_listen}", flush=True)
        if runtime.ops_url is not None:
            print(f"{PROG}: ops on {runtime.ops_url} (/healthz, /readyz, /metrics)", flush=True)
        # Poll rather than block: SIGTERM may be delivered to a worker thread, and the main thread
        # only runs Python signal handlers when it wakes.
        while not stop.wait(0.5):
            pass
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    before, after = migrate(args.data_dir, args.database_url)
    where = "PostgreSQL" if args.database_url else str(args.data_dir)
    print(f"schema of {where}: version {before} -> {after}" if before != after else f"schema is current ({after})")
    return 0


def _cmd_db_check(args: argparse.Namespace) -> int:
    print(check_database(args.data_dir, args.database_url, thorough=not args.quick).summary())
    return 0


def _cmd_pki_init(args: argparse.Namespace) -> int:
    paths = PkiPaths.in_data_dir(args.data_dir)
    init_pki(paths, args.hostname, org=args.org, force=args.force)
    print(f"CA and server certificate created in {paths.root}")
    print(f"give agents {paths.ca_cert}; keep {paths.ca_key} secret")
    return 0


def _cmd_devices_issue(args: argparse.Namespace) -> int:
    paths = PkiPaths.in_data_dir(args.data_dir)
    ca_pem = paths.ca_cert_pem()
    store = _store(args)
    try:
        if store.get_device(args.name) is not None:
            raise DeviceExists(f"device {args.name!r} is already enrolled")
        issued = issue_device_certificate(paths, args.name)
        # The bundle first: a folder that cannot be written leaves no device registered without a key.
        write_device_bundle(args.out, issued, ca_pem)
        store.register_device(args.name, issued.fingerprint, _now_us())
    finally:
        store.close()
    print(f"issued {args.name}: {args.out}/device.pem, device.key, ca.pem ({issued.fingerprint})")
    return 0


def _cmd_devices_revoke(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        store.revoke_device(args.name, _now_us())
    finally:
        store.close()
    audit.record(args, "device.revoke", args.name)
    print(f"revoked {args.name}: the collector refuses it from now on")
    return 0


def _device_dict(d: Device) -> dict[str, object]:
    return {
        "device": d.name,
        "enrolled_at": codec.us_to_iso(d.enrolled_at_us),
        "last_seen_at": codec.us_to_iso(d.last_seen_at_us),
        "revoked": d.revoked_at_us is not None,
        "revoked_at": codec.us_to_iso(d.revoked_at_us),
        "lost": d.lost_at_us is not None,
        "max_seq": d.max_seq,
        "events": d.event_count,
        "open_gaps": d.open_gaps,
    }


def _cmd_devices_list(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        devices = store.list_devices()
    finally:
        store.close()
    for d in devices:
        row = _device_dict(d)
        if args.json:
            print(json.dumps(row, sort_keys=True))
        else:
            state = "REVOKED" if row["revoked"] else ("LOST" if row["lost"] else "active")
            seen = row["last_seen_at"]
            print(f"{d.name:30} {state:8} events={d.event_count:<8} gaps={d.open_gaps:<4} last_seen={seen}")
    return 0


def _cmd_events_list(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        for e in store.list_events(device=args.device, limit=args.limit):
            if args.json:
                print(json.dumps(codec.event_to_dict(e), sort_keys=True))
            else:
                print(f"{codec.us_to_iso(e.received_at_us)} {e.device} #{e.seq} {e.kind} {e.event_id}")
    finally:
        store.close()
    return 0


def _cmd_events_gaps(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        gaps = store.sequence_gaps(args.device)
    finally:
        store.close()
    for g in gaps:
        row = {
            "device": g.device,
            "first_seq": g.first_seq,
            "last_seq": g.last_seq,
            "missing": g.last_seq - g.first_seq + 1,
            "detected_at": codec.us_to_iso(g.detected_at_us),
            "explained": g.explained,
        }
        if args.json:
            print(json.dumps(row, sort_keys=True))
        else:
            print(f"{g.device} {g.first_seq}..{g.last_seq} ({row['missing']}) {g.explained or 'MISSING'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
