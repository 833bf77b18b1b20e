"""Web services: every state change the portal makes (login counters, sessions, language) goes here.

Login attempts are made by ``PUBLIC`` (nobody is signed in yet); a refused attempt is not an error but a
result, so that its failure counter commits with its audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from guichet.accounts.auth import aware, password_hasher
from guichet.errors import BadInput, NotFound
from guichet.governance import Resource, Unit, query, service
from guichet.store.models import User
from guichet.web.login import (
    LoginPolicy,
    LoginResult,
    clear_expired_lock,
    count_failure,
    is_locked,
    password_matches,
    totp_step,
    utcnow,
)
from guichet.web.security import new_secret, session_id
from guichet.web.settings import LOCALES
from guichet.web.tables import LoginAttempt, WebSession

# Attempts older than this are of no use to any window and are deleted as new ones arrive.
_KEEP_ATTEMPTS = timedelta(days=1)


def _find(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def _attempt(unit: Unit, client: str, stage: str, ok: bool, now: datetime) -> None:
    unit.session.add(LoginAttempt(client=client, at=now, stage=stage, succeeded=ok))
    unit.session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - _KEEP_ATTEMPTS))


def _refuse(unit: Unit, user: User, policy: LoginPolicy, now: datetime, why: str) -> LoginResult:
    locked = count_failure(user, policy, now)
    unit.note(result="locked" if locked else "refused", rule=why, failures=user.failed_logins)
    return LoginResult("locked" if locked else "refused", locked_until=user.locked_until if locked else None)


@service("web.login")
def check_password(unit: Unit, username: str, password: str, client: str, policy: LoginPolicy) -> LoginResult:
    """First step: the password. Counts a failure against the account; never says which part was wrong."""
    now = utcnow()
    user = _find(unit.session, username)
    if user is None or user.disabled or user.password_hash is None:
        password_matches(None, password)  # same time as a real check
        unit.note(obj="user:unknown" if user is None else f"user:{username}", result="refused",
                  rule="unknown, disabled or without password")
        _attempt(unit, client, "password", False, now)
        return LoginResult("refused")
    unit.note(obj=f"user:{username}")
    clear_expired_lock(user, now)
    if is_locked(user, now):
        unit.note(result="locked", rule="account locked")
        _attempt(unit, client, "password", False, now)
        return LoginResult("locked", locked_until=user.locked_until)
    if not password_matches(user.password_hash, password):
        _attempt(unit, client, "password", False, now)
        return _refuse(unit, user, policy, now, "wrong password")
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
    _attempt(unit, client, "password", True, now)
    if user.totp_secret is None:
        unit.note(result="refused", rule="no second factor enrolled")
        return LoginResult("no_second_factor")
    unit.note(result="password ok")
    return LoginResult("ok", username=username)


@service("web.login_totp")
def check_second_factor(unit: Unit, username: str, code: str, client: str, policy: LoginPolicy) -> LoginResult:
    """Second step: the TOTP code. A code already used (same or earlier step) is refused as a replay.
    Success resets the failure counter and opens a session; its secret is returned once."""
    now = utcnow()
    user = _find(unit.session, username)
    if user is None or user.disabled or user.totp_secret is None:
        unit.note(obj="user:unknown" if user is None else f"user:{username}", result="refused",
                  rule="unknown, disabled or without second factor")
        _attempt(unit, client, "totp", False, now)
        return LoginResult("refused")
    unit.note(obj=f"user:{username}")
    clear_expired_lock(user, now)
    if is_locked(user, now):
        unit.note(result="locked", rule="account locked")
        _attempt(unit, client, "totp", False, now)
        return LoginResult("locked", locked_until=user.locked_until)
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


@service("web.logout", resource=_self)
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
