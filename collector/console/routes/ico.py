"""The ICO report draft: every question of the ICO's form, prefilled, editable, exported as JSON or for print.

The page shows the workflow's draft (``build_ico_draft``: a fresh prefill with the stored
edits applied). Saving sends only the answers that differ from what the page showed, so
prefilled answers keep following the incident until someone changes them. Exports go
through ``Exports.export_ico_draft``, which records each one in the audit log.
"""

from __future__ import annotations

import argparse
import enum
import json
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.responses import Response

from collector.console.context import Ctx, page, refuse
from collector.console.presenters import local_input, london
from collector.console.roles import Permission
from collector.domain.canonical_json import JsonValue
from collector.domain.errors import DomainError
from collector.domain.ico_form import LABELS
from collector.domain.ico_report import FORM, IcoReportDraft, missing_answers, to_json
from collector.domain.instants import iso_utc
from collector.workflow.errors import UnknownIncident, WorkflowError
from collector.workflow.exports import build_ico_draft
from collector.workflow.moments import moment

_HINTS = typing.get_type_hints(IcoReportDraft)
_SHORT = frozenset({
    "ico_case_reference", "data_categories_other", "subject_categories_other", "organisation_name",
    "ico_registration_number", "reporter_name", "reporter_role", "reporter_email", "reporter_phone", "dpo_name",
    "dpo_email", "dpo_phone",
})  # fmt: skip


# Prompts shown under a question: what Caseguard cannot know and the officer must answer.
HINTS: dict[str, str] = {
    "approx_people": (
        "People, not documents: count each child, parent, carer or other person whose data is involved. "
        "Caseguard counts documents (the question above), never people."
    ),
    "data_categories": (
        "Children's social care files usually hold health data and often other special category data "
        "(racial or ethnic origin, religious beliefs, sex life or sexual orientation) or criminal offence data. "
        "Tick every category the files contain: Caseguard can only see identifiers, not what the files say."
    ),
    "report_reason": "Follows the decision recorded on the incident until you change it here.",
    "contact_name": "Leave empty if the ICO should contact you.",
}


@dataclass(frozen=True)
class Question:
    """One form question as the page draws it."""

    name: str
    text: str
    widget: str  # text, textarea, select, checkboxes, number, datetime
    options: tuple[tuple[str, str], ...] = ()
    optional_choice: bool = False


def _question(name: str, text: str) -> Question:
    hint = _HINTS[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if hint is str:
        return Question(name, text, "text" if name in _SHORT else "textarea")
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return Question(name, text, "select", _options(hint))
    if typing.get_origin(hint) is tuple:
        return Question(name, text, "checkboxes", _options(typing.get_args(hint)[0]))
    if args == [int]:
        return Question(name, text, "number")
    if args == [datetime]:
        return Question(name, text, "datetime")
    if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], enum.Enum):
        return Question(name, text, "select", _options(args[0]), optional_choice=True)
    raise TypeError(f"no widget for ICO field {name}: {hint!r}")  # pragma: no cover - FORM is fixed


def _options(kind: type[enum.Enum]) -> tuple[tuple[str, str], ...]:
    return tuple((str(m.value), LABELS.get(m, str(m.value))) for m in kind)


SECTIONS: tuple[tuple[str, str, tuple[Question, ...]], ...] = tuple(
    (key, title, tuple(_question(name, text) for name, text in fields)) for key, title, fields in FORM
)
_QUESTIONS = {q.name: q for _, _, qs in SECTIONS for q in qs}


def current_answers(draft: IcoReportDraft) -> dict[str, JsonValue]:
    """The draft's answers as JSON values (the form's starting point)."""
    document = json.loads(to_json(draft))
    return {name: value for section in document["sections"].values() for name, value in section.items()}


def submitted_answer(q: Question, ctx: Ctx) -> JsonValue:
    """One answer from the form as a JSON value (raises ValueError or ArgumentTypeError on bad input)."""
    if q.widget == "checkboxes":
        chosen = set(ctx.fields(q.name))
        return [value for value, _ in q.options if value in chosen]
    text = ctx.field(q.name).replace("\r\n", "\n")
    if q.widget == "number":
        if not text.strip():
            return None
        if not text.strip().isdigit():
            raise ValueError(f"{q.text} needs a whole number, or leave it empty for not known")
        return int(text.strip())
    if q.widget == "datetime":
        return iso_utc(moment(text)) if text.strip() else None
    if q.widget == "select" and q.optional_choice and not text:
        return None
    return text


def changed_answers(ctx: Ctx, before: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """The answers that differ from what the page showed."""
    changes: dict[str, JsonValue] = {}
    groups = set(ctx.fields("present"))  # checkbox groups on the form (an unticked box sends nothing)
    for name, q in _QUESTIONS.items():
        sent = name in groups if q.widget == "checkboxes" else ctx.form is not None and name in ctx.form
        if not sent:
            continue  # not on the form that was sent: leave it
        value = submitted_answer(q, ctx)
        old = before.get(name)
        if isinstance(value, list) and isinstance(old, list):
            same = sorted(map(str, value)) == sorted(map(str, old))
        else:
            same = value == old
        if not same:
            changes[name] = value
    return changes


def _display(value: Any, q: Question) -> str:
    if value is None or value == "" or value == []:
        return "(not answered yet)"
    labels = dict(q.options)
    if isinstance(value, list):
        return "; ".join(labels.get(str(v), str(v)) for v in value)
    if q.widget == "datetime":
        return london(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    return labels.get(str(value), str(value))


def draft_page(ctx: Ctx, status: int = 200, error: str = "", values: dict[str, JsonValue] | None = None) -> Response:
    """GET /incidents/{id}/ico: the draft as a form (officers) or as answers (auditors)."""
    deps = ctx.deps
    record = deps.workflow.store.get_incident(ctx.param("incident_id"))
    if record is None:
        return refuse(ctx.request, deps, 404, "There is no incident with that reference.", ctx)
    draft = build_ico_draft(deps.workflow.store, record, deps.org, deps.now())
    answers = current_answers(draft)
    if values:
        answers.update(values)
    return ctx.render(
        "ico.html", status=status, record=record, draft=draft, sections=SECTIONS, answers=answers,
        missing=set(missing_answers(draft)), error=error, editable=ctx.can(Permission.ACT_ON_INCIDENTS),
        display=_display, london=london, local=_local_value, hints=HINTS,
        edited=set(deps.workflow.store.ico_edits(record.incident_id)),
    )  # fmt: skip


def _local_value(value: JsonValue) -> str:
    if not isinstance(value, str) or not value:
        return ""
    return local_input(datetime.fromisoformat(value.replace("Z", "+00:00")))


def save(ctx: Ctx) -> Response:
    """POST /incidents/{id}/ico: keep the changed answers."""
    deps = ctx.deps
    incident_id = ctx.param("incident_id")
    record = deps.workflow.store.get_incident(incident_id)
    if record is None:
        return refuse(ctx.request, deps, 404, "There is no incident with that reference.", ctx)
    before = current_answers(build_ico_draft(deps.workflow.store, record, deps.org, deps.now()))
    try:
        changes = changed_answers(ctx, before)
        if changes:
            deps.workflow.exports.edit_ico_draft(incident_id, changes, by=ctx.name)
    except (DomainError, WorkflowError, ValueError, argparse.ArgumentTypeError) as exc:
        return draft_page(ctx, 422, str(exc))
    text = f"Saved {len(changes)} answer(s)." if changes else "Nothing had changed."
    return ctx.redirect(f"/incidents/{incident_id}/ico", text=text)


def _export(ctx: Ctx) -> IcoReportDraft | None:
    try:
        return ctx.deps.workflow.exports.export_ico_draft(
            ctx.param("incident_id"),
            by=ctx.name,
            include_recorded_actions=ctx.request.query_params.get("actions") == "1",
        )
    except UnknownIncident:
        return None


def export_json(ctx: Ctx) -> Response:
    """GET /incidents/{id}/ico.json: the draft as JSON, as a download (audited)."""
    draft = _export(ctx)
    if draft is None:
        return refuse(ctx.request, ctx.deps, 404, "There is no incident with that reference.", ctx)
    disposition = f'attachment; filename="{draft.incident_id}.ico-draft.json"'
    return Response(to_json(draft) + "\n", media_type="application/json", headers={"Content-Disposition": disposition})


def printable(ctx: Ctx) -> Response:
    """GET /incidents/{id}/ico/print: the draft as a printable page (audited)."""
    draft = _export(ctx)
    if draft is None:
        return refuse(ctx.request, ctx.deps, 404, "There is no incident with that reference.", ctx)
    return ctx.render(
        "ico_print.html", draft=draft, sections=SECTIONS, answers=current_answers(draft),
        missing=missing_answers(draft), display=_display, london=london,
    )  # fmt: skip


ROUTES = [
    page("/incidents/{incident_id}/ico", draft_page, needs=Permission.VIEW_INCIDENTS),
    page("/incidents/{incident_id}/ico", save, needs=Permission.ACT_ON_INCIDENTS, methods=("POST",)),
    page("/incidents/{incident_id}/ico.json", export_json, needs=Permission.EXPORT),
    page("/incidents/{incident_id}/ico/print", printable, needs=Permission.EXPORT),
]
