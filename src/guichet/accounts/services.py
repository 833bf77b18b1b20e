"""Account services. Each changes state through ``@service`` (permission checked, audit written)."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from importlib import import_module

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.accounts.auth import aware, get_user, hash_secret, now, password_hasher
from guichet.accounts.model import DEFAULT_ORG_KIND, ORG_KINDS, TOKEN_PREFIX, USERNAME, IssuedToken, UserInfo
from guichet.errors import BadInput, NotFound, Refused
from guichet.governance import ROLES, Resource, Unit, query, service
from guichet.store.models import ApiToken, Organisation, User, UserRole

TOKEN_SCOPES = ("cli", "api")
# Modules holding other credentials of an account (portal sessions...): each exposes
# ``revoke_user_sessions(session, user_id, now) -> int``, called when the account is disabled, so that
# re-enabling an account never revives what was open before. Imported lazily: accounts sit below them.
CREDENTIAL_MODULES: tuple[str, ...] = ("guichet.web.tables",)
DEFAULT_TOKEN_DAYS = 90


def _info(user: User) -> UserInfo:
    return UserInfo(
        username=user.username,
        org=user.organisation.name,
        roles=tuple(r.role for r in user.roles),
        disabled=user.disabled,
        has_password=user.password_hash is not None,
        has_totp=user.totp_secret is not None,
        created_at=aware(user.created_at),
        org_kind=user.organisation.kind or DEFAULT_ORG_KIND,
    )


def _user_resource(_session: Session, username: str, **_: object) -> Resource:
    return Resource("user", username, owner=username)


def _check_roles(roles: list[str]) -> list[str]:
    if not roles:
        raise BadInput("--role: at least one role is required")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise BadInput(f"--role: unknown role {unknown[0]!r} (roles: {', '.join(ROLES)})")
    return sorted(set(roles))


@service("user.add", resource=_user_resource)
def add_user(unit: Unit, username: str, roles: list[str], org: str, display_name: str | None = None,
             org_kind: str | None = None) -> UserInfo:
    """Create an account; its organisation is created on the fly when new (of kind ``org_kind``, academic by
    default). A kind given for an existing organisation must be the one it has."""
    if not USERNAME.match(username):
        raise BadInput(f"user name {username!r}: use 2-64 lower-case letters, digits, '.', '_' or '-', starting with a letter")
    if not org or not org.strip():
        raise BadInput("--org: every account belongs to an organisation")
    role_list = _check_roles(roles)
    if org_kind is not None and org_kind not in ORG_KINDS:
        raise BadInput(f"--org-kind: unknown kind {org_kind!r} (kinds: {', '.join(ORG_KINDS)})")
    s = unit.session
    if s.execute(select(User).where(User.username == username)).scalar_one_or_none() is not None:
        raise BadInput(f"an account named {username!r} already exists")
    organisation = s.execute(select(Organisation).where(Organisation.name == org.strip())).scalar_one_or_none()
    created_org = organisation is None
    if organisation is not None and org_kind is not None and organisation.kind != org_kind:
        raise BadInput(f"--org-kind: organisation {organisation.name!r} exists and is of kind {organisation.kind}")
    if organisation is None:
        organisation = Organisation(name=org.strip(), kind=org_kind or DEFAULT_ORG_KIND, created_at=now())
        s.add(organisation)
        s.flush()
    user = User(username=username, org_id=organisation.id, display_name=display_name, created_at=now(),
                disabled=False, failed_logins=0)
    user.roles = [UserRole(role=r) for r in role_list]
    s.add(user)
    s.flush()
    s.refresh(user)
    unit.note(obj=f"user:{username}", roles=role_list, org=organisation.name, org_kind=organisation.kind,
              new_org=created_org)
    return _info(user)


@query("user.list")
def list_users(unit: Unit, include_disabled: bool = True) -> list[UserInfo]:
    stmt = select(User).order_by(User.username)
    if not include_disabled:
        stmt = stmt.where(User.disabled.is_(False))
    users = [_info(u) for u in unit.session.execute(stmt).scalars()]
    unit.note(count=len(users))
    return users


@query("user.show", resource=_user_resource)
def show_user(unit: Unit, username: str) -> UserInfo:
    return _info(get_user(unit.session, username))


@service("user.disable", resource=_user_resource)
def disable_user(unit: Unit, username: str, reason: str | None = None) -> UserInfo:
    user = get_user(unit.session, username)
    user.disabled = True
    revoked = 0
    for tok in unit.session.execute(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))).scalars():
        tok.revoked_at = now()
        revoked += 1
    sessions = 0
    for name in CREDENTIAL_MODULES:
        sessions += import_module(name).revoke_user_sessions(unit.session, user.id, now())
    unit.note(reason=reason, tokens_revoked=revoked, sessions_ended=sessions)
    return _info(user)


@service("user.enable", resource=_user_resource)
def enable_user(unit: Unit, username: str) -> UserInfo:
    user = get_user(unit.session, username)
    user.disabled = False
    return _info(user)


@service("user.unlock", resource=_user_resource)
def unlock_user(unit: Unit, username: str) -> UserInfo:
    user = get_user(unit.session, username)
    user.failed_logins, user.locked_until = 0, None
    return _info(user)


MIN_PASSWORD = 12


@service("user.password", resource=_user_resource, unguarded=("password",))
def set_password(unit: Unit, username: str, password: str) -> UserInfo:
    if len(password) < MIN_PASSWORD:
        raise BadInput(f"password: at least {MIN_PASSWORD} characters")
    user = get_user(unit.session, username)
    user.password_hash = password_hasher.hash(password)
    return _info(user)


@service("user.totp", resource=_user_resource, unguarded=("secret",))
def enroll_totp(unit: Unit, username: str, secret: str | None = None) -> str:
    """Give the account a new TOTP secret and return it (to show once, as text or QR code)."""
    user = get_user(unit.session, username)
    value = secret or pyotp.random_base32()
    try:
        base64.b32decode(value, casefold=True)
    except ValueError:
        raise BadInput("TOTP secret: not base32") from None
    user.totp_secret = unit.hub.seal(value)
    user.totp_last_step = None
    return value


@service("user.token", resource=_user_resource)
def issue_token(unit: Unit, username: str, days: int = DEFAULT_TOKEN_DAYS, scopes: tuple[str, ...] = TOKEN_SCOPES,
                label: str | None = None) -> IssuedToken:
    if not 1 <= days <= 366:
        raise BadInput("--days: a token lives between 1 and 366 days")
    bad = sorted(set(scopes) - set(TOKEN_SCOPES))
    if bad:
        raise BadInput(f"--scope: unknown scope {bad[0]!r} (scopes: {', '.join(TOKEN_SCOPES)})")
    user = get_user(unit.session, username)
    if user.disabled:
        raise Refused(f"account {username!r} is disabled")
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    expires = now() + timedelta(days=days)
    unit.session.add(ApiToken(id=token_id, user_id=user.id, secret_hash=hash_secret(secret), scopes=list(scopes),
                              label=label, created_at=now(), expires_at=expires))
    unit.note(token=token_id, days=days, scopes=list(scopes))
    return IssuedToken(token_id, f"{TOKEN_PREFIX}_{token_id}_{secret}", expires, tuple(scopes))


def _token_resource(session: Session, token_id: str, **_: object) -> Resource:
    tok = session.get(ApiToken, token_id)
    return Resource("token", token_id, owner=tok.user.username if tok else None)


@service("user.token_revoke", resource=_token_resource)
def revoke_token(unit: Unit, token_id: str) -> None:
    tok = unit.session.get(ApiToken, token_id)
    if tok is None:
        raise NotFound(f"no token {token_id!r}")
    tok.revoked_at = tok.revoked_at or now()
