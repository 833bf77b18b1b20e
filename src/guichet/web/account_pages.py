"""Self-service pages of a signed-in person: change one's password, replace one's second factor (TOTP),
see one's open sessions and sign out of the others or of all of them.

Each change goes through a ``web.services`` service (permission ``self``, audited). The new TOTP secret
waits between the page that shows it and the form that confirms it in a cookie that is sealed with the
hub's secret (unreadable in the browser), signed, bound to the session and valid 10 minutes; the account
keeps its old factor until a code of the new one is typed.
"""

from __future__ import annotations

from typing import Annotated

import pyotp
import segno
from fastapi import Form
from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response

from guichet.accounts.services import MIN_PASSWORD
from guichet.errors import BadInput
from guichet.governance import Actor
from guichet.web import services as web
from guichet.web.context import SESSION_COOKIE, WebContext
from guichet.web.errors import WebError
from guichet.web.login import MAX_PASSWORD, LoginPolicy, utcnow
from guichet.web.pages_base import render
from guichet.web.routing import Ctx, GuardedRouter, OptionalNumber, own_account
from guichet.web.security import session_id

router = GuardedRouter()
TOTP_NEW_COOKIE = "guichet_totp_new"
TOTP_NEW_SECONDS = 600  # time allowed to set up the new authenticator app
ISSUER = "Guichet"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _session_only(ctx: WebContext) -> tuple[Actor, str]:
    """The signed-in person and the session's secret; these pages are for people, not API tokens."""
    if ctx.actor is None or ctx.session_secret is None:
        raise WebError(403, "forbidden", "these pages need a signed-in session, not an API token",
                       "error.session_only")
    return ctx.actor, ctx.session_secret


def _signed_out(ctx: WebContext) -> Response:
    """The account was locked by wrong proofs: its sessions have ended, this one too."""
    ctx.clear_cookie(SESSION_COOKIE)
    ctx.clear_cookie(TOTP_NEW_COOKIE)
    return render(ctx, "login.html", status=401, next="/account", error=ctx.t("self.locked"))


# --- password -----------------------------------------------------------------------------------------

@router.page("/account/password", permission="web.password", resource=own_account,
             summary="Form to change your password")
def password_form(ctx: Ctx) -> HTMLResponse:
    _session_only(ctx)
    return render(ctx, "account_password.html", min_length=MIN_PASSWORD)


@router.page("/account/password", permission="web.password", methods=("POST",), resource=own_account,
             summary="Change your password (the current one required); your other sessions end",
             responses={303: {"description": "changed: back to your account"}})
def password_submit(ctx: Ctx, current_password: Annotated[str, Form(max_length=MAX_PASSWORD)],
                    new_password: Annotated[str, Form(max_length=MAX_PASSWORD)],
                    confirm_password: Annotated[str, Form(max_length=MAX_PASSWORD)]) -> Response:
    actor, secret = _session_only(ctx)
    username = actor.username

    def again(key: str, status: int, **values: object) -> HTMLResponse:
        return render(ctx, "account_password.html", status=status, min_length=MIN_PASSWORD,
                      error=ctx.t(key, **values))

    if new_password != confirm_password:
        return again("self.password.mismatch", 400)
    try:
        result = web.change_password(ctx.hub, actor, username=username, current_password=current_password,
                                     new_password=new_password, session_secret=secret,
                                     policy=LoginPolicy.from_settings(ctx.state.settings))
    except BadInput:
        return again("self.password.rules", 400, min=MIN_PASSWORD)
    if result.status == "locked":
        return _signed_out(ctx)
    if result.status != "ok":
        return again("self.password.wrong", 401)
    return _see_other(f"/account?done=password&ended={result.sessions_ended}")


# --- second factor ------------------------------------------------------------------------------------

def _pending_secret(ctx: WebContext, secret: str) -> str | None:
    payload = ctx.state.keys.unsign("totp-new", ctx.request.cookies.get(TOTP_NEW_COOKIE))
    if payload is None or payload.get("b") != session_id(secret)[:32] or not isinstance(payload.get("s"), str):
        return None
    age = utcnow().timestamp() - payload.get("t", 0) if isinstance(payload.get("t"), int) else -1
    if not 0 <= age <= TOTP_NEW_SECONDS:
        return None
    try:
        return ctx.hub.unseal(payload["s"])
    except BadInput:
        return None


def _new_pending_secret(ctx: WebContext, secret: str) -> str:
    value = pyotp.random_base32()  # 32 characters: 160 bits, RFC 4226's recommended length
    payload = {"s": ctx.hub.seal(value), "b": session_id(secret)[:32], "t": int(utcnow().timestamp())}
    ctx.set_cookie(TOTP_NEW_COOKIE, ctx.state.keys.sign("totp-new", payload), max_age=TOTP_NEW_SECONDS)
    return value


def _totp_page(ctx: WebContext, username: str, new_secret: str, status: int = 200, error: str | None = None
               ) -> HTMLResponse:
    uri = pyotp.TOTP(new_secret).provisioning_uri(name=username, issuer_name=ISSUER)
    # Drawn here as inline SVG (no image service, no script): the hub may run offline.
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=4, dark="#000", light="#fff", svgclass="qr",
                                                 title=ctx.t("self.totp.qr_title"))
    grouped = " ".join(new_secret[i:i + 4] for i in range(0, len(new_secret), 4))
    return render(ctx, "account_totp.html", status=status, qr=Markup(svg.replace("<svg ", '<svg role="img" ', 1)),  # noqa: S704 - segno's own SVG of our URI
                  key=grouped, uri=uri, error=error, minutes=TOTP_NEW_SECONDS // 60)


@router.page("/account/totp", permission="web.totp", resource=own_account,
             summary="Set up a new authenticator app: its QR code and key, and the form that confirms it")
def totp_form(ctx: Ctx) -> HTMLResponse:
    actor, secret = _session_only(ctx)
    username = actor.username
    new_secret = _pending_secret(ctx, secret) or _new_pending_secret(ctx, secret)
    return _totp_page(ctx, username, new_secret)


@router.page("/account/totp", permission="web.totp", methods=("POST",), resource=own_account,
             summary="Replace your second factor (password, a code of the old and one of the new app)",
             responses={303: {"description": "replaced: back to your account"}})
def totp_submit(ctx: Ctx, current_password: Annotated[str, Form(max_length=MAX_PASSWORD)],
                current_code: Annotated[str, Form(max_length=16)],
                new_code: Annotated[str, Form(max_length=16)]) -> Response:
    actor, secret = _session_only(ctx)
    username = actor.username
    new_secret = _pending_secret(ctx, secret)
    if new_secret is None:  # too late, or another session's: start again with a new key
        return _totp_page(ctx, username, _new_pending_secret(ctx, secret), status=400,
                          error=ctx.t("self.totp.expired"))
    result = web.replace_second_factor(ctx.hub, actor, username=username, current_password=current_password,
                                       current_code=current_code, new_secret=new_secret, new_code=new_code,
                                       session_secret=secret, policy=LoginPolicy.from_settings(ctx.state.settings))
    if result.status == "locked":
        return _signed_out(ctx)
    if result.status == "refused":
        return _totp_page(ctx, username, new_secret, status=401, error=ctx.t("self.totp.wrong"))
    if result.status == "new_code":
        return _totp_page(ctx, username, new_secret, status=400, error=ctx.t("self.totp.new_code"))
    ctx.clear_cookie(TOTP_NEW_COOKIE)
    return _see_other(f"/account?done=totp&ended={result.sessions_ended}")


# --- sessions -----------------------------------------------------------------------------------------

@router.page("/account/sessions", permission="web.sessions", resource=own_account,
             summary="Your open sessions, with sign out of the others or of all")
def sessions_page(ctx: Ctx, ended: OptionalNumber = None) -> HTMLResponse:
    actor, secret = _session_only(ctx)
    username = actor.username
    sessions = web.open_sessions(ctx.hub, actor, username=username, session_secret=secret)
    return render(ctx, "account_sessions.html", sessions=sessions, ended=ended)


@router.page("/account/sessions/end", permission="web.logout_all", methods=("POST",), resource=own_account,
             summary="Sign out of your other sessions (which=others) or of all of them (which=all)",
             responses={303: {"description": "back to your sessions, or to the sign-in form"}})
def sessions_end(ctx: Ctx, which: Annotated[str, Form(max_length=8)]) -> Response:
    actor, secret = _session_only(ctx)
    username = actor.username
    if which not in ("others", "all"):
        raise WebError(400, "bad_request", "which: 'others' or 'all'", "error.which")
    ended = web.end_sessions(ctx.hub, actor, username=username, keep_secret=secret if which == "others" else None)
    if which == "all":
        ctx.clear_cookie(SESSION_COOKIE)
        return _see_other("/login")
    return _see_other(f"/account/sessions?ended={ended}")
