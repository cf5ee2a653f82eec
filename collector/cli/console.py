"""`caseguard-collector users ...` and `devices assign-owner|remove-owner|owners`: console accounts from the shell.

``users set-password`` signs the account out of every session; ``users unlock`` lifts the
sign-in throttle on an account (its failed attempts are forgotten, on every collector).

Passwords are read from a prompt (twice, not echoed) or, with ``--password-stdin``, from
one line of standard input (for scripts). Account changes are recorded in the audit log
with ``--by NAME`` as the actor, or the operating-system account (``cli:USER``) without it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from typing import Any

from collector.cli.options import BY_OPTIONAL, CONFIG, JSON, actor
from collector.config import load_config, workflow_service
from collector.console.audit import ConsoleAudit
from collector.console.passwords import Passwords, WeakPassword, check_new_password
from collector.console.roles import ROLE_TEXT, Role
from collector.domain.sign_in_throttle import account_hash
from collector.errors import UsageError
from collector.store.base import UnknownDevice
from collector.store.console_base import ConsoleStore, ConsoleStoreError, open_console_store
from collector.store.factory import open_store, open_workflow_store

NAME_RULE = "lower-case letters, digits, '.', '-' or '_' (2-64 characters, starting with a letter or digit)"


def valid_name(name: str) -> str:
    """An account name, checked (argparse type)."""
    ok = 2 <= len(name) <= 64 and name[0].isalnum() and all(c.isalnum() or c in "._-" for c in name)
    if not ok or name != name.lower() or not name.isascii():
        raise argparse.ArgumentTypeError(f"account name {name!r}: use {NAME_RULE}")
    return name


def add_user_commands(sub: Any, data_dir: argparse.ArgumentParser) -> None:
    """Register ``users add|list|disable|enable|set-password|unlock`` on ``sub``."""
    common = argparse.ArgumentParser(add_help=False, parents=[data_dir, CONFIG, BY_OPTIONAL])
    users = sub.add_parser("users", help="web console accounts").add_subparsers(dest="users", required=True)
    p = users.add_parser("add", parents=[common], help="create a console account")
    p.add_argument("name", type=valid_name)
    p.add_argument("--role", required=True, choices=[r.value for r in Role], help="what the account may do")
    p.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    p.set_defaults(func=_add)
    p = users.add_parser("list", parents=[common, JSON], help="accounts with role and state")
    p.set_defaults(func=_list)
    for name, help_text in (("disable", "refuse an account and end its sessions"), ("enable", "allow it again")):
        p = users.add_parser(name, parents=[common], help=help_text)
        p.add_argument("name")
        p.set_defaults(func=_disable if name == "disable" else _enable)
    p = users.add_parser("set-password", parents=[common], help="give an account a new password")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    p.set_defaults(func=_set_password)
    p = users.add_parser("unlock", parents=[common], help="lift the sign-in throttle on an account")
    p.add_argument("name")
    p.set_defaults(func=_unlock)


def add_owner_commands(devices: Any, data_dir: argparse.ArgumentParser) -> None:
    """Register ``devices assign-owner|remove-owner|owners`` (who may report a device lost)."""
    common = argparse.ArgumentParser(add_help=False, parents=[data_dir, CONFIG, BY_OPTIONAL])
    p = devices.add_parser("assign-owner", parents=[common], help="let a staff account report this device lost")
    p.add_argument("device")
    p.add_argument("user")
    p.set_defaults(func=_assign_owner)
    p = devices.add_parser("remove-owner", parents=[common], help="unlink a device's owner")
    p.add_argument("device")
    p.add_argument("user")
    p.set_defaults(func=_remove_owner)
    p = devices.add_parser("owners", parents=[common, JSON], help="devices and their owners")
    p.set_defaults(func=_owners)


def _now_us() -> int:
    return time.time_ns() // 1000


def _with_stores(args: argparse.Namespace, work: Any) -> int:
    console = open_console_store(args.data_dir, args.database_url)
    workflow_store = open_workflow_store(args.data_dir, args.database_url)
    try:
        audit = ConsoleAudit(workflow_service(workflow_store, load_config(args.config)))
        result: int = work(console, audit)
        return result
    finally:
        workflow_store.close()
        console.close()


def _read_password(args: argparse.Namespace, name: str) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password: give it on one line with --password-stdin")
    else:
        try:
            password = getpass.getpass(f"password for {name}: ")
            again = getpass.getpass("again: ")
        except EOFError:
            raise UsageError("no password given") from None
        if again != password:
            raise ConsoleStoreError("the two passwords are not the same")
    try:
        check_new_password(name, password)
    except WeakPassword as exc:
        raise ConsoleStoreError(str(exc)) from None
    return password


def _add(args: argparse.Namespace) -> int:
    password = _read_password(args, args.name)

    def work(console: ConsoleStore, audit: ConsoleAudit) -> int:
        if console.get_user(args.name) is not None:
            raise ConsoleStoreError(f"there is already an account named {args.name!r}")
        audit.record(actor(args), "console.user_add", args.name, {"role": args.role})
        console.add_user(args.name, args.role, Passwords().hash(password), _now_us())
        print(f"added {args.name} ({ROLE_TEXT[Role(args.role)]})")
        return 0

    return _with_stores(args, work)


def _list(args: argparse.Namespace) -> int:
    def work(console: ConsoleStore, audit: ConsoleAudit) -> int:
        owned: dict[str, list[str]] = {}
        for device, names in console.owners().items():
            for n in names:
                owned.setdefault(n, []).append(device)
        for u in console.list_users():
            row = {"name": u.name, "role": u.role, "disabled": not u.active, "devices": owned.get(u.name, [])}
            if args.json:
                print(json.dumps(row, sort_keys=True))
            else:
                state = "DISABLED" if not u.active else "active"
                print(f"{u.name:30} {u.role:11} {state:8} devices={','.join(row['devices']) or '-'}")  # type: ignore[arg-type]
        return 0

    return _with_stores(args, work)


def _require(console: ConsoleStore, name: str) -> None:
    if console.get_user(name) is None:
        raise ConsoleStoreError(f"no account named {name!r}")


def _disable(args: argparse.Namespace) -> int:
    def work(console: ConsoleStore, audit: ConsoleAudit) -> int:
        _require(console, args.name)
        audit.record(actor(args), "console.user_disable", args.name, {})
        console.set_disabled(args.name, _now_us())
        print(f"disabled {args.name}: signed out everywhere, and cannot sign in")
        return 0

    return _with_stores(args, work)


def _enable(args: argparse.Namespace) -> int:
    def work(console: ConsoleStore, audit: ConsoleAudit) -> int:
        _require(console, args.name)
        audit.record(actor(args), "console.user_enable", args.name, {})
        console.set_disabled(args.name, None)
        print(f"enabled {args.name}")
        return 0

    return _with_stores(args, work)


def _set_password(args: argparse.Namespace) -> int:
    password = _read_password(args, args.name)

    def work(console: ConsoleStore, audit: ConsoleAudit) -> int:
        _require(console, args.name)
        audit.record(actor(args), "console.password_set", args.name, {})
        ended = console.replace_password(args.name, Passwords().hash(password))
        print(f"new password set for {args.name}; signed out of {ended} session(s)")
        return 0

    return _with_stores(args, work)


def _unlock(args: argparse.Namespace) -> int:
    def work(console: ConsoleStore, audit: ConsoleAudit) -> int:
        _require(console, args.name)
        audit.record(actor(args), "console.user_unlock", args.name, {})
        lifted = console.throttle_clear(account_hash(args.name))
        if lifted:
            print(f"unlocked {args.name}: failed sign-ins forgotten, it may sign in again now")
        else:
            print(f"{args.name} was not throttled; nothing to lift")
        return 0

    return _with_stores(args, work)


def _require_device(args: argparse.Namespace, name: str) -> None:
    store = open_store(args.data_dir, args.database_url)
    try:
        known = store.get_device(name) is not None
    finally:
        store.close()
    if not known:
        # Enrolment names a laptop after its label plus a random suffix (LAPTOP-0042-7f3a9c).
        raise UnknownDevice(f"no device named {name!r}: see `caseguard-collector devices list` for enrolled names")


def _assign_owner(args: argparse.Namespace) -> int:
    _require_device(args, args.device)

    def work(console: ConsoleStore, audit: ConsoleAudit) -> int:
        user = console.get_user(args.user)
        if user is None or user.role != Role.STAFF:
            raise ConsoleStoreError(f"{args.user!r} is not a staff account (see `caseguard-collector users list`)")
        audit.record(actor(args), "device.owner_add", args.device, {"owner": args.user})
        console.assign_owner(args.device, args.user, _now_us())
        print(f"{args.user} can now report {args.device} lost from the console")
        return 0

    return _with_stores(args, work)


def _remove_owner(args: argparse.Namespace) -> int:
    def work(console: ConsoleStore, audit: ConsoleAudit) -> int:
        if args.user not in console.owners().get(args.device, []):
            raise ConsoleStoreError(f"{args.user!r} does not own {args.device!r}")
        audit.record(actor(args), "device.owner_remove", args.device, {"owner": args.user})
        console.remove_owner(args.device, args.user)
        print(f"{args.user} no longer owns {args.device}")
        return 0

    return _with_stores(args, work)


def _owners(args: argparse.Namespace) -> int:
    def work(console: ConsoleStore, audit: ConsoleAudit) -> int:
        for device, names in sorted(console.owners().items()):
            print(json.dumps({"device": device, "owners": names}) if args.json else f"{device:30} {', '.join(names)}")
        return 0

    return _with_stores(args, work)
