"""Who is asking, in which language, with which CSRF token: the context every route gets.

Authentication is either the signed session cookie (people, after password and TOTP) or an
``Authorization: Bearer gch_...`` API token (scripts). Both give an ``Actor``; sessions carry the second
factor (``strong_auth``), tokens do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from starlette.requests import Request

from guichet.accounts.auth import authenticate_token, aware
from guichet.config import HubConfig
from guichet.errors import Refused
from guichet.governance import Actor
from guichet.hub import Hub
from guichet.store.models import Organisation, User, UserRole
from guichet.web.i18n import Translator, negotiate
from guichet.web.login import utcnow
from guichet.web.security import Keys, new_secret, session_id
from guichet.web.settings import LOCALES, WebSettings
from guichet.web.tables import WebSession

SESSION_COOKIE = "guichet_session"
PENDING_COOKIE = "guichet_pending"  # between the password and the second-factor steps
PRE_COOKIE = "guichet_pre"  # binds the login form's CSRF token before there is a session
LANG_COOKIE = "guichet_lang"
REFRESH_SECONDS = 60  # the idle clock in the cookie is moved forward at most once a minute


@dataclass
class WebState:
    """What the app holds for its whole life: the hub, its settings and keys."""

    hub: Hub
    config: HubConfig
    settings: WebSettings
    keys: Keys


@dataclass
class WebContext:
    state: WebState
    request: Request
    actor: Actor | None
    via: Literal["session", "token", "none"]
    locale: str
    csrf_binding: str
    display_name: str | None = None
    session_secret: str | None = None
    cookies: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def t(self) -> Translator:
        return Translator(self.locale, self.state.settings.timezone)

    @property
    def csrf_token(self) -> str:
        return self.state.keys.csrf_token(self.csrf_binding)

    @property
    def hub(self) -> Hub:
        return self.state.hub

    def secure(self) -> bool:
        configured = self.state.settings.secure_cookies
        return configured if configured is not None else self.request.url.scheme == "https"

    def set_cookie(self, name: str, value: str, max_age: int | None = None, http_only: bool = True) -> None:
        self.cookies.append((name, value, {"max_age": max_age, "httponly": http_only}))

    def clear_cookie(self, name: str) -> None:
        self.cookies.append((name, "", {"max_age": 0, "httponly": True}))


@dataclass(frozen=True)
class SessionUser:
    actor: Actor
    locale: str | None
    display_name: str | None


def session_user(hub: Hub, secret: str, now: datetime) -> SessionUser | None:
    """The account behind a session secret, if the session is open and the account enabled.

    One query of plain columns (a row per role): this runs on every request, so no ORM objects.
    """
    stmt = (
        select(User.id, User.username, User.disabled, User.locale, User.display_name, Organisation.name,
               WebSession.revoked_at, WebSession.expires_at, UserRole.role)
        .select_from(WebSession)
        .join(User, User.id == WebSession.user_id)
        .join(Organisation, Organisation.id == User.org_id)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(WebSession.id == session_id(secret))
    )
    with hub.store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    if not rows:
        return None
    user_id, username, disabled, locale, display, org, revoked, expires, _ = rows[0]
    if revoked is not None or aware(expires) <= now or disabled:
        return None
    actor = Actor(username=username, roles=frozenset(r.role for r in rows if r.role), user_id=user_id, org=org,
                  channel="web", strong_auth=True)
    return SessionUser(actor, locale, display)


def _from_session(state: WebState, request: Request, now: datetime) -> tuple[SessionUser | None, str | None, bool]:
    payload = state.keys.unsign("session", request.cookies.get(SESSION_COOKIE))
    if payload is None or not isinstance(payload.get("s"), str) or not isinstance(payload.get("seen"), int):
        return None, None, False
    idle = now.timestamp() - payload["seen"]
    if idle > state.settings.idle_minutes * 60 or idle < -300:
        return None, None, False
    user = session_user(state.hub, payload["s"], now)
    return user, payload["s"] if user else None, idle > REFRESH_SECONDS


def session_cookie(state: WebState, secret: str, now: datetime) -> str:
    return state.keys.sign("session", {"s": secret, "seen": int(now.timestamp())})


def build_context(state: WebState, request: Request) -> WebContext:
    """Authenticate the request (cookie or bearer token) and choose its language. Runs in a worker thread."""
    now = utcnow()
    header = request.headers.get("authorization", "")
    actor: Actor | None = None
    via: Literal["session", "token", "none"] = "none"
    user_locale = display = secret = None
    refresh = False
    if header.lower().startswith("bearer "):
        try:
            actor = authenticate_token(state.hub, header[7:].strip(), scope="api", channel="api")
            via = "token"
        except Refused as exc:
            raise TokenRefused(exc.message) from None
    else:
        user, secret, refresh = _from_session(state, request, now)
        if user is not None:
            actor, via, user_locale, display = user.actor, "session", user.locale, user.display_name
    cookie_locale = request.cookies.get(LANG_COOKIE)
    locale = (user_locale if user_locale in LOCALES else None) or (
        cookie_locale if cookie_locale in LOCALES else None) or negotiate(
        request.headers.get("accept-language"), state.settings.default_locale)
    pre = request.cookies.get(PRE_COOKIE)
    ctx = WebContext(state, request, actor, via, locale, "", display, secret)
    if secret is not None:
        ctx.csrf_binding = f"s:{secret}"
        if refresh:
            ctx.set_cookie(SESSION_COOKIE, session_cookie(state, secret, now))
    else:
        if not pre or len(pre) > 100:
            pre = new_secret()
            ctx.set_cookie(PRE_COOKIE, pre)
        ctx.csrf_binding = f"p:{pre}"
    return ctx


class TokenRefused(Exception):
    """An Authorization header with a token that is malformed, unknown, expired, revoked or out of scope."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
