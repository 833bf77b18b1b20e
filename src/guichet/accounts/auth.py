"""Authentication: from a token, a password or a TOTP code to an ``Actor``. Reads only; never echoes a secret."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error
from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.accounts.model import split_token
from guichet.errors import NotFound, Refused
from guichet.governance import Actor
from guichet.hub import Hub
from guichet.store.models import ApiToken, User

password_hasher = PasswordHasher()


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every time Guichet stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def get_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no account named {username!r}")
    return user


def hash_secret(secret: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no dictionary to try); passwords use argon2.
    return hashlib.sha256(secret.encode()).hexdigest()


def _actor(user: User, **kw: object) -> Actor:
    return Actor(username=user.username, roles=frozenset(r.role for r in user.roles), user_id=user.id,
                 org=user.organisation.name, **kw)  # type: ignore[arg-type]


def authenticate_token(hub: Hub, token: str, *, scope: str, username: str | None = None,
                       os_user: str | None = None, channel: str = "cli") -> Actor:
    """The actor a token stands for. Refuses a malformed, unknown, expired, revoked or out-of-scope token,
    or one that belongs to another account than ``username``. Never echoes the token."""
    parts = split_token(token)
    if parts is None:
        raise Refused("token: not a Guichet API token")
    token_id, secret = parts
    with hub.store.read() as session:
        tok = session.get(ApiToken, token_id)
        if tok is None or not hmac.compare_digest(tok.secret_hash, hash_secret(secret)):
            raise Refused("token: unknown or wrong token")
        if tok.revoked_at is not None:
            raise Refused(f"token {token_id}: revoked")
        if aware(tok.expires_at) <= now():
            raise Refused(f"token {token_id}: expired")
        if scope not in tok.scopes:
            raise Refused(f"token {token_id}: not valid for {scope}")
        user = tok.user
        if user.disabled:
            raise Refused(f"account {user.username!r} is disabled")
        if username is not None and user.username != username:
            raise Refused(f"token {token_id} does not belong to {username!r}")
        return _actor(user, token_id=token_id, os_user=os_user, channel=channel)


def actor_for(hub: Hub, username: str, *, os_user: str | None = None, channel: str = "cli") -> Actor:
    """The actor for an account, without credentials: only for development mode and system set-up."""
    with hub.store.read() as session:
        user = get_user(session, username)
        if user.disabled:
            raise Refused(f"account {username!r} is disabled")
        return _actor(user, os_user=os_user, channel=channel)


def verify_totp(hub: Hub, username: str, code: str) -> bool:
    """Check a TOTP code (one step of drift allowed). Replay protection is the web layer's (it records
    the last step used through ``user.totp`` state); the CLI accepts a code within its window."""
    with hub.store.read() as session:
        user = get_user(session, username)
        if user.totp_secret is None:
            return False
        secret = hub.unseal(user.totp_secret)
    return pyotp.TOTP(secret).verify(code.strip(), valid_window=1)


def verify_password(hub: Hub, username: str, password: str) -> bool:
    with hub.store.read() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        stored = user.password_hash if user else None
    try:
        return stored is not None and password_hasher.verify(stored, password)
    except Argon2Error:
        return False
