"""The JSON API under /api: the same services as the CLI and the pages, for scripts (Bearer tokens)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from starlette.requests import Request

from guichet.accounts import services as accounts
from guichet.accounts.model import UserInfo
from guichet.custodian import audit_trail
from guichet.governance import Actor, Resource
from guichet.web import services as web
from guichet.web.routing import Ctx, GuardedRouter, own_account

router = GuardedRouter()


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


ERRORS = {401: {"model": ErrorOut, "description": "no session or token, or a refused token"},
          403: {"model": ErrorOut, "description": "refused: the permission's rule is given"},
          422: {"model": ErrorOut, "description": "invalid or missing fields (named, values never echoed)"}}


class UserOut(BaseModel):
    username: str
    org: str
    roles: list[str]
    disabled: bool
    has_password: bool
    has_totp: bool
    created_at: datetime

    @classmethod
    def of(cls, info: UserInfo) -> UserOut:
        return cls(username=info.username, org=info.org, roles=list(info.roles), disabled=info.disabled,
                   has_password=info.has_password, has_totp=info.has_totp, created_at=info.created_at)


class MeOut(UserOut):
    locale: str
    via: Literal["session", "token"]


class LockoutOut(BaseModel):
    username: str
    failed_logins: int
    locked_until: datetime | None


class LocaleIn(BaseModel):
    locale: Literal["fr", "en"]


class LocaleOut(BaseModel):
    locale: str


class VerifyProblem(BaseModel):
    where: str
    seq: int | None
    line: int | None
    problem: str


class VerifyOut(BaseModel):
    ok: bool
    events: int
    head: str
    mirror_events: int
    mirror_behind: int
    problems: list[VerifyProblem]


def _named_user(request: Request, _actor: Actor) -> Resource:
    username = request.path_params.get("username", "")
    return Resource("user", username, owner=username)


@router.api("/api/me", permission="user.show", resource=own_account, response_model=MeOut, responses=ERRORS,
            tags=["accounts"], summary="The account this session or token acts for")
def me(ctx: Ctx) -> MeOut:
    assert ctx.actor is not None
    info = accounts.show_user(ctx.hub, ctx.actor, username=ctx.actor.username)
    return MeOut(**UserOut.of(info).model_dump(), locale=ctx.locale, via="token" if ctx.via == "token" else "session")


@router.api("/api/me/locale", permission="web.locale", methods=("PUT",), resource=own_account,
            response_model=LocaleOut, responses=ERRORS, tags=["accounts"], summary="Choose your interface language")
def put_locale(ctx: Ctx, body: LocaleIn) -> LocaleOut:
    assert ctx.actor is not None
    return LocaleOut(locale=web.set_locale(ctx.hub, ctx.actor, username=ctx.actor.username, locale=body.locale))


@router.api("/api/users", permission="user.list", response_model=list[UserOut], responses=ERRORS,
            tags=["accounts"], summary="Accounts with their roles and organisations (an audited read)")
def users(ctx: Ctx, active: bool = False) -> list[UserOut]:
    assert ctx.actor is not None
    return [UserOut.of(u) for u in accounts.list_users(ctx.hub, ctx.actor, include_disabled=not active)]


@router.api("/api/users/{username}", permission="user.show", resource=_named_user, response_model=UserOut,
            responses={**ERRORS, 404: {"model": ErrorOut, "description": "no such account"}},
            tags=["accounts"], summary="One account (operators, auditors, or the account itself)")
def user(ctx: Ctx, username: str) -> UserOut:
    assert ctx.actor is not None
    return UserOut.of(accounts.show_user(ctx.hub, ctx.actor, username=username))


@router.api("/api/users/{username}/unlock", permission="user.unlock", methods=("POST",), response_model=UserOut,
            responses={**ERRORS, 404: {"model": ErrorOut, "description": "no such account"}},
            tags=["accounts"], summary="Unlock an account locked after failed sign-ins")
def unlock(ctx: Ctx, username: str) -> UserOut:
    assert ctx.actor is not None
    return UserOut.of(accounts.unlock_user(ctx.hub, ctx.actor, username=username))


@router.api("/api/lockouts", permission="web.lockouts", response_model=list[LockoutOut], responses=ERRORS,
            tags=["accounts"], summary="Accounts with failed sign-ins or a running lock")
def lockout_list(ctx: Ctx) -> list[LockoutOut]:
    assert ctx.actor is not None
    locks = web.lockouts(ctx.hub, ctx.actor)
    return [LockoutOut(username=k.username, failed_logins=k.failed_logins, locked_until=k.locked_until)
            for k in sorted(locks.values(), key=lambda k: k.username)]


@router.api("/api/audit/verify", permission="audit.verify", response_model=VerifyOut, responses=ERRORS,
            tags=["audit"], summary="Verify the audit chain (database, files, latest signed checkpoint)")
async def verify(ctx: Ctx) -> VerifyOut:
    actor = ctx.actor
    assert actor is not None
    report = await run_in_threadpool(lambda: audit_trail.verify_with_checkpoint(ctx.hub, actor))
    return VerifyOut(ok=report.ok, events=report.events, head=report.head, mirror_events=report.mirror_events,
                     mirror_behind=report.mirror_behind,
                     problems=[VerifyProblem(where=p.where, seq=p.seq, line=p.line, problem=p.problem)
                               for p in report.problems])
