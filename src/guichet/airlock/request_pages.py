"""The output requests' pages: the list of requests one may act on (a checker's waiting ones, those proposed
to them first; also a home-page panel), a request with its groups (context, controls, comments), its files
with their automatic verdicts (one file's cells at a time, with ``airlock_result.html``), the differencing
flags, the related released tables of the same project side by side, the votes once they may be seen, and
the checker's review form; the sampled approved requests due for a re-check (a checker's list) and the
re-check form (confirm, or a concern with its reason, through ``request_services.recheck``); released files
served as attachments under a sandboxing policy."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

from fastapi import Query
from fastapi.concurrency import run_in_threadpool
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from guichet.airlock import request_services as rs
from guichet.airlock.check import check_file
from guichet.airlock.pages import result_view
from guichet.airlock.safe import SERVE_HEADERS
from guichet.errors import BadInput, GuichetError, NotFound, Refused
from guichet.governance.permissions import authorize
from guichet.web.context import WebContext
from guichet.web.login import PUBLIC as PUBLIC_ACTOR
from guichet.web.pages_base import render
from guichet.web.routing import PUBLIC, Ctx, GuardedRouter
from guichet.web.site import Panel

HERE = Path(__file__).parent
router = GuardedRouter(templates=HERE / "templates", locales=HERE / "locales")
MAX_FORM = 16_384
RELATED_ROWS = 30


def _check_view(ctx: WebContext, answer: dict[str, Any], file: str) -> dict[str, Any] | None:
    """The chosen file's cells, re-read from the workspace when it is still the file submitted."""
    item = next((f for f in answer["files"] if f["file"] == file and not f["supporting"]), None)
    if item is None:
        return None
    path = ctx.hub.config.home / "workspaces" / answer["permit"] / "outputs" / file
    try:
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != item["sha256"]:
            return None
        result = check_file(path, str(item["check"].get("rules") or "snds"))
    except GuichetError:
        return None
    return result_view(result, ctx.locale)


def _related(ctx: WebContext, answer: dict[str, Any], file: str) -> list[dict[str, Any]]:
    """Released tables of the same project named by the file's differencing flags, shown beside it."""
    if ctx.actor is None or "author" == answer.get("_role"):
        return []
    item = next((f for f in answer["files"] if f["file"] == file), None)
    if item is None or not any(x.get("same_project") for x in item.get("ledger", [])):
        return []
    out = []
    released = ctx.hub.config.home / "outputs" / "released"
    for folder in sorted(released.glob("R-*")) if released.is_dir() else []:
        if folder.name == answer["request"]:
            continue
        for table in sorted(folder.glob("*.csv"))[:3]:
            try:
                other = rs.show(ctx.hub, ctx.actor, request=folder.name)
            except GuichetError:
                break
            if other["permit"] != answer["permit"]:
                break
            with table.open(encoding="utf-8") as f:
                rows = list(csv.reader(f))[: RELATED_ROWS + 1]
            if rows:
                out.append({"request": folder.name, "file": table.name, "header": rows[0], "rows": rows[1:]})
    return out


def _due(ctx: WebContext) -> list[dict[str, Any]]:
    """The sampled approved requests the caller may re-check (the service says who may)."""
    assert ctx.actor is not None
    return [x for x in rs.waiting(ctx.hub, ctx.actor) if x["recheck"]]


def _page(ctx: WebContext, request: str, file: str = "", error: str | None = None, status: int = 200,
          done: str = "") -> HTMLResponse:
    assert ctx.actor is not None
    answer = rs.show(ctx.hub, ctx.actor, request=request)
    role = "operator" if "operator" in ctx.actor.roles else (
        "checker" if "checker" in ctx.actor.roles and "proposed" in answer else "author")
    answer["_role"] = role
    outputs = [f["file"] for f in answer["files"] if not f["supporting"]]
    chosen = file if file in outputs else (outputs[0] if outputs else "")
    check = _check_view(ctx, answer, chosen) if chosen else None
    can_review = role == "checker" and answer["state"] == "checked" and bool(authorize(ctx.actor, "airlock.review")) \
        and any("my_decision" not in f for f in answer["files"] if not f["supporting"])
    can_recheck = role == "checker" and bool(authorize(ctx.actor, "airlock.recheck")) \
        and any(x["request"] == request for x in _due(ctx))
    return render(ctx, "airlock_request.html", status=status, r=answer, role=role, chosen=chosen, check=check,
                  related=_related(ctx, answer, chosen), can_review=can_review, can_recheck=can_recheck,
                  verdicts=rs.RECHECK_VERDICTS, error=error, done=done, outputs=outputs)


@router.page("/airlock/requests", permission="airlock.requests", nav="nav.airlock_requests", nav_order=61,
             summary="The output requests one may act on (a checker: the waiting ones, those proposed first)")
async def requests_page(ctx: Ctx) -> HTMLResponse:
    assert ctx.actor is not None
    items = await run_in_threadpool(rs.waiting, ctx.hub, ctx.actor)
    # the list of re-checks has no menu entry (the menu shows a permission held without conditions; a
    # re-check's are the request's): a checker reaches it from here
    rechecks = sum(1 for x in items if x["recheck"]) if authorize(ctx.actor, "airlock.recheck") else None
    return render(ctx, "airlock_requests.html", items=items, rechecks=rechecks)


@router.page("/airlock/requests/{request}", permission="airlock.show",
             summary="An output request: groups, files with their verdicts cell by cell, turns and comments")
async def request_page(ctx: Ctx, request: str, file: str = Query("", max_length=400),
                       done: str = Query("", max_length=20)) -> HTMLResponse:
    return await run_in_threadpool(_page, ctx, request, file, None, 200, done)


@router.page("/airlock/requests/{request}/review", permission="airlock.review", methods=("POST",),
             max_body=MAX_FORM, summary="A checker's decision on an output request (one file or every file)",
             responses={303: {"description": "back to the request"}})
async def review_page(ctx: Ctx, request: str) -> Response:
    actor = ctx.actor
    assert actor is not None
    form = await ctx.request.form()
    decision, reason, file = str(form.get("decision") or ""), str(form.get("reason") or ""), str(form.get("file") or "")

    def act() -> Response:
        try:
            rs.review(ctx.hub, actor, request=request, decision=decision, reason=reason, file=file or None)
        except (BadInput, Refused) as exc:
            if isinstance(exc, NotFound):
                raise
            return _page(ctx, request, file, error=exc.message, status=403 if isinstance(exc, Refused) else 400)
        return RedirectResponse(f"/airlock/requests/{request}?done=reviewed", status_code=303)

    return await run_in_threadpool(act)


@router.page("/airlock/rechecks", permission="airlock.recheck",
             summary="The sampled approved requests due for a re-check by the caller (an independent checker)")
async def rechecks_page(ctx: Ctx, done: str = Query("", max_length=20)) -> HTMLResponse:
    items = await run_in_threadpool(_due, ctx)
    return render(ctx, "airlock_rechecks.html", items=items, done=done if done == "rechecked" else "")


@router.page("/airlock/requests/{request}/recheck", permission="airlock.recheck", methods=("POST",),
             max_body=MAX_FORM, summary="A checker's re-check of a sampled approved request: confirmed or a concern",
             responses={303: {"description": "back to the list of re-checks"}})
async def recheck_page(ctx: Ctx, request: str) -> Response:
    actor = ctx.actor
    assert actor is not None
    form = await ctx.request.form()
    verdict, reason = str(form.get("verdict") or ""), str(form.get("reason") or "")

    def act() -> Response:
        try:
            rs.recheck(ctx.hub, actor, request=request, verdict=verdict, reason=reason)
        except (BadInput, Refused) as exc:
            if isinstance(exc, NotFound):
                raise
            return _page(ctx, request, error=exc.message, status=403 if isinstance(exc, Refused) else 400)
        return RedirectResponse("/airlock/rechecks?done=rechecked", status_code=303)

    return await run_in_threadpool(act)


@router.page("/airlock/released/{request}/{name}", permission="airlock.download",
             summary="A released file, as an attachment under a sandboxing content security policy")
async def released_file(ctx: Ctx, request: str, name: str) -> Response:
    assert ctx.actor is not None
    path = await run_in_threadpool(rs.download, ctx.hub, ctx.actor, request=request, name=name)
    headers = dict(SERVE_HEADERS)
    headers["Content-Disposition"] = f'attachment; filename="{path.name}"'
    return FileResponse(path, media_type="application/octet-stream", headers=headers)


@router.page("/results/{request}/{name}", permission=PUBLIC,
             summary="A published result, for anyone without an account, as an attachment under a sandboxing policy")
async def public_file(ctx: Ctx, request: str, name: str) -> Response:
    path = await run_in_threadpool(rs.public_download, ctx.hub, ctx.actor or PUBLIC_ACTOR, request=request, name=name)
    headers = dict(SERVE_HEADERS)
    headers["Content-Disposition"] = f'attachment; filename="{path.name}"'
    return FileResponse(path, media_type="application/octet-stream", headers=headers)


@router.home_panel(permission="airlock.requests", order=40)
def waiting_panel(ctx: WebContext) -> Panel | None:
    """Checkers: the output requests waiting for their review (those proposed to them first), then the sampled
    approved requests they may re-check (marked)."""
    actor = ctx.actor
    if actor is None or "checker" not in actor.roles:
        return None
    items = [{"label": f"{x['request']} {x['title']}",
              "detail": f"{x['permit']} ({ctx.t('airlock.recheck_for_you')})" if x["recheck"] else x["permit"],
              "href": f"/airlock/requests/{x['request']}"}
             for x in rs.waiting(ctx.hub, actor)]
    return Panel("airlock.panel_waiting", items[:10], "/airlock/requests", "airlock.panel_waiting.none", 40)
