"""`caseguard-collector incidents|audit|workflow ...`: the IG officers' commands until the console lands.

Every state change takes ``--by NAME`` (the actor written to the audit log) and prints the
incident afterwards (``--json``: one JSON object). Times given without a zone are UK local
time (Europe/London). Errors a person can fix exit 1 with a message; see ``collector.cli.main``.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from collector.cli.options import BY, CONFIG, JSON, actor
from collector.cli.terminal import escape_controls
from collector.config import load_config, workflow_service
from collector.domain.canonical_json import JsonValue
from collector.domain.ico_report import IcoReportDraft, to_json, to_text
from collector.domain.incident import IncidentState, SubjectsGround
from collector.domain.incident_record import IncidentRecord
from collector.domain.instants import iso_utc
from collector.domain.register import write_register_csv
from collector.pki import PkiPaths
from collector.store.factory import open_workflow_store
from collector.workflow.audit import verify_audit
from collector.workflow.checkpoints import checkpoint_problems, read_checkpoint, write_checkpoint
from collector.workflow.errors import UnknownIncident, WorkflowError
from collector.workflow.moments import moment
from collector.workflow.service import WorkflowService
from collector.workflow.times import from_us
from collector.workflow.views import detail_text, incident_detail, incident_summary, summary_line

Handler = Callable[[WorkflowService, argparse.Namespace], int]


def add_commands(sub: Any, data_dir: argparse.ArgumentParser) -> None:
    """Register the ``incidents``, ``audit`` and ``workflow`` command groups on ``sub``."""
    common = argparse.ArgumentParser(add_help=False, parents=[data_dir, CONFIG, JSON])
    by = BY
    one = argparse.ArgumentParser(add_help=False, parents=[common, by])
    one.add_argument("incident", metavar="INCIDENT_ID")

    incidents = sub.add_parser("incidents", help="breach incidents (IG officers)").add_subparsers(
        dest="incidents", required=True
    )

    def cmd(name: str, handler: Handler, help_text: str, parents: list[argparse.ArgumentParser]) -> Any:
        parser = incidents.add_parser(name, parents=parents, help=help_text)
        parser.set_defaults(func=_runner(handler))
        return parser

    p = cmd("list", _list, "incidents with state, risk grade and deadline", [common])
    p.add_argument("--state", action="append", choices=[str(s) for s in IncidentState], help="only this state (repeat)")
    p = cmd("show", _show, "one incident in full", [common])
    p.add_argument("incident", metavar="INCIDENT_ID")
    p = cmd("confirm", _confirm, "confirm a breach: the 72-hour clock runs from --aware-at", [one])
    p.add_argument("--aware-at", required=True, help="when the organisation became aware (ISO 8601; no zone = UK)")
    p.add_argument("--reason", required=True)
    p.add_argument("--justification", default="", help="why aware later than the first high-confidence signal")
    p = cmd("correct-awareness", _correct_awareness, "correct when the organisation became aware (audited)", [one])
    p.add_argument("--aware-at", required=True, help="the corrected time (ISO 8601; no zone = UK)")
    p.add_argument("--reason", required=True, help="why the recorded time was wrong")
    p.add_argument("--justification", default="", help="why aware later than the first high-confidence signal")
    p = cmd("tell", _tell, "record telling a body: dspt, police (with --reference) or a configured one", [one])
    p.add_argument("--body", required=True, help="dspt, police, or a key from workflow.obligations")
    p.add_argument("--reference", default="", help="their reference (the police crime reference)")
    p.add_argument("--told-at", default=None, help="when (ISO 8601; no zone = UK; default now)")
    p.add_argument("--note", default="")
    p = cmd("family-told", _family_told, "record that one family was told (Art. 34), under a label", [one])
    p.add_argument("--label", required=True, help="IG's label for the family, e.g. 'Family 1' (never a name)")
    p.add_argument("--how", required=True, help="how they were told (letter, visit, call)")
    p.add_argument("--told-at", default=None, help="when (ISO 8601; no zone = UK; default now)")
    p = cmd("task", _task, "tick a task of the incident's checklist", [one])
    p.add_argument("--task", required=True, help="the task's text, as the checklist shows it")
    p.add_argument("--note", default="")
    p = cmd("ico-outcome", _ico_outcome, "record what the ICO decided about the report", [one])
    p.add_argument("--outcome", required=True)
    p = cmd("dismiss", _simple("dismiss"), "not a personal data breach after all", [one])
    p.add_argument("--reason", required=True)
    p.add_argument("--near-miss", action="store_true", help="a security incident that compromised no personal data")
    p = cmd("assess", _assess, "confirm the drafted risk assessment (or score by hand)", [one])
    p.add_argument("--likelihood", type=int, choices=range(1, 6), help="1..5 (changing the draft needs --note)")
    p.add_argument("--severity", type=int, choices=range(1, 6), help="1..5 (changing the draft needs --note)")
    p.add_argument("--vulnerable", choices=("yes", "no"), help="children or vulnerable adults involved")
    p.add_argument("--note", default="", help="your reasons (kept out of the ICO draft)")
    p = cmd("decide", _decide, "decide whether the ICO must be told", [one])
    choice = p.add_mutually_exclusive_group(required=True)
    choice.add_argument("--reportable", action="store_true", dest="reportable", default=None)
    choice.add_argument("--not-reportable", action="store_false", dest="reportable")
    p.add_argument("--reason", required=True)
    p = cmd("notify-ico", _notify_ico, "record a report made to the ICO", [one])
    p.add_argument("--follow-up", action="store_true", help="a follow-up to the initial report")
    p.add_argument("--submitted-at", help="when it was submitted (default: now)")
    p.add_argument("--ico-reference", default="", help="the ICO's case reference")
    p.add_argument("--late-reasons", default="", help="required for an initial report after the deadline")
    p.add_argument("--note", default="")
    p = cmd("inform-subjects", _inform, "record that the people affected were told", [one])
    p.add_argument("--how", required=True, help="how they were told (letter, call, ...)")
    p.add_argument("--informed-at", help="when (default: now)")
    p = cmd("exempt-subjects", _exempt, "record not telling the people affected (Art. 34(3))", [one])
    p.add_argument("--ground", required=True, choices=[str(g) for g in SubjectsGround])
    p.add_argument("--reason", required=True)
    p = cmd("close", _simple("close"), "close an incident whose decisions are complete", [one])
    p.add_argument("--note", default="")
    p.add_argument("--root-cause", required=True, help="why it happened")
    p.add_argument("--lessons-learned", required=True, help="what will change because of it")
    p = cmd("reopen", _simple("reopen"), "reopen on new evidence (forces a new assessment)", [one])
    p.add_argument("--reason", required=True)
    p = cmd("record-action", _simple("record_action"), "record a containment or prevention step", [one])
    p.add_argument("--text", required=True)
    p = cmd("split", _split, "move one alert into a new incident of its own", [one])
    p.add_argument("alert", metavar="ALERT_ID")
    p.add_argument("--reason", required=True)
    p = cmd("edit-ico", _edit_ico, "answer questions on the ICO report draft", [one])
    p.add_argument("--set", action="append", required=True, metavar="FIELD=VALUE",
                   help="one answer (repeat); lists comma-separated; counts a number or empty")  # fmt: skip
    p = cmd("export-ico", _export_ico, "the ICO report draft as JSON and as a readable document", [one])
    p.add_argument("--out", type=Path, help="folder for INCIDENT.ico-draft.json and .txt (default: print)")
    p.add_argument("--include-actions", action="store_true", help="copy recorded actions (free text) into it")
    p = cmd("register", _register, "the Art. 33(5) breach register as CSV", [common, by])
    p.add_argument("--out", type=Path, help="CSV file to write (default: print)")

    audit = sub.add_parser("audit", help="the hash-chained audit log").add_subparsers(dest="audit", required=True)
    p = audit.add_parser("verify", parents=[common], help="check every entry; exit 1 if anything was changed")
    p.add_argument("--checkpoint", action="append", type=Path, default=[], metavar="FILE",
                   help="a signed checkpoint the chain must still extend (repeat for several)")
    p.set_defaults(func=_runner(_audit_verify))
    p = audit.add_parser("checkpoint", parents=[common], help="write a signed checkpoint; keep it off this host")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the checkpoint")
    p.set_defaults(func=_runner(_audit_checkpoint))
    p = audit.add_parser("list", parents=[common], help="audit entries in order")
    p.add_argument("--incident", help="only entries about this incident")
    p.set_defaults(func=_runner(_audit_list))

    notify = sub.add_parser("notify", help="notification channels").add_subparsers(dest="notify", required=True)
    p = notify.add_parser("test", parents=[common], help="send a test notice on every configured channel")
    p.set_defaults(func=_runner(_notify_test))

    workflow = sub.add_parser("workflow", help="run the breach workflow's checks").add_subparsers(
        dest="workflow", required=True
    )
    p = workflow.add_parser("tick", parents=[common], help="catch up, check devices and deadlines, send notices")
    p.set_defaults(func=_runner(_tick))
    p = workflow.add_parser("sweep", parents=[common], help="handle breach-class events the workflow's cursor passed")
    p.set_defaults(func=_runner(_sweep))
    quarantine = workflow.add_parser("quarantine", help="events the workflow could not handle").add_subparsers(
        dest="quarantine", required=True
    )
    p = quarantine.add_parser("list", parents=[common], help="quarantined events with the reason, oldest first")
    p.set_defaults(func=_runner(_quarantine_list))
    p = quarantine.add_parser("retry", parents=[common], help="handle every quarantined event again")
    p.set_defaults(func=_runner(_quarantine_retry))


def add_device_commands(devices: Any, data_dir: argparse.ArgumentParser) -> None:
    """Register ``devices found`` (the end of a lost device's story) on the ``devices`` group."""
    p = devices.add_parser("found", parents=[data_dir, CONFIG, JSON, BY], help="a device reported lost is back with IT")
    p.add_argument("name")
    p.add_argument("--reason", required=True, help="how it was recovered")
    p.set_defaults(func=_runner(_device_found))


def _device_found(service: WorkflowService, args: argparse.Namespace) -> int:
    service.commands.device_found(args.name, by=actor(args), reason=args.reason)
    _print(args, {"device": args.name, "lost": False}, f"{args.name} is no longer marked lost")
    return 0


def _runner(handler: Handler) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        config = load_config(args.config)
        store = open_workflow_store(args.data_dir, args.database_url)
        try:
            return handler(workflow_service(store, config), args)
        finally:
            store.close()

    return run


# -- reading ----------------------------------------------------------------------------


def _print(args: argparse.Namespace, view: Any, text: str) -> None:
    print(json.dumps(view, sort_keys=True) if args.json else text)


def _list(service: WorkflowService, args: argparse.Namespace) -> int:
    now = service.clock()
    for record in service.store.list_incidents(args.state):
        view = incident_summary(record, now, service.policy.clock, service.policy.obligations)
        _print(args, view, summary_line(view))
    return 0


def _load(service: WorkflowService, incident_id: str) -> IncidentRecord:
    record = service.store.get_incident(incident_id)
    if record is None:
        raise UnknownIncident(incident_id)
    return record


def _show(service: WorkflowService, args: argparse.Namespace) -> int:
    view = incident_detail(
        _load(service, args.incident), service.clock(), service.policy.clock, service.policy.obligations
    )
    _print(args, view, detail_text(view))
    return 0


def _done(service: WorkflowService, args: argparse.Namespace, record: IncidentRecord) -> int:
    view = incident_summary(record, service.clock(), service.policy.clock, service.policy.obligations)
    _print(args, view, summary_line(view))
    return 0


# -- life-cycle steps -------------------------------------------------------------------


def _optional_moment(text: str | None) -> datetime | None:
    return None if text is None else moment(text)


def _confirm(service: WorkflowService, args: argparse.Namespace) -> int:
    record = service.commands.confirm(
        args.incident, by=actor(args), aware_at=moment(args.aware_at), reason=args.reason,
        justification=args.justification,
    )  # fmt: skip
    return _done(service, args, record)


def _correct_awareness(service: WorkflowService, args: argparse.Namespace) -> int:
    record = service.commands.correct_awareness(
        args.incident, by=actor(args), aware_at=moment(args.aware_at), reason=args.reason,
        justification=args.justification,
    )  # fmt: skip
    return _done(service, args, record)


def _tell(service: WorkflowService, args: argparse.Namespace) -> int:
    record = service.commands.record_notification(
        args.incident, by=actor(args), body=args.body, reference=args.reference,
        told_at=_optional_moment(args.told_at), note=args.note,
    )  # fmt: skip
    return _done(service, args, record)


def _task(service: WorkflowService, args: argparse.Namespace) -> int:
    record = service.commands.complete_task(args.incident, by=actor(args), task=args.task, note=args.note)
    return _done(service, args, record)


def _ico_outcome(service: WorkflowService, args: argparse.Namespace) -> int:
    record = service.commands.record_ico_outcome(args.incident, by=actor(args), outcome=args.outcome)
    return _done(service, args, record)


def _family_told(service: WorkflowService, args: argparse.Namespace) -> int:
    record = service.commands.record_family_told(
        args.incident, by=actor(args), label=args.label, how=args.how, told_at=_optional_moment(args.told_at)
    )
    return _done(service, args, record)


def _simple(step: str) -> Handler:
    """Steps whose only arguments are --reason, --note or --text."""

    def handler(service: WorkflowService, args: argparse.Namespace) -> int:
        c = service.commands
        steps: dict[str, Callable[[], IncidentRecord]] = {
            "dismiss": lambda: c.dismiss(args.incident, by=actor(args), reason=args.reason, near_miss=args.near_miss),
            "close": lambda: c.close(
                args.incident, by=actor(args), note=args.note, root_cause=args.root_cause,
                lessons_learned=args.lessons_learned,
            ),
            "reopen": lambda: c.reopen(args.incident, by=actor(args), reason=args.reason),
            "record_action": lambda: c.record_action(args.incident, by=actor(args), text=args.text),
        }
        return _done(service, args, steps[step]())

    return handler


def _assess(service: WorkflowService, args: argparse.Namespace) -> int:
    vulnerable = None if args.vulnerable is None else args.vulnerable == "yes"
    record = service.commands.assess(
        args.incident, by=actor(args), likelihood=args.likelihood, severity=args.severity, vulnerable=vulnerable,
        note=args.note,
    )  # fmt: skip
    return _done(service, args, record)


def _decide(service: WorkflowService, args: argparse.Namespace) -> int:
    record = service.commands.decide(args.incident, by=actor(args), reportable=args.reportable, reason=args.reason)
    return _done(service, args, record)


def _notify_ico(service: WorkflowService, args: argparse.Namespace) -> int:
    record = service.commands.notify_ico(
        args.incident, by=actor(args), follow_up=args.follow_up, submitted_at=_optional_moment(args.submitted_at),
        ico_case_reference=args.ico_reference, late_reasons=args.late_reasons, note=args.note,
    )  # fmt: skip
    return _done(service, args, record)


def _inform(service: WorkflowService, args: argparse.Namespace) -> int:
    record = service.commands.inform_subjects(
        args.incident, by=actor(args), how=args.how, informed_at=_optional_moment(args.informed_at)
    )
    return _done(service, args, record)


def _exempt(service: WorkflowService, args: argparse.Namespace) -> int:
    record = service.commands.exempt_subjects(
        args.incident, by=actor(args), ground=SubjectsGround(args.ground), reason=args.reason
    )
    return _done(service, args, record)


def _split(service: WorkflowService, args: argparse.Namespace) -> int:
    return _done(service, args, service.commands.split(args.incident, args.alert, by=actor(args), reason=args.reason))


# -- ICO draft and register -------------------------------------------------------------

_LIST_FIELDS = frozenset(f.name for f in dataclasses.fields(IcoReportDraft) if f.default == ())


def parse_answer(assignment: str) -> tuple[str, JsonValue]:
    """``FIELD=VALUE`` as (field, JSON value): lists split on commas, counts as numbers (empty: not known)."""
    name, sep, value = assignment.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--set {assignment!r}: write FIELD=VALUE")
    if name.startswith("approx_"):
        if value.strip() in ("", "not_known"):
            return name, None
        if not value.strip().isdigit():
            raise argparse.ArgumentTypeError(f"--set {name}: a whole number, or empty for not known")
        return name, int(value)
    if name in _LIST_FIELDS:
        return name, [v.strip() for v in value.split(",") if v.strip()]
    return name, value


def _edit_ico(service: WorkflowService, args: argparse.Namespace) -> int:
    changes = dict(parse_answer(a) for a in args.set)
    draft = service.exports.edit_ico_draft(args.incident, changes, by=actor(args))
    _print(args, json.loads(to_json(draft)), to_text(draft))
    return 0


def _export_ico(service: WorkflowService, args: argparse.Namespace) -> int:
    draft = service.exports.export_ico_draft(
        args.incident, by=actor(args), include_recorded_actions=args.include_actions
    )
    if args.out is None:
        print(to_json(draft) if args.json else to_text(draft))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": args.out / f"{draft.incident_id}.ico-draft.json",
        "text": args.out / f"{draft.incident_id}.ico-draft.txt",
    }
    paths["json"].write_text(to_json(draft) + "\n", encoding="utf-8")
    paths["text"].write_text(escape_controls(to_text(draft)), encoding="utf-8")
    _print(args, {k: str(v) for k, v in paths.items()}, f"wrote {paths['json']} and {paths['text']}")
    return 0


def _register(service: WorkflowService, args: argparse.Namespace) -> int:
    rows = service.exports.export_register(by=actor(args))
    if args.json and args.out is None:
        for row in rows:
            print(json.dumps(dataclasses.asdict(row), sort_keys=True))
        return 0
    buffer = io.StringIO(newline="")
    write_register_csv(rows, buffer)
    if args.out is None:
        sys.stdout.write(buffer.getvalue())
    else:
        args.out.write_text(buffer.getvalue(), encoding="utf-8", newline="")
        _print(args, {"csv": str(args.out), "incidents": len(rows)}, f"wrote {len(rows)} incident(s) to {args.out}")
    return 0


# -- audit and ticking ------------------------------------------------------------------


def _audit_verify(service: WorkflowService, args: argparse.Namespace) -> int:
    checkpoints = [read_checkpoint(PkiPaths.in_data_dir(args.data_dir), path) for path in args.checkpoint]
    count, problems = verify_audit(service.store)
    problems += checkpoint_problems(service.store, checkpoints)
    found = [{"index": p.index, "seq": p.seq, "kind": str(p.kind), "message": p.message} for p in problems]
    if args.json:
        print(json.dumps({"ok": not problems, "entries": count, "problems": found}, sort_keys=True))
    elif problems:
        for p in problems:
            print(f"entry {p.index} (seq {p.seq}): {p.kind}: {p.message}")
        print(f"audit log BROKEN: {len(problems)} problem(s) in {count} entries")
    else:
        print(f"audit log intact: {count} entries")
    return 1 if problems else 0


def _audit_checkpoint(service: WorkflowService, args: argparse.Namespace) -> int:
    checkpoint = write_checkpoint(service.store, PkiPaths.in_data_dir(args.data_dir), args.out, service.clock())
    view = {"out": str(args.out), "seq": checkpoint.seq, "hash": checkpoint.hash, "at": checkpoint.at.isoformat()}
    _print(args, view, f"checkpoint of audit entry {checkpoint.seq} written to {args.out}: keep a copy off this host")
    return 0


def _audit_list(service: WorkflowService, args: argparse.Namespace) -> int:
    for e in service.store.audit_entries():
        if args.incident and e.subject != args.incident:
            continue
        row = {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "subject": e.subject,
               "details": json.loads(e.details_json), "hash": e.hash}  # fmt: skip
        _print(args, row, f"{e.seq:6} {row['at']} {e.actor}: {e.action} {e.subject}")
    return 0


def _notify_test(service: WorkflowService, args: argparse.Namespace) -> int:
    outcome = service.dispatcher.send_test()
    if args.json:
        print(json.dumps({"channels": outcome, "ok": bool(outcome) and not any(outcome.values())}, sort_keys=True))
    for name, error in outcome.items():
        if not args.json:
            print(f"{name}: delivered" if error is None else f"{name}: NOT delivered: {error}")
    if not outcome:
        raise WorkflowError("no notification channel is configured: set [notify] email or webhook in collector.toml")
    failed = sorted(name for name, error in outcome.items() if error is not None)
    if failed:
        raise WorkflowError(f"the test notice was NOT delivered on {', '.join(failed)}")
    return 0


def _tick(service: WorkflowService, args: argparse.Namespace) -> int:
    report = service.tick()
    view = {
        "events": report.intake.events,
        "alerts": report.intake.alerts + report.signal_alerts,
        "warnings": report.warnings,
        "notices_delivered": report.dispatch.delivered,
        "notices_failed": report.dispatch.failed,
        "notices_unsent": report.dispatch.unsent,
    }
    _print(args, view, " ".join(f"{k}={v}" for k, v in view.items()))
    return 0


def _sweep(service: WorkflowService, args: argparse.Namespace) -> int:
    report = service.sweep()
    view = {"events": report.events, "alerts": report.alerts, "quarantined": report.quarantined}
    _print(args, view, " ".join(f"{k}={v}" for k, v in view.items()))
    return 0


def _quarantine_list(service: WorkflowService, args: argparse.Namespace) -> int:
    held = service.store.quarantined(limit=100_000)
    for q in held:
        view = {
            "row": q.row_id, "device": q.device, "event_id": q.event_id, "kind": q.kind,
            "reason": q.reason, "cause": q.cause,
            "first_attempt_at": iso_utc(from_us(q.first_attempt_at_us)),
            "last_attempt_at": iso_utc(from_us(q.last_attempt_at_us)),
            "attempts": q.attempts, "workflow_version": q.workflow_version,
        }  # fmt: skip
        text = (
            f"{q.device}  {q.event_id}  {q.kind}  attempts={q.attempts}  since {view['first_attempt_at']}"
            f"  (version {q.workflow_version}): {q.reason}"
        )
        _print(args, view, escape_controls(text))
    if not held and not args.json:
        print("no events are quarantined")
    return 0


def _quarantine_retry(service: WorkflowService, args: argparse.Namespace) -> int:
    report = service.retry_quarantine()
    view = {"retried": report.retried, "released": report.released, "still_quarantined": report.still_failing}
    _print(args, view, " ".join(f"{k}={v}" for k, v in view.items()))
    return 0
