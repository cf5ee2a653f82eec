"""The request wrapper every console route goes through.

``page(path, handler, needs=...)`` makes a Starlette route whose handler is a plain
function of a ``Ctx``, run in a worker thread (the stores are synchronous). Before the
handler runs, on the server, for every request:

1. the session is read from its cookie (expired or disabled: none);
2. no session: a GET goes to the sign-in page, anything else is refused (403);
3. the account's role must have the route's permission, else 403;
4. a POST must carry the session's CSRF token, and its Origin (or Referer) must be the console's
   own (``collector.console.origin``), else 403;
5. bodies over ``max_body_bytes`` are refused (413) before they are parsed.

Errors a person can fix (domain rules, workflow refusals) are the handlers' to show;
anything else becomes a plain error page, never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from collector.console.audit import ConsoleAudit
from collector.console.origin import cross_origin_reason
from collector.console.passwords import Passwords
from collector.console.ratelimit import LoginThrottle
from collector.console.roles import HOME, PERMISSIONS, Permission, Role, allows
from collector.console.sessions import CSRF_FIELD, SESSION_COOKIE, Sessions, tokens_match
from collector.domain.ico_prefill import OrgProfile
from collector.store.base import Store
from collector.store.console_base import ConsoleSession, ConsoleStore, ConsoleUser
from collector.store.group_commit import GroupCommitWriter
from collector.workflow.service import NO_ORGANISATION, WorkflowService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsoleSettings:
    """Console behaviour that is not the workflow's.

    ``forwarded_for`` trusts the last X-Forwarded-For address for rate limiting; only set
    it when a reverse proxy on this host is the only client (``--console-plain-http``).
    """

    organisation: str = ""
    forwarded_for: bool = False
    max_body_bytes: int = 256 * 1024


@dataclass
class ConsoleDeps:
    """Everything the routes use: the collector's stores and workflow, and the console's own parts."""

    events: Store
    workflow: WorkflowService
    console: ConsoleStore
    writer: GroupCommitWriter | None
    passwords: Passwords
    throttle: LoginThrottle
    sessions: Sessions
    templates: Jinja2Templates
    org: OrgProfile = NO_ORGANISATION
    settings: ConsoleSettings = field(default_factory=ConsoleSettings)
    on_sign_in_failed: Callable[[], None] = lambda: None  # the metrics' counter of wrong passwords

    @property
    def audit(self) -> ConsoleAudit:
        """Console entries in the workflow's audit chain."""
        return ConsoleAudit(self.workflow)

    def now(self) -> datetime:
        """The workflow's clock (so tests that move it move the console too)."""
        return self.workflow.clock()


@dataclass
class Ctx:
    """One request as a handler sees it."""

    request: Request
    deps: ConsoleDeps
    form: FormData | None = None
    session: ConsoleSession | None = None
    user: ConsoleUser | None = None
    flash: dict[str, str] | None = None
    cookies_to_set: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def role(self) -> Role | None:
        """The signed-in account's role."""
        return None if self.user is None else Role(self.user.role)

    @property
    def name(self) -> str:
        """The signed-in account's name (the actor in the audit log)."""
        if self.user is None:  # pragma: no cover - handlers that need it require a session
            raise HTTPException(403)
        return self.user.name

    def can(self, permission: Permission) -> bool:
        """True when the signed-in account may do ``permission``."""
        return self.role is not None and allows(self.role, permission)

    def param(self, name: str) -> str:
        """A path parameter."""
        return str(self.request.path_params[name])

    def field(self, name: str, default: str = "") -> str:
        """A form field as text ("" when absent)."""
        if self.form is None:
            return default
        value = self.form.get(name, default)
        return value if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        """Every value of a repeated form field (checkboxes)."""
        if self.form is None:
            return []
        return [v for v in self.form.getlist(name) if isinstance(v, str)]

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        """A page, with what every page needs (account, navigation, CSRF token, flash)."""
        base = {
            "user": self.user,
            "role": self.role,
            "can": self.can,
            "csrf_field": CSRF_FIELD,
            "csrf_token": self.session.csrf_token if self.session else "",
            "flash": self.flash,
            "organisation": self.deps.settings.organisation,
            "path": self.request.url.path,
            "P": Permission,
            "notify_channels": self.deps.workflow.notify_channels,
        }
        response = self.deps.templates.TemplateResponse(self.request, template, {**base, **context}, status_code=status)
        for name, value, options in self.cookies_to_set:
            response.set_cookie(name, value, **options)
        return response

    def redirect(self, url: str, *, level: str = "", text: str = "", **extra: str) -> Response:
        """303 See Other to ``url``, leaving a message for the next page when ``text`` is given."""
        if text and self.session is not None:
            self.deps.sessions.flash(self.session, level or "success", text, **extra)
        return RedirectResponse(url, status_code=303)

    def client_address(self) -> str:
        """The client's address for rate limiting (the proxy's view when trusted); never logged."""
        if self.deps.settings.forwarded_for:
            forwarded = self.request.headers.get("x-forwarded-for", "")
            if forwarded.strip():
                return forwarded.split(",")[-1].strip()
        return self.request.client.host if self.request.client else "unknown"


Handler = Callable[[Ctx], Response]


def page(
    path: str,
    handler: Handler,
    *,
    needs: Permission | None,
    methods: tuple[str, ...] = ("GET",),
    public: bool = False,
) -> Route:
    """A route for ``handler``; ``needs`` is the permission (None: any signed-in account; ``public``: anyone)."""

    async def endpoint(request: Request) -> Response:
        deps: ConsoleDeps = request.app.state.deps
        form = None
        if request.method == "POST":
            reason = cross_origin_reason(request.headers, request.url.scheme)
            if reason is not None:
                log.warning("console: POST %s refused: %s", _route_of(request), reason)
                message = "This form was sent from another site. Forms are only accepted from the console."
                return await run_in_threadpool(refuse, request, deps, 403, message)
            try:
                length = int(request.headers.get("content-length", "0"))
            except ValueError:
                length = 0
            if length > deps.settings.max_body_bytes:
                return await run_in_threadpool(refuse, request, deps, 413, "That form is too large.")
            form = await request.form(max_files=0, max_fields=400)
        return await run_in_threadpool(_run, request, deps, form, handler, needs, public)

    return Route(path, endpoint, methods=list(methods), name=handler.__name__)


def _run(
    request: Request,
    deps: ConsoleDeps,
    form: FormData | None,
    handler: Handler,
    needs: Permission | None,
    public: bool,
) -> Response:
    ctx = Ctx(request, deps, form)
    ctx.session = deps.sessions.find(request.cookies.get(SESSION_COOKIE))
    if ctx.session is not None:
        user = deps.console.get_user(ctx.session.user_name)
        if user is None or not user.active or user.role not in {r.value for r in PERMISSIONS}:
            deps.sessions.end(ctx.session)
            ctx.session = None
        else:
            ctx.user = user
    if not public:
        if ctx.user is None:
            if request.method == "GET":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            return refuse(request, deps, 403, "Your session has ended. Sign in again.")
        if needs is not None and not ctx.can(needs):
            log.info("console: %s %s refused for role %s", request.method, _route_of(request), ctx.role)
            return refuse(request, deps, 403, "Your account does not have access to this page.", ctx)
        if request.method == "POST" and not tokens_match(
            ctx.session.csrf_token if ctx.session else None, ctx.field(CSRF_FIELD)
        ):
            log.warning("console: %s %s refused: missing or wrong CSRF token", request.method, _route_of(request))
            return refuse(request, deps, 403, "This form was not sent from the console page (or has expired).", ctx)
    if ctx.session is not None and request.method == "GET":
        ctx.flash = deps.sessions.pop_flash(ctx.session)
    return handler(ctx)


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", "?"))


def refuse(request: Request, deps: ConsoleDeps, status: int, message: str, ctx: Ctx | None = None) -> Response:
    """A plain error page with ``status``."""
    ctx = ctx or Ctx(request, deps)
    titles = {
        403: "Not allowed",
        404: "Not found",
        409: "Not possible",
        413: "Too large",
        429: "Too many attempts",
        503: "Unavailable",
    }
    return ctx.render("error.html", status=status, title=titles.get(status, "Error"), message=message)


def home_for(role: Role | None) -> str:
    """Where an account lands after signing in."""
    return "/login" if role is None else HOME[role]


def safe_next(target: str, fallback: str) -> str:
    """A local path to go back to after signing in; anything else gives ``fallback``."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and "\n" not in target and len(target) < 500:
        return target
    return fallback


def form_values(ctx: Ctx) -> dict[str, str]:
    """The submitted form as plain text values (to refill a form after an error)."""
    if ctx.form is None:
        return {}
    return {k: v for k, v in ctx.form.items() if isinstance(v, str) and k != CSRF_FIELD}
