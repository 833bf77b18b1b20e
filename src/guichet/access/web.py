"""The access applications' JSON API: the same services as ``guichet application``, ``guichet review`` and
``guichet panel``, for scripts (Bearer tokens) and the portal's pages.

Checks, opinions, decisions and extensions are decisions: through an API token they need a current
second-factor code in the ``X-Guichet-TOTP`` header (``guichet.web.context``); through a session in
production, the same header typed now (a session may be hours old). Without it the guard refuses them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from guichet.access import services as access
from guichet.access.workflow import SECTIONS, STATES
from guichet.accounts.auth import verify_totp
from guichet.governance import Actor
from guichet.web.api import ERRORS
from guichet.web.context import TOTP_HEADER, WebContext
from guichet.web.routing import Ctx, GuardedRouter, Number, OptionalNumber

router = GuardedRouter()
TAGS: list[str | Any] = ["applications"]
NOT_FOUND = {**ERRORS, 404: {"description": "no such application (or one the account may not see)"}}
MAX_APPLICATION = 512 * 1024  # an application's JSON, with long code lists in its criteria

Section = Literal[SECTIONS]  # type: ignore[valid-type]
State = Literal[STATES]  # type: ignore[valid-type]
Text = Annotated[str, Field(max_length=5000)]


def _decider(ctx: WebContext) -> Actor:
    """A session in production needs a code typed now; a token was given its second factor (or not) from the
    same header when the request was authenticated."""
    assert ctx.actor is not None
    if ctx.via != "session" or ctx.hub.development:
        return ctx.actor
    code = ctx.request.headers.get(TOTP_HEADER, "").strip()
    ok = bool(code) and verify_totp(ctx.hub, ctx.actor.username, code[:16])
    return replace(ctx.actor, strong_auth=ok)


class Created(BaseModel):
    id: int
    state: str
    revision: int


class Summary(BaseModel):
    id: int
    title: str
    applicant: str
    org: str
    org_kind: str
    state: str
    revision: int
    due: str | None
    answer_due: str | None
    updated_at: str | None


class WithdrawIn(BaseModel):
    reason: Text | None = None


class CheckIn(BaseModel):
    complete: bool
    reason: Text


class Conflict(BaseModel):
    member: Annotated[str, Field(max_length=64)]
    declaration: Annotated[str, Field(max_length=1000)]


class OpinionIn(BaseModel):
    outcome: Literal["favourable", "unfavourable", "revise"]
    reason: Text
    panel: Literal["scientific", "citizens"] = "scientific"
    rapporteur: Annotated[str, Field(max_length=64)] | None = None
    present: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] | None = None
    vote: dict[Literal["for", "against", "abstain"], Annotated[int, Field(ge=0, le=1000)]] | None = None
    conflicts: Annotated[list[Conflict], Field(max_length=100)] = []


class DecisionIn(BaseModel):
    authorise: bool
    reason: Text


class ExtensionIn(BaseModel):
    reason: Text


class NoteIn(BaseModel):
    section: Section
    text: Text
    to_applicant: bool = False


def _summary(s: Any) -> Summary:
    return Summary(**s.to_dict())


async def _body(ctx: WebContext) -> dict[str, Any]:
    from guichet.errors import BadInput

    try:
        data = await ctx.request.json()
    except ValueError:
        raise BadInput("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadInput("an application is a JSON object (see examples/application.json)")
    return data


@router.api("/api/applications", permission="application.create", methods=("POST",), response_model=Created,
            responses=ERRORS, tags=TAGS, max_body=MAX_APPLICATION,
            summary="Create a draft application (body: the application's JSON, examples/application.json)")
async def create(ctx: Ctx) -> Created:
    actor = ctx.actor
    assert actor is not None
    content = await _body(ctx)
    s = await run_in_threadpool(lambda: access.create(ctx.hub, actor, content=content))
    return Created(id=s.id, state=s.state, revision=s.revision)


@router.api("/api/applications", permission="application.list", response_model=list[Summary], responses=ERRORS,
            tags=TAGS, summary="Applications with their states and due dates (an applicant: their own)")
def list_(ctx: Ctx, state: State | None = None, mine: bool = False) -> list[Summary]:
    assert ctx.actor is not None
    return [_summary(s) for s in access.list_applications(ctx.hub, ctx.actor, state=state, mine=mine)]


@router.api("/api/applications/{application_id}", permission="application.show",
            responses=NOT_FOUND, tags=TAGS,
            summary="An application: contents, state, due, history, opinions, notes (as guichet application show)")
def show(ctx: Ctx, application_id: Number) -> dict[str, Any]:
    assert ctx.actor is not None
    return access.show(ctx.hub, ctx.actor, application_id=application_id).to_dict()


@router.api("/api/applications/{application_id}/diff", permission="application.diff",
            responses=NOT_FOUND, tags=TAGS, summary="What changed between two revisions, section by section")
def diff(ctx: Ctx, application_id: Number, from_revision: Annotated[OptionalNumber, Query(alias="from")] = None,
         to_revision: Annotated[OptionalNumber, Query(alias="to")] = None) -> dict[str, Any]:
    assert ctx.actor is not None
    return access.diff(ctx.hub, ctx.actor, application_id=application_id, from_revision=from_revision,
                       to_revision=to_revision).to_dict()


@router.api("/api/applications/{application_id}/submit", permission="application.submit", methods=("POST",),
            response_model=Summary, responses=NOT_FOUND, tags=TAGS,
            summary="Submit your draft: the completeness check's clock starts")
def submit(ctx: Ctx, application_id: Number) -> Summary:
    assert ctx.actor is not None
    return _summary(access.submit(ctx.hub, ctx.actor, application_id=application_id))


@router.api("/api/applications/{application_id}/withdraw", permission="application.withdraw", methods=("POST",),
            response_model=Summary, responses=NOT_FOUND, tags=TAGS,
            summary="Withdraw your application before the decision")
def withdraw(ctx: Ctx, application_id: Number, body: WithdrawIn | None = None) -> Summary:
    assert ctx.actor is not None
    return _summary(access.withdraw(ctx.hub, ctx.actor, application_id=application_id,
                                    reason=body.reason if body else None))


@router.api("/api/applications/{application_id}/answer", permission="application.answer", methods=("POST",),
            response_model=Summary, responses=NOT_FOUND, tags=TAGS, max_body=MAX_APPLICATION,
            summary="Answer the questions on your application, or edit your draft (body: the whole application)")
async def answer(ctx: Ctx, application_id: Number) -> Summary:
    actor = ctx.actor
    assert actor is not None
    content = await _body(ctx)
    return _summary(await run_in_threadpool(
        lambda: access.answer(ctx.hub, actor, application_id=application_id, content=content)))


@router.api("/api/applications/{application_id}/check", permission="application.check", methods=("POST",),
            response_model=Summary, responses=NOT_FOUND, tags=TAGS,
            summary="Completeness check, a decision (X-Guichet-TOTP with a token)")
def check(ctx: Ctx, application_id: Number, body: CheckIn) -> Summary:
    return _summary(access.check(ctx.hub, _decider(ctx), application_id=application_id, complete=body.complete,
                                 reason=body.reason))


@router.api("/api/applications/{application_id}/opinion", permission="application.opinion", methods=("POST",),
            response_model=Summary, responses=NOT_FOUND, tags=TAGS,
            summary="A panel's opinion, a decision (X-Guichet-TOTP with a token)")
def opinion(ctx: Ctx, application_id: Number, body: OpinionIn) -> Summary:
    return _summary(access.opinion(ctx.hub, _decider(ctx), application_id=application_id, outcome=body.outcome,
                                   reason=body.reason, panel=body.panel, rapporteur=body.rapporteur,
                                   present=body.present, vote={str(k): v for k, v in body.vote.items()} if body.vote else None,
                                   conflicts=[c.model_dump() for c in body.conflicts]))


@router.api("/api/applications/{application_id}/decision", permission="application.decide", methods=("POST",),
            response_model=Summary, responses=NOT_FOUND, tags=TAGS,
            summary="The authority's decision (X-Guichet-TOTP with a token)")
def decide(ctx: Ctx, application_id: Number, body: DecisionIn) -> Summary:
    return _summary(access.decide(ctx.hub, _decider(ctx), application_id=application_id, authorise=body.authorise,
                                  reason=body.reason))


@router.api("/api/applications/{application_id}/extension", permission="application.extend", methods=("POST",),
            response_model=Summary, responses=NOT_FOUND, tags=TAGS,
            summary="Extend the decision's due date once (X-Guichet-TOTP with a token)")
def extend(ctx: Ctx, application_id: Number, body: ExtensionIn) -> Summary:
    return _summary(access.extend(ctx.hub, _decider(ctx), application_id=application_id, reason=body.reason))


@router.api("/api/applications/{application_id}/notes", permission="application.note", methods=("POST",),
            responses=NOT_FOUND, tags=TAGS,
            summary="A reviewer's note on a section, private to the reviewers or addressed to the applicant")
def note(ctx: Ctx, application_id: Number, body: NoteIn) -> dict[str, Any]:
    assert ctx.actor is not None
    return access.note(ctx.hub, ctx.actor, application_id=application_id, section=body.section, text=body.text,
                       to_applicant=body.to_applicant).to_dict()


@router.api("/api/panels", permission="panel.list", responses=ERRORS, tags=TAGS,
            summary="The panels' members with their organisations")
def panels(ctx: Ctx) -> list[dict[str, Any]]:
    assert ctx.actor is not None
    return [m.to_dict() for m in access.list_members(ctx.hub, ctx.actor)]
