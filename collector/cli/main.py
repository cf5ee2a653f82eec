"""`caseguard-collector`: parse arguments, open the store, run the command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from collector.cli import console as console_cli
from collector.cli import enrollment as enrollment_cli
from collector.cli import workflow as workflow_cli
from collector.config import (
    DEFAULT_DATA_DIR,
    CollectorEnvironment,
    ConfigError,
    load_config,
    read_environment,
)
from collector.domain.errors import DomainError
from collector.pki import PkiError, PkiPaths, init_pki, issue_device_certificate, write_device_bundle
from collector.store.base import Device, DeviceExists, Store, StoreError, UnknownDevice
from collector.store.factory import migrate, open_enrollment_store, open_store, open_workflow_store
from collector.wire import codec
from collector.workflow.errors import WorkflowError

log = logging.getLogger("collector")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the console script."""
    try:
        env = read_environment(os.environ)
    except ConfigError as exc:
        print(f"caseguard-collector: {exc}", file=sys.stderr)
        return 2
    args = _parser(env).parse_args(argv)
    logging.basicConfig(
        level=env.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        result: int = args.func(args)
        return result
    except ConfigError as exc:  # a setting the user can fix: one line, exit 2 (usage or configuration)
        print(f"caseguard-collector: {exc}", file=sys.stderr)
        return 2
    except (PkiError, StoreError, DomainError, WorkflowError, argparse.ArgumentTypeError) as exc:
        print(f"caseguard-collector: {exc}", file=sys.stderr)
        return 1


def _parser(env: CollectorEnvironment | None = None) -> argparse.ArgumentParser:
    env = env if env is not None else read_environment(os.environ)
    p = argparse.ArgumentParser(prog="caseguard-collector", description="Caseguard collector.")
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir",
        type=Path,
        default=env.data_dir,
        help=f"where the store and PKI live (default: $CASEGUARD_DATA_DIR or {DEFAULT_DATA_DIR})",
    )
    data_dir.add_argument(
        "--database-url",
        default=env.database_url,
        help="postgresql://... to keep everything in PostgreSQL instead of SQLite in --data-dir "
        "(default: $CASEGUARD_DATABASE_URL); the PKI stays in --data-dir",
    )
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[data_dir], help="receive events from agents (mTLS gRPC)")
    serve.add_argument("--listen", default="0.0.0.0:7443", help="HOST:PORT for agents (default 0.0.0.0:7443)")
    serve.add_argument("--max-message-bytes", type=int, default=4 * 1024 * 1024, help="largest request accepted")
    serve.add_argument("--workers", type=int, default=16, help="gRPC worker threads")
    serve.add_argument(
        "--enroll-listen",
        default=None,
        help="HOST:PORT where laptops enrol with a token (no client certificate; off unless given)",
    )
    serve.add_argument(
        "--config",
        type=Path,
        default=env.config,
        help="collector.toml: organisation, notifications, workflow policy (see deploy/collector.example.toml)",
    )
    serve.add_argument(
        "--console",
        metavar="HOST:PORT",
        help="also serve the web console here, over HTTPS with the collector's server certificate",
    )
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
    revoke = devices.add_parser("revoke", parents=[data_dir], help="refuse a device from now on")
    revoke.add_argument("name")
    revoke.set_defaults(func=_cmd_devices_revoke)
    dlist = devices.add_parser("list", parents=[data_dir], help="devices with last seen, events and gaps")
    dlist.add_argument("--json", action="store_true", help="one JSON object a line")
    dlist.set_defaults(func=_cmd_devices_list)
    workflow_cli.add_device_commands(devices, data_dir)
    console_cli.add_owner_commands(devices, data_dir)

    events = sub.add_parser("events", help="stored events").add_subparsers(dest="events", required=True)
    elist = events.add_parser("list", parents=[data_dir], help="events in the order they were stored")
    elist.add_argument("--device", help="only this device")
    elist.add_argument("--limit", type=int, help="at most this many")
    elist.add_argument("--json", action="store_true", help="one JSON object a line")
    elist.set_defaults(func=_cmd_events_list)
    gaps = events.add_parser("gaps", parents=[data_dir], help="sequence numbers that never arrived")
    gaps.add_argument("--device", help="only this device")
    gaps.add_argument("--json", action="store_true", help="one JSON object a line")
    gaps.set_defaults(func=_cmd_events_gaps)

    enrollment_cli.add_commands(sub, data_dir)

    mig = sub.add_parser("migrate", parents=[data_dir], help="bring the database schema up to date")
    mig.set_defaults(func=_cmd_migrate)

    workflow_cli.add_commands(sub, data_dir)
    console_cli.add_user_commands(sub, data_dir)
    return p


def _store(args: argparse.Namespace) -> Store:
    return open_store(args.data_dir, args.database_url)


def _now_us() -> int:
    return time.time_ns() // 1000


def _cmd_serve(args: argparse.Namespace) -> int:
    from collector.api.server import ServerLimits, ServerTLS, build_server
    from collector.api.servicer import CollectorServicer
    from collector.config import workflow_service
    from collector.store.group_commit import GroupCommitWriter
    from collector.workflow.runner import WorkflowRunner

    paths = PkiPaths.in_data_dir(args.data_dir)
    try:
        tls = ServerTLS(paths.ca_cert.read_bytes(), paths.server_cert.read_bytes(), paths.server_key.read_bytes())
    except FileNotFoundError:
        hint = f"run `caseguard-collector pki init --data-dir {args.data_dir}`"
        raise PkiError(f"no PKI in {paths.root}: {hint}") from None
    config = load_config(args.config)
    store = _store(args)
    workflow_store = open_workflow_store(args.data_dir, args.database_url)
    workflow = workflow_service(workflow_store, config)
    writer = GroupCommitWriter(store, on_committed=workflow.on_committed)
    enrollment_store = open_enrollment_store(args.data_dir, args.database_url)
    servicer = CollectorServicer(store, writer, workflow=workflow, pki=paths, enrollment=enrollment_store)
    limits = ServerLimits(max_message_bytes=args.max_message_bytes, workers=args.workers)
    try:
        running = build_server(store, args.listen, tls, limits, servicer=servicer, writer=writer)
    except (OSError, RuntimeError) as exc:
        workflow_store.close()
        store.close()
        print(f"caseguard-collector: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return 1
    runner = WorkflowRunner(workflow)
    runner.start()
    enrol_server = None
    if args.enroll_listen:
        from collector.api.enrollment_servicer import EnrollmentServicer, build_enrollment_server

        try:
            enrol_server, _ = build_enrollment_server(args.enroll_listen, EnrollmentServicer(paths, enrollment_store))
        except OSError as exc:
            running.stop()
            runner.stop()
            print(f"caseguard-collector: cannot listen for enrolment on {args.enroll_listen}: {exc}", file=sys.stderr)
            return 1
    console = None
    if args.console:
        from collector.console.server import ConsoleConfigError, start_console

        try:
            console = start_console(
                args.console,
                data_dir=args.data_dir,
                database_url=args.database_url,
                cert=args.console_cert or paths.server_cert,
                key=args.console_key or paths.server_key,
                plain_http=args.console_plain_http,
                events=store,
                workflow=workflow,
                writer=writer,
                org=config.org,
            )
        except (ConsoleConfigError, StoreError) as exc:
            running.stop()
            runner.stop()
            workflow_store.close()
            store.close()
            print(f"caseguard-collector: console: {exc}", file=sys.stderr)
            return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"caseguard-collector: serving on {args.listen} (port {running.port})", flush=True)
    if console is not None:
        print(f"caseguard-collector: console on {console.url}", flush=True)
    if enrol_server is not None:
        print(f"caseguard-collector: enrolment on {args.enroll_listen}", flush=True)
    # Poll rather than block: SIGTERM may be delivered to a worker thread, and the main thread
    # only runs Python signal handlers when it wakes.
    while not stop.wait(0.5):
        pass
    if console is not None:
        console.stop()
    if enrol_server is not None:
        enrol_server.stop(2).wait()
    running.stop()
    runner.stop()
    enrollment_store.close()
    workflow_store.close()
    store.close()
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    before, after = migrate(args.data_dir, args.database_url)
    where = "PostgreSQL" if args.database_url else str(args.data_dir)
    print(f"schema of {where}: version {before} -> {after}" if before != after else f"schema is current ({after})")
    return 0


def _cmd_pki_init(args: argparse.Namespace) -> int:
    paths = PkiPaths.in_data_dir(args.data_dir)
    init_pki(paths, args.hostname, org=args.org, force=args.force)
    print(f"CA and server certificate created in {paths.root}")
    print(f"give agents {paths.ca_cert}; keep {paths.ca_key} secret")
    return 0


def _cmd_devices_issue(args: argparse.Namespace) -> int:
    paths = PkiPaths.in_data_dir(args.data_dir)
    store = _store(args)
    try:
        if store.get_device(args.name) is not None:
            print(f"caseguard-collector: device {args.name!r} is already enrolled", file=sys.stderr)
            return 1
        issued = issue_device_certificate(paths, args.name)
        store.register_device(args.name, issued.fingerprint, _now_us())
        write_device_bundle(args.out, issued, paths.ca_cert.read_bytes())
    except DeviceExists as exc:
        print(f"caseguard-collector: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"issued {args.name}: {args.out}/device.pem, device.key, ca.pem ({issued.fingerprint})")
    return 0


def _cmd_devices_revoke(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        store.revoke_device(args.name, _now_us())
    except UnknownDevice as exc:
        print(f"caseguard-collector: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
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
    except BrokenPipeError:  # `| head` is normal use
        sys.stderr.close()
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
