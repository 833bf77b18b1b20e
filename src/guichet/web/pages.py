"""The portal's pages: sign in (password, then TOTP), home, own account, accounts, audit verification."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Form, Query
from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from guichet.accounts import services as accounts
from guichet.custodian import audit_trail
from guichet.errors import GuichetError
from guichet.governance import ROLES, Actor, Resource, authorize
from guichet.web import services as web
from guichet.web.context import LANG_COOKIE, PENDING_COOKIE, SESSION_COOKIE, WebContext, session_cookie
from guichet.web.errors import WebError
from guichet.web.login import PUBLIC as PUBLIC_ACTOR
from guichet.web.login import LoginPolicy, recent_attempts, utcnow
from guichet.web.pages_base import render
from guichet.web.routing import MAX_INT, PUBLIC, Ctx, GuardedRouter, own_account
from guichet.web.security import safe_next
from guichet.web.settings import LOCALES
from guichet.web.site import HomePanel, Panel, visible_panels

router = GuardedRouter()
log = logging.getLogger(__name__)
PENDING_SECONDS = 300  # time allowed between the password and the code
LANG_MAX_AGE = 365 * 24 * 3600


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _client(ctx: WebContext) -> str:
    address = ctx.request.client.host if ctx.request.client else "unknown"
    return ctx.state.keys.client_hash(address)


def _throttled(ctx: WebContext) -> bool:
    s = ctx.state.settings
    return recent_attempts(ctx.hub, _client(ctx), s.rate_limit_minutes) >= s.rate_limit_attempts


def _too_many(ctx: WebContext) -> WebError:
    minutes = ctx.state.settings.rate_limit_minutes
    return WebError(429, "too_many_attempts", f"too many sign-in attempts from this address; wait {minutes} minutes",
                    minutes=minutes)


# --- sign in ------------------------------------------------------------------------------------------

@router.page("/login", permission=PUBLIC, summary="Sign-in form (password step)")
def login_form(ctx: Ctx, next: str = "/") -> Response:
    if ctx.actor is not None:
        return _see_other(safe_next(next))
    return render(ctx, "login.html", next=safe_next(next))


def _pending(ctx: WebContext) -> dict[str, object] | None:
    payload = ctx.state.keys.unsign("pending", ctx.request.cookies.get(PENDING_COOKIE))
    if payload is None or not isinstance(payload.get("u"), str) or not isinstance(payload.get("t"), int):
        return None
    if not 0 <= utcnow().timestamp() - payload["t"] <= PENDING_SECONDS:
        return None
    return payload


@router.page("/login", permission=PUBLIC, methods=("POST",), summary="Check the password, then ask for the code",
             responses={303: {"description": "password accepted: go to /login/totp"}})
def login_submit(ctx: Ctx, username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=1024)],
                 next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    target = safe_next(next)
    if _throttled(ctx):
        raise _too_many(ctx)
    policy = LoginPolicy.from_settings(ctx.state.settings)
    result = web.check_password(ctx.hub, PUBLIC_ACTOR, username=username.strip().lower(), password=password,
                                client=_client(ctx), policy=policy)
    if result.status == "ok" and result.username:
        pending = ctx.state.keys.sign("pending", {"u": result.username, "t": int(utcnow().timestamp()), "n": target})
        ctx.set_cookie(PENDING_COOKIE, pending, max_age=PENDING_SECONDS)
        return _see_other("/login/totp")
    key = "login.no_second_factor" if result.status == "no_second_factor" else "login.refused"
    return render(ctx, "login.html", status=401, next=target, error=ctx.t(key), username=username)


@router.page("/login/totp", permission=PUBLIC, summary="Second-factor form (TOTP code)")
def totp_form(ctx: Ctx) -> Response:
    if _pending(ctx) is None:
        return _see_other("/login")
    return render(ctx, "totp.html")


@router.page("/login/totp", permission=PUBLIC, methods=("POST",), summary="Check the TOTP code and open a session",
             responses={303: {"description": "signed in: go to the page asked for"}})
def totp_submit(ctx: Ctx, code: Annotated[str, Form(max_length=16)]) -> Response:
    pending = _pending(ctx)
    if pending is None:
        ctx.clear_cookie(PENDING_COOKIE)
        return render(ctx, "login.html", status=401, next="/", error=ctx.t("login.expired"))
    if _throttled(ctx):
        raise _too_many(ctx)
    policy = LoginPolicy.from_settings(ctx.state.settings)
    result = web.check_second_factor(ctx.hub, PUBLIC_ACTOR, username=str(pending["u"]), code=code,
                                     client=_client(ctx), policy=policy)
    if result.status == "ok" and result.session_secret:
        ctx.clear_cookie(PENDING_COOKIE)
        ctx.set_cookie(SESSION_COOKIE, session_cookie(ctx.state, result.session_secret, utcnow()))
        if result.locale:
            ctx.set_cookie(LANG_COOKIE, result.locale, max_age=LANG_MAX_AGE)
        return _see_other(safe_next(str(pending.get("n") or "/")))
    if result.status == "locked":
        ctx.clear_cookie(PENDING_COOKIE)
        return render(ctx, "login.html", status=401, next="/", error=ctx.t("login.refused"))
    return render(ctx, "totp.html", status=401, error=ctx.t("login.wrong_code"))


@router.page("/logout", permission="web.logout", methods=("POST",), resource=own_account, summary="Sign out",
             responses={303: {"description": "signed out: go to /login"}})
def logout(ctx: Ctx) -> Response:
    if ctx.actor is not None and ctx.session_secret is not None:
        web.sign_out(ctx.hub, ctx.actor, username=ctx.actor.username, session_secret=ctx.session_secret)
    ctx.clear_cookie(SESSION_COOKIE)
    return _see_other("/login")


# --- language -----------------------------------------------------------------------------------------

@router.page("/language", permission=PUBLIC, methods=("POST",), summary="Choose the interface language",
             responses={303: {"description": "back to the page"}})
def language(ctx: Ctx, locale: Annotated[str, Form(max_length=8)], next: Annotated[str, Form(max_length=2000)] = "/"
             ) -> Response:
    if locale not in LOCALES:
        raise WebError(400, "bad_request", f"language: one of {', '.join(LOCALES)}", "error.language")
    if ctx.actor is not None and ctx.via == "session":
        web.set_locale(ctx.hub, ctx.actor, username=ctx.actor.username, locale=locale)
    ctx.set_cookie(LANG_COOKIE, locale, max_age=LANG_MAX_AGE)
    return _see_other(safe_next(next))


# --- pages of signed-in people ------------------------------------------------------------------------

@router.page("/", permission="web.home", nav="nav.home", nav_order=0,
             summary="Home: what each of your roles does here, and what waits for you")
async def home(ctx: Ctx) -> HTMLResponse:
    assert ctx.actor is not None
    roles = [r for r in ROLES if r in ctx.actor.roles]
    wanted = visible_panels(ctx.state.site, ctx.actor)
    # Roles with nothing to wait for (researchers today) keep a page rendered on the event loop, no thread hop.
    panels = await run_in_threadpool(_panels, ctx, wanted) if wanted else []
    return render(ctx, "home.html", roles=roles, today=utcnow(), panels=panels)


def _panels(ctx: WebContext, wanted: list[HomePanel]) -> list[Panel]:
    out = []
    for p in wanted:
        try:
            panel = p.fn(ctx)
        except GuichetError as exc:  # one panel that cannot be read must not hide the home page
            log.warning("home panel %s: %s", p.fn.__name__, type(exc).__name__)
            continue
        if panel is not None:
            out.append(panel)
    return out


@router.home_panel(permission="web.lockouts", order=90)
def locked_panel(ctx: WebContext) -> Panel | None:
    """Accounts locked after failed sign-ins (an operator may unlock them on the accounts page)."""
    assert ctx.actor is not None
    locks = web.lockouts(ctx.hub, ctx.actor)
    items = [{"label": name, "detail": ctx.t("accounts.locked_until", date=ctx.t.datetime(lock.locked_until)),
              "href": "/accounts"} for name, lock in sorted(locks.items()) if lock.locked_until is not None]
    return Panel("panel.locked", items, "/accounts", "panel.locked.none", 90)


@router.page("/account", permission="user.show", resource=own_account, nav="nav.account", nav_order=90,
             summary="Your account and your language")
def account(ctx: Ctx, done: str | None = None, ended: Annotated[int, Query(ge=0, le=MAX_INT)] = 0) -> HTMLResponse:
    assert ctx.actor is not None
    info = accounts.show_user(ctx.hub, ctx.actor, username=ctx.actor.username)
    return render(ctx, "account.html", info=info, done=done if done in ("password", "totp") else None,
                  ended=max(ended, 0))


@router.page("/accounts", permission="user.list", nav="nav.accounts", nav_order=20,
             summary="Accounts, their roles and locks (operators, auditors)")
def accounts_page(ctx: Ctx, unlocked: str | None = None, changed: str | None = None) -> HTMLResponse:
    assert ctx.actor is not None
    users = accounts.list_users(ctx.hub, ctx.actor)
    locks = web.lockouts(ctx.hub, ctx.actor)
    can_unlock = bool(authorize(ctx.actor, "user.unlock"))
    can_disable = bool(authorize(ctx.actor, "user.disable"))
    names = {u.username for u in users}
    return render(ctx, "accounts.html", users=users, locks=locks, can_unlock=can_unlock, can_disable=can_disable,
                  unlocked=unlocked if unlocked in names else None,
                  changed=next((u for u in users if u.username == changed), None))


@router.page("/accounts/{username}/unlock", permission="user.unlock", methods=("POST",),
             summary="Unlock an account locked after failed sign-ins",
             responses={303: {"description": "back to the accounts"}})
def unlock(ctx: Ctx, username: str) -> Response:
    assert ctx.actor is not None
    info = accounts.unlock_user(ctx.hub, ctx.actor, username=username)
    return _see_other(f"/accounts?unlocked={info.username}")


def _named_user(request: Request, _actor: Actor) -> Resource:
    username = request.path_params.get("username", "")
    return Resource("user", username, owner=username)


@router.page("/accounts/{username}/disable", permission="user.disable", methods=("POST",), resource=_named_user,
             summary="Disable an account (its tokens are revoked, its sessions end at once on this worker)",
             responses={303: {"description": "back to the accounts"}})
def disable(ctx: Ctx, username: str) -> Response:
    assert ctx.actor is not None
    info = accounts.disable_user(ctx.hub, ctx.actor, username=username, reason="disabled in the portal")
    return _see_other(f"/accounts?changed={info.username}")


@router.page("/accounts/{username}/enable", permission="user.enable", methods=("POST",),
             summary="Enable a disabled account again", responses={303: {"description": "back to the accounts"}})
def enable(ctx: Ctx, username: str) -> Response:
    assert ctx.actor is not None
    info = accounts.enable_user(ctx.hub, ctx.actor, username=username)
    return _see_other(f"/accounts?changed={info.username}")


@router.page("/audit", permission="audit.verify", nav="nav.audit", nav_order=30,
             summary="Verify the audit chain (operators, auditors)")
async def audit_page(ctx: Ctx) -> HTMLResponse:
    assert ctx.actor is not None
    actor = ctx.actor
    report = await run_in_threadpool(lambda: audit_trail.verify_with_checkpoint(ctx.hub, actor))
    return render(ctx, "audit.html", report=report)


