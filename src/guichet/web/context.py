"""Who is asking, in which language, with which CSRF token: the context every route gets.

Authentication is either the signed session cookie (people, after password and TOTP) or an
``Authorization: Bearer gch_...`` API token (scripts). Both give an ``Actor``; sessions carry the second
factor (``strong_auth``), tokens do not — unless the request carries a current code of the account's
second factor in the ``X-Guichet-TOTP`` header, as the CLI's ``--totp``: an API token alone never makes a
decision.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request

from guichet.accounts.auth import authenticate_token, verify_totp
from guichet.config import HubConfig
from guichet.errors import Refused
from guichet.governance import Actor
from guichet.governance.decorators import record_refusal
from guichet.hub import Hub
from guichet.web.i18n import Translator, negotiate
from guichet.web.login import utcnow
from guichet.web.security import Keys, new_secret, session_id
from guichet.web.sessions import SessionCache, SessionUser, lookup_session
from guichet.web.settings import LOCALES, WebSettings
from guichet.web.site import Site

SESSION_COOKIE = "guichet_session"
PENDING_COOKIE = "guichet_pending"  # between the password and the second-factor steps
PRE_COOKIE = "guichet_pre"  # binds the login form's CSRF token before there is a session
LANG_COOKIE = "guichet_lang"
TOTP_HEADER = "x-guichet-totp"  # a current second-factor code: what lets an API request make a decision
REFRESH_SECONDS = 60  # the idle clock in the cookie is moved forward at most once a minute


class RefusalTally:
    """How many refused bearer tokens this worker records in the audit trail one by one: the first
    ``per_address`` of each address in a minute, and ``overall`` in all; the rest of the minute is counted and
    written as one event when the minute is over (at the next refusal), so that a flood of bad tokens cannot
    fill the trail or hold its lock. Each refused request is still answered 401."""

    def __init__(self, per_address: int = 20, overall: int = 200, window: float = 60.0) -> None:
        self.per_address, self.overall, self.window = per_address, overall, window
        self.started = 0.0
        self.by_address: dict[str, int] = {}
        self.total = 0
        self.unrecorded = 0

    def admit(self, address: str, now: float) -> tuple[bool, int]:
        """Whether to record this refusal, and how many of the last window went unrecorded (to be written
        once, now, as a summary)."""
        carried = 0
        if now - self.started >= self.window:
            carried, self.unrecorded = self.unrecorded, 0
            self.started, self.by_address, self.total = now, {}, 0
        seen = self.by_address.get(address, 0)
        if seen >= self.per_address or self.total >= self.overall:
            self.unrecorded += 1
            return False, carried
        if len(self.by_address) < 10_000:  # the map's size is bounded too
            self.by_address[address] = seen + 1
        self.total += 1
        return True, carried


@dataclass
class WebState:
    """What the app holds for its whole life: the hub, its settings and keys."""

    hub: Hub
    config: HubConfig
    settings: WebSettings
    keys: Keys
    sessions: SessionCache
    # Other per-worker caches (e.g. the catalogue's), by name; each has ``invalidate()``, called with the
    # session cache's on every state-changing request.
    caches: dict[str, Any] = field(default_factory=dict)
    site: Site = field(default_factory=Site)  # what the installed routers bring: templates, messages, menu
    refusals: RefusalTally = field(default_factory=RefusalTally)  # refused bearer tokens, per worker


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
        return Translator(self.locale, self.state.settings.timezone, self.state.site.messages)

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


def _session_secret(state: WebState, request: Request, now: datetime) -> tuple[str | None, bool]:
    """The session secret of a validly signed, not idle cookie, and whether its idle clock needs moving."""
    payload = state.keys.unsign("session", request.cookies.get(SESSION_COOKIE))
    if payload is None or not isinstance(payload.get("s"), str) or not isinstance(payload.get("seen"), int):
        return None, False
    idle = now.timestamp() - payload["seen"]
    if idle > state.settings.idle_minutes * 60 or idle < -300:
        return None, False
    return payload["s"], idle > REFRESH_SECONDS


async def _session_user(state: WebState, secret: str, now: datetime) -> SessionUser | None:
    """From this worker's cache when fresh (no thread hop, no database), else from a lookup in a thread.

    Concurrent requests of one session share one lookup: when an answer expires under load, the requests
    waiting on it make one query, not one each (measured: a burst of 25 lookups a second per worker).
    """
    sessions = state.sessions
    sid = session_id(secret)
    user = sessions.get(sid, now)
    if user is not None:
        return user
    pending = sessions.inflight.get(sid)
    if pending is None:
        generation = sessions.generation

        async def lookup() -> SessionUser | None:
            found = await run_in_threadpool(lookup_session, state.hub, sid, now)
            if found is not None:
                sessions.put(sid, found, generation)
            return found

        pending = asyncio.ensure_future(lookup())
        sessions.inflight[sid] = pending
        pending.add_done_callback(lambda done: sessions.inflight.pop(sid, None)
                                  if sessions.inflight.get(sid) is done else None)
    return await asyncio.shield(pending)


def _record_token_refusal(state: WebState, request: Request, reason: str) -> None:
    """Audit a refused bearer token (action ``auth.api``), within the worker's tally (``RefusalTally``)."""
    unknown = Actor("(unknown)", frozenset(), channel="api")
    address = request.client.host if request.client else "unknown"
    record, carried = state.refusals.admit(address, time.monotonic())
    if carried:
        record_refusal(state.hub, unknown, "auth.api", None,
                       f"{carried} more refused bearer tokens in the last minute, not recorded one by one "
                       f"(over {state.refusals.per_address} from one address or {state.refusals.overall} in all)",
                       unrecorded=carried)
    if record:
        record_refusal(state.hub, unknown, "auth.api", None, reason)


def session_cookie(state: WebState, secret: str, now: datetime) -> str:
    return state.keys.sign("session", {"s": secret, "seen": int(now.timestamp())})


async def build_context(state: WebState, request: Request) -> WebContext:
    """Authenticate the request (cookie or bearer token) and choose its language."""
    now = utcnow()
    header = request.headers.get("authorization", "")
    actor: Actor | None = None
    via: Literal["session", "token", "none"] = "none"
    user_locale = display = secret = None
    refresh = False
    if header.lower().startswith("bearer "):
        try:
            actor = await run_in_threadpool(lambda: authenticate_token(state.hub, header[7:].strip(), scope="api",
                                                                       channel="api"))
            via = "token"
            code = request.headers.get(TOTP_HEADER, "").strip()
            if code:
                username = actor.username
                if await run_in_threadpool(lambda: verify_totp(state.hub, username, code[:16])):
                    actor = actor.with_strong_auth()
                else:
                    await run_in_threadpool(record_refusal, state.hub, actor, "auth.api", None,
                                            "X-Guichet-TOTP: wrong or expired code")
        except Refused as exc:
            await run_in_threadpool(_record_token_refusal, state, request, exc.message)
            raise TokenRefused(exc.message) from None
    else:
        secret, refresh = _session_secret(state, request, now)
        user = await _session_user(state, secret, now) if secret is not None else None
        if user is None:
            secret = None
        else:
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
