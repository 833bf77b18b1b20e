"""Web services: every state change the portal makes (login counters, sessions, language) goes here.

Login attempts are made by ``PUBLIC`` (nobody is signed in yet); a refused attempt is not an error but a
result, so that its failure counter commits with its audit event.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from guichet.accounts.auth import aware, password_hasher
from guichet.errors import BadInput, NotFound, Refused
from guichet.governance import Resource, Unit, query, service
from guichet.store.models import User
from guichet.web.login import (
    LoginPolicy,
    LoginResult,
    clear_expired_lock,
    count_failure,
    is_locked,
    password_matches,
    password_problem,
    totp_step,
    utcnow,
)
from guichet.web.security import new_secret, session_id
from guichet.web.settings import LOCALES
from guichet.web.tables import LoginAttempt, WebSession

# Attempts older than this are of no use to any window and are deleted as new ones arrive.
_KEEP_ATTEMPTS = timedelta(days=1)
MIN_TOTP_SECRET = 26  # base32 characters: 128 bits, RFC 4226's minimum (the portal makes 160-bit ones)


def _find(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def _attempt(unit: Unit, client: str, stage: str, ok: bool, now: datetime) -> None:
    unit.session.add(LoginAttempt(client=client, at=now, stage=stage, succeeded=ok))
    unit.session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - _KEEP_ATTEMPTS))


def _refuse(unit: Unit, user: User, policy: LoginPolicy, now: datetime, why: str) -> LoginResult:
    locked = count_failure(user, policy, now)
    unit.note(result="locked" if locked else "refused", rule=why, failures=user.failed_logins)
    unit.refused(why)
    return LoginResult("locked" if locked else "refused", locked_until=user.locked_until if locked else None)


def _locked(unit: Unit, user: User, client: str, factor: str, now: datetime) -> LoginResult | None:
    """Refuse (and count the attempt) while the account is locked; a lock whose time is over is cleared."""
    clear_expired_lock(user, now)
    if not is_locked(user, now):
        return None
    unit.note(result="locked", rule="account locked")
    unit.refused("account locked")
    _attempt(unit, client, factor, False, now)
    return LoginResult("locked", locked_until=user.locked_until)


@service("web.login", unguarded=("password", "client"))
def check_password(unit: Unit, username: str, password: str, client: str, policy: LoginPolicy) -> LoginResult:
    """First step: the password. Counts a failure against the account; never says which part was wrong."""
    now = utcnow()
    user = _find(unit.session, username)
    if user is None or user.disabled or user.password_hash is None:
        password_matches(None, password)  # same time as a real check
        unit.note(obj="user:unknown" if user is None else f"user:{username}", result="refused",
                  rule="unknown, disabled or without password")
        unit.refused("unknown, disabled or without password")
        _attempt(unit, client, "password", False, now)
        return LoginResult("refused")
    unit.note(obj=f"user:{username}")
    locked = _locked(unit, user, client, "password", now)
    if locked is not None:
        return locked
    if not password_matches(user.password_hash, password):
        _attempt(unit, client, "password", False, now)
        return _refuse(unit, user, policy, now, "wrong password")
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
    _attempt(unit, client, "password", True, now)
    if user.totp_secret is None:
        unit.note(result="refused", rule="no second factor enrolled")
        unit.refused("no second factor enrolled")
        return LoginResult("no_second_factor")
    unit.note(result="password ok")
    return LoginResult("ok", username=username)


@service("web.login_totp", unguarded=("code", "client"))
def check_second_factor(unit: Unit, username: str, code: str, client: str, policy: LoginPolicy) -> LoginResult:
    """Second step: the TOTP code. A code already used (same or earlier step) is refused as a replay.
    Success resets the failure counter and opens a session; its secret is returned once."""
    now = utcnow()
    user = _find(unit.session, username)
    if user is None or user.disabled or user.totp_secret is None:
        unit.note(obj="user:unknown" if user is None else f"user:{username}", result="refused",
                  rule="unknown, disabled or without second factor")
        unit.refused("unknown, disabled or without second factor")
        _attempt(unit, client, "totp", False, now)
        return LoginResult("refused")
    unit.note(obj=f"user:{username}")
    locked = _locked(unit, user, client, "totp", now)
    if locked is not None:
        return locked
    step = totp_step(unit.hub.unseal(user.totp_secret), code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        _attempt(unit, client, "totp", False, now)
        return _refuse(unit, user, policy, now, "wrong code" if step is None else "code already used")
    user.totp_last_step = step
    user.failed_logins, user.locked_until = 0, None
    secret = new_secret()
    unit.session.add(WebSession(id=session_id(secret), user_id=user.id, created_at=now,
                                expires_at=now + timedelta(hours=policy.session_hours)))
    unit.session.execute(delete(WebSession).where(WebSession.expires_at < now - _KEEP_ATTEMPTS))
    _attempt(unit, client, "totp", True, now)
    unit.note(result="signed in")
    return LoginResult("ok", username=username, session_secret=secret, locale=user.locale)


def _self(_session: Session, username: str, **_: object) -> Resource:
    return Resource("user", username, owner=username)


@service("web.logout", resource=_self, unguarded=("session_secret",))
def sign_out(unit: Unit, username: str, session_secret: str) -> None:
    user = _find(unit.session, username)
    if user is None:
        raise NotFound(f"no account named {username!r}")
    row = unit.session.get(WebSession, session_id(session_secret))
    if row is not None and row.user_id == user.id and row.revoked_at is None:
        row.revoked_at = utcnow()


@service("web.locale", resource=_self)
def set_locale(unit: Unit, username: str, locale: str) -> str:
    if locale not in LOCALES:
        raise BadInput(f"language: one of {', '.join(LOCALES)}")
    user = _find(unit.session, username)
    if user is None:
        raise NotFound(f"no account named {username!r}")
    user.locale = locale
    unit.note(locale=locale)
    return locale


@dataclass(frozen=True)
class Lockout:
    username: str
    failed_logins: int
    locked_until: datetime | None


@query("web.lockouts")
def lockouts(unit: Unit) -> dict[str, Lockout]:
    """Accounts with failed logins or a lock still running, by user name."""
    now = utcnow()
    rows = unit.session.execute(select(User).where(User.failed_logins > 0)).scalars()
    return {u.username: Lockout(u.username, u.failed_logins,
                                aware(u.locked_until) if u.locked_until and aware(u.locked_until) > now else None)
            for u in rows}


# --- self-service: one's own password, second factor and sessions ----------------------------------------
# A signed-in person proves the password again (and, for the second factor, a code of the old
# authenticator): a session left open on a shared computer must not be enough to take the account over.
# Wrong proofs count towards the lockout like wrong sign-ins; when they lock the account, every session
# of it ends, the one that typed them included.

SelfStatus = Literal["ok", "refused", "locked", "new_code"]


@dataclass(frozen=True)
class SelfServiceResult:
    status: SelfStatus
    sessions_ended: int = 0


def _end_sessions(unit: Unit, user: User, keep: str | None, now: datetime) -> int:
    """Revoke the account's open sessions but ``keep`` (a stored session id); how many ended."""
    stmt = select(WebSession).where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None),
                                    WebSession.expires_at > now)
    ended = 0
    for row in unit.session.execute(stmt).scalars():
        if row.id != keep:
            row.revoked_at = now
            ended += 1
    return ended


def _proof_refused(unit: Unit, user: User, policy: LoginPolicy, now: datetime, why: str) -> SelfServiceResult:
    locked = count_failure(user, policy, now)
    ended = _end_sessions(unit, user, None, now) if locked else 0
    unit.note(result="locked" if locked else "refused", rule=why, failures=user.failed_logins, sessions_ended=ended)
    unit.refused(why)
    return SelfServiceResult("locked" if locked else "refused", ended)


def _signed_in_user(unit: Unit, username: str, now: datetime) -> User:
    user = _find(unit.session, username)
    if user is None or user.disabled:
        raise NotFound(f"no enabled account named {username!r}")
    clear_expired_lock(user, now)
    return user


@service("web.password", resource=_self, unguarded=("current_password", "new_password", "session_secret"))
def change_password(unit: Unit, username: str, current_password: str, new_password: str, session_secret: str,
                    policy: LoginPolicy) -> SelfServiceResult:
    """Replace one's password after proving the current one; the account's other sessions end."""
    now = utcnow()
    user = _signed_in_user(unit, username, now)
    if is_locked(user, now):
        unit.note(result="locked", rule="account locked")
        unit.refused("account locked")
        return SelfServiceResult("locked")
    if not password_matches(user.password_hash, current_password):
        return _proof_refused(unit, user, policy, now, "wrong current password")
    problem = password_problem(new_password, current_password)
    if problem:
        raise BadInput(problem)
    user.password_hash = password_hasher.hash(new_password)
    ended = _end_sessions(unit, user, session_id(session_secret), now)
    unit.note(result="changed", sessions_ended=ended)
    return SelfServiceResult("ok", ended)


@service("web.totp", resource=_self, unguarded=("current_password", "current_code", "new_secret", "new_code", "session_secret"))
def replace_second_factor(unit: Unit, username: str, current_password: str, current_code: str, new_secret: str,
                          new_code: str, session_secret: str, policy: LoginPolicy) -> SelfServiceResult:
    """Replace one's TOTP secret: the password, a fresh code of the old authenticator and a code of the new
    one (proving it was set up). The account's other sessions end."""
    now = utcnow()
    user = _signed_in_user(unit, username, now)
    if user.totp_secret is None:
        raise Refused("second factor: none enrolled; an operator enrols the first one")
    if is_locked(user, now):
        unit.note(result="locked", rule="account locked")
        unit.refused("account locked")
        return SelfServiceResult("locked")
    try:
        base64.b32decode(new_secret, casefold=True)
    except ValueError:
        raise BadInput("new second factor: the secret is not base32") from None
    if len(new_secret) < MIN_TOTP_SECRET:
        raise BadInput(f"new second factor: the secret is shorter than {MIN_TOTP_SECRET} characters")
    old_step = totp_step(unit.hub.unseal(user.totp_secret), current_code, now)
    password_ok = password_matches(user.password_hash, current_password)
    if not password_ok or old_step is None or (user.totp_last_step is not None and old_step <= user.totp_last_step):
        why = "wrong current password" if not password_ok else "wrong or used code of the current authenticator"
        return _proof_refused(unit, user, policy, now, why)
    new_step = totp_step(new_secret, new_code, now)
    if new_step is None:
        unit.note(result="refused", rule="wrong code of the new authenticator")
        unit.refused("wrong code of the new authenticator")
        return SelfServiceResult("new_code")  # not counted: the person proved who they are
    user.totp_secret = unit.hub.seal(new_secret)
    user.totp_last_step = new_step
    ended = _end_sessions(unit, user, session_id(session_secret), now)
    unit.note(result="replaced", sessions_ended=ended)
    return SelfServiceResult("ok", ended)


@dataclass(frozen=True)
class OpenSession:
    created_at: datetime
    expires_at: datetime
    current: bool


@query("web.sessions", resource=_self, unguarded=("session_secret",))
def open_sessions(unit: Unit, username: str, session_secret: str | None = None) -> list[OpenSession]:
    """One's sessions not ended, newest first; ``current`` marks the one asking."""
    now = utcnow()
    current = session_id(session_secret) if session_secret else None
    rows = unit.session.execute(
        select(WebSession).join(User, User.id == WebSession.user_id)
        .where(User.username == username, WebSession.revoked_at.is_(None), WebSession.expires_at > now)
        .order_by(WebSession.created_at.desc())
    ).scalars()
    return [OpenSession(aware(r.created_at), aware(r.expires_at), r.id == current) for r in rows]


@service("web.logout_all", resource=_self, unguarded=("keep_secret",))
def end_sessions(unit: Unit, username: str, keep_secret: str | None = None) -> int:
    """Sign out everywhere (``keep_secret`` None) or everywhere but the session ``keep_secret``."""
    now = utcnow()
    user = _find(unit.session, username)
    if user is None:
        raise NotFound(f"no account named {username!r}")
    ended = _end_sessions(unit, user, session_id(keep_secret) if keep_secret else None, now)
    unit.note(sessions_ended=ended, kept_current=keep_secret is not None)
    return ended
