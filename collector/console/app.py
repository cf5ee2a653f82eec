"""Building the console application: routes, templates, static files, security headers, error pages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.console.body_limit import BodyLimit
from collector.console.context import ConsoleDeps, ConsoleSettings, refuse
from collector.console.passwords import Passwords
from collector.console.ratelimit import LoginThrottle
from collector.console.routes import all_routes
from collector.console.sessions import SessionPolicy, Sessions
from collector.domain.ico_prefill import OrgProfile
from collector.domain.sign_in_throttle import ThrottlePolicy
from collector.store.base import Store
from collector.store.console_base import ConsoleStore
from collector.store.group_commit import GroupCommitWriter
from collector.workflow.service import NO_ORGANISATION, WorkflowService

log = logging.getLogger(__name__)

HERE = Path(__file__).parent

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Strict-Transport-Security": "max-age=31536000",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def make_templates() -> Jinja2Templates:
    """The page templates (autoescaped; undefined names are errors, not blanks)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=env)


class SecurityHeaders:
    """Adds the security headers to every response; pages and downloads are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                cache = b"public, max-age=3600" if static else b"no-store"
                headers.append((b"cache-control", cache))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build_app(deps: ConsoleDeps) -> Starlette:
    """The console as an ASGI application over ``deps``."""

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        messages = {404: "There is no such page.", 405: "That page does not take that kind of request."}
        return refuse(request, deps, status, messages.get(status, "Something went wrong."))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("console error on %s: %s", request.url.path, type(exc).__name__, exc_info=exc)
        return refuse(request, deps, 500, "Something went wrong. The error has been logged; try again.")

    handlers: dict[int | type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
        HTTPException: http_error,
        Exception: server_error,
    }
    app = Starlette(
        routes=[*all_routes(), Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static")],
        middleware=[Middleware(SecurityHeaders), Middleware(BodyLimit, max_bytes=deps.settings.max_body_bytes)],
        exception_handlers=handlers,
    )
    app.state.deps = deps
    return app


def build_deps(
    events: Store,
    workflow: WorkflowService,
    console: ConsoleStore,
    writer: GroupCommitWriter | None,
    *,
    org: OrgProfile = NO_ORGANISATION,
    settings: ConsoleSettings | None = None,
    passwords: Passwords | None = None,
    throttle: ThrottlePolicy | None = None,
    session_policy: SessionPolicy | None = None,
    on_sign_in_failed: Callable[[], None] = lambda: None,
    on_throttled: Callable[[], None] = lambda: None,
) -> ConsoleDeps:
    """The console's parts over the collector's stores, all on the workflow's clock."""
    return ConsoleDeps(
        events=events,
        workflow=workflow,
        console=console,
        writer=writer,
        passwords=passwords or Passwords(),
        throttle=LoginThrottle(console, throttle or ThrottlePolicy(), workflow.clock, on_throttled),
        on_sign_in_failed=on_sign_in_failed,
        sessions=Sessions(console, session_policy or SessionPolicy(), workflow.clock),
        templates=make_templates(),
        org=org,
        settings=settings or ConsoleSettings(),
    )
