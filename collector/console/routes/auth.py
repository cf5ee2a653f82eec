"""Signing in and out, the landing page, and changing one's own password.

Every password check (sign-in and the password change) is asked of the throttle first
(``collector.console.ratelimit``: per account from an address, per address and per account,
with waits that grow, counted in the store before the password is looked at). A refusal is a
429 with Retry-After, worded the same whether or not the account exists. Sign-in costs the
same whether or not the account exists, and its form carries a CSRF token of its own (a cookie made
with the form), so nobody can sign a browser in to someone else's account. A new
session is made at every sign-in. Sign-ins, sign-outs and failed attempts on real
accounts go to the audit log; nothing about them goes to the application log but counts.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from starlette.responses import RedirectResponse, Response

from collector.console.context import Ctx, home_for, page, safe_next
from collector.console.passwords import WeakPassword, check_new_password
from collector.console.ratelimit import retry_text
from collector.console.roles import Role
from collector.console.sessions import LOGIN_COOKIE, SESSION_COOKIE, cookie_options, new_token, tokens_match
from collector.workflow.times import to_us

log = logging.getLogger(__name__)

GENERIC_FAILURE = "The account name or password is not right."


def home(ctx: Ctx) -> Response:
    """``/``: the account's landing page."""
    return RedirectResponse(home_for(ctx.role), status_code=303)


def login_form(ctx: Ctx, status: int = 200, error: str = "", name: str = "") -> Response:
    """The sign-in page, with a fresh sign-in CSRF token in a cookie and in the form."""
    if ctx.user is not None and ctx.request.method == "GET":
        return RedirectResponse(home_for(ctx.role), status_code=303)
    token = new_token()
    ctx.cookies_to_set.append((LOGIN_COOKIE, token, cookie_options(max_age=3600)))
    next_path = safe_next(ctx.request.query_params.get("next", "") or ctx.field("next"), "")
    return ctx.render("login.html", status=status, login_token=token, error=error, name=name, next=next_path)


def login_page(ctx: Ctx) -> Response:
    """GET /login."""
    return login_form(ctx)


def login(ctx: Ctx) -> Response:
    """POST /login: check the form token, the rate limit and the password; start a session."""
    deps = ctx.deps
    name = ctx.field("name").strip()[:200]
    if not tokens_match(ctx.request.cookies.get(LOGIN_COOKIE), ctx.field("login_token")):
        log.warning("console sign-in refused: the form's token did not match")
        return login_form(ctx, 403, "The sign-in form had expired. Please try again.", name)
    address = ctx.client_address()
    wait = deps.throttle.attempt(name, address)
    if wait is not None:
        return _too_many(login_form(ctx, 429, _wait_text(wait), name), wait)
    user = deps.console.get_user(name) if name else None
    ok = deps.passwords.verify(user.password_hash if user else None, ctx.field("password"))
    if user is None or not ok or not user.active:
        deps.on_sign_in_failed()
        if user is not None:
            reason = "wrong password" if not ok else "account disabled"
            deps.audit.record("anonymous", "console.login_failed", user.name, {"reason": reason})
        log.info("console sign-in failed")
        return login_form(ctx, 401, GENERIC_FAILURE, name)
    deps.throttle.succeeded(name, address)
    if deps.passwords.needs_rehash(user.password_hash):
        deps.console.set_password_hash(user.name, deps.passwords.hash(ctx.field("password")))
    if ctx.session is not None:
        deps.sessions.end(ctx.session)  # a new session at every sign-in
    token, _session = deps.sessions.start(user.name)
    deps.console.record_login(user.name, to_us(deps.now()))
    deps.audit.record(user.name, "console.login", "console", {"role": user.role})
    log.info("console sign-in (role %s)", user.role)
    target = safe_next(ctx.field("next"), home_for(Role(user.role)))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, **cookie_options())
    response.delete_cookie(LOGIN_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def logout(ctx: Ctx) -> Response:
    """POST /logout: end the session."""
    if ctx.session is not None and ctx.user is not None:
        ctx.deps.sessions.end(ctx.session)
        ctx.deps.audit.record(ctx.user.name, "console.logout", "console", {})
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def account(ctx: Ctx, status: int = 200, error: str = "") -> Response:
    """GET /account: who you are, and a form to change your password."""
    return ctx.render("account.html", status=status, error=error)


def change_password(ctx: Ctx) -> Response:
    """POST /account/password: current password, then the new one twice; ends the account's other sessions."""
    deps, user, session = ctx.deps, ctx.user, ctx.session
    assert user is not None and session is not None
    address = ctx.client_address()
    wait = deps.throttle.attempt(user.name, address)
    if wait is not None:
        return _too_many(account(ctx, 429, _wait_text(wait)), wait)
    if not deps.passwords.verify(user.password_hash, ctx.field("current")):
        deps.on_sign_in_failed()
        deps.audit.record(user.name, "console.password_change_failed", user.name, {"reason": "wrong password"})
        return account(ctx, 422, "Your current password is not right.")
    deps.throttle.succeeded(user.name, address)
    new = ctx.field("new")
    if new != ctx.field("confirm"):
        return account(ctx, 422, "The two new passwords are not the same.")
    try:
        check_new_password(user.name, new, _organisation_words(ctx))
    except WeakPassword as exc:
        return account(ctx, 422, _sentence(str(exc)))
    ended = deps.console.replace_password(user.name, deps.passwords.hash(new), keep_session=session.token_hash)
    deps.audit.record(user.name, "console.password_change", user.name, {"sessions_ended": ended})
    signed_out = f" You were signed out of {ended} other session(s)." if ended else ""
    return ctx.redirect("/account", text="Your password has been changed." + signed_out)


def _organisation_words(ctx: Ctx) -> tuple[str, ...]:
    return tuple(ctx.deps.settings.organisation.split())


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _wait_text(wait: timedelta) -> str:
    return f"Too many failed attempts. Try again in {retry_text(wait)}."


def _too_many(response: Response, wait: timedelta) -> Response:
    """A 429 page that says, in a header too, when to try again."""
    response.headers["Retry-After"] = str(max(1, int(-(-wait.total_seconds() // 1))))
    return response


ROUTES = [
    page("/", home, needs=None),
    page("/login", login_page, needs=None, public=True),
    page("/login", login, needs=None, public=True, methods=("POST",)),
    page("/logout", logout, needs=None, methods=("POST",)),
    page("/account", account, needs=None),
    page("/account/password", change_password, needs=None, methods=("POST",)),
]
