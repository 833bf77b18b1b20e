"""Login rules: the lockout policy, second-factor steps with replay protection, attempt counting.

Helpers of ``web.services`` (which are the only place these change state) and of the login pages.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import pyotp
from argon2.exceptions import Argon2Error
from sqlalchemy import func, select

from guichet.accounts.auth import aware, password_hasher
from guichet.accounts.services import MIN_PASSWORD
from guichet.actor import Actor
from guichet.hub import Hub
from guichet.store.models import User
from guichet.web.settings import WebSettings
from guichet.web.tables import LoginAttempt

# Who signs in: nobody yet. The permission table lets "public" attempt a login, nothing more.
PUBLIC = Actor(username="anonymous", roles=frozenset({"public"}), channel="web")
TOTP_PERIOD = 30
MAX_PASSWORD = 1024  # the sign-in form's limit too
# A hash of a random password, verified against when the account does not exist, so that an unknown
# name takes as long to refuse as a wrong password (no account enumeration by timing).
_DUMMY_HASH = password_hasher.hash("guichet-no-such-account-placeholder")

Status = Literal["ok", "refused", "locked", "no_second_factor"]


@dataclass(frozen=True)
class LoginPolicy:
    lockout_threshold: int
    lockout_minutes: int
    session_hours: int

    @classmethod
    def from_settings(cls, settings: WebSettings) -> LoginPolicy:
        return cls(settings.lockout_threshold, settings.lockout_minutes, settings.session_hours)


@dataclass(frozen=True)
class LoginResult:
    status: Status
    username: str | None = None
    locked_until: datetime | None = None
    session_secret: str | None = None  # only after the second factor; goes into the signed cookie
    locale: str | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


def password_matches(stored: str | None, password: str) -> bool:
    try:
        return password_hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except Argon2Error:
        return False


def password_problem(new: str, current: str | None = None) -> str | None:
    """Why a new password is refused (one line naming the rule), or None."""
    if len(new) < MIN_PASSWORD:
        return f"new password: at least {MIN_PASSWORD} characters"
    if len(new) > MAX_PASSWORD:
        return f"new password: at most {MAX_PASSWORD} characters"
    if current is not None and new == current:
        return "new password: the same as the current one"
    return None


def is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and aware(user.locked_until) > now


def clear_expired_lock(user: User, now: datetime) -> None:
    if user.locked_until is not None and aware(user.locked_until) <= now:
        user.failed_logins, user.locked_until = 0, None


def count_failure(user: User, policy: LoginPolicy, now: datetime) -> bool:
    """Add a failed attempt; lock the account when it reaches the threshold. True when it locked."""
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= policy.lockout_threshold:
        user.locked_until = now + timedelta(minutes=policy.lockout_minutes)
        return True
    return False


def totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step a 6-digit code belongs to (one step of drift either way), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // TOTP_PERIOD
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def recent_attempts(hub: Hub, client: str, minutes: int) -> int:
    """Login attempts from one client within the window (a read: throttled requests change nothing)."""
    since = utcnow() - timedelta(minutes=minutes)
    with hub.store.read() as session:
        return session.execute(
            select(func.count()).select_from(LoginAttempt)
            .where(LoginAttempt.client == client, LoginAttempt.at >= since)
        ).scalar_one()
