"""The statistics requests' pages: a requester's list and form (the JSON specification pasted or uploaded),
a request with its clocks and, once released, its tables; the operators' assessment queue with its clocks,
their assessment and "compute the answer" forms; the checker's review of an answer (each table's withheld
cells and why). Listed once in ``guichet.web.app.ROUTER_MODULES``."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from guichet.airlock.safe import SERVE_HEADERS
from guichet.errors import BadInput, GuichetError, NotFound, Refused
from guichet.governance import Resource
from guichet.governance.permissions import authorize
from guichet.stats import services
from guichet.web.context import WebContext
from guichet.web.pages_base import render
from guichet.web.routing import Ctx, GuardedRouter
from guichet.web.site import Panel

HERE = Path(__file__).parent
router = GuardedRouter(templates=HERE / "templates", locales=HERE / "locales")
MAX_FORM = 16_384
MAX_SPEC = 64 << 10
TABLE_ROWS = 50
EXAMPLE = HERE / "schemas" / "statistics-request.example.json"  # the same as examples/statistics-request.json


def _tables(ctx: WebContext, r: dict[str, Any]) -> list[dict[str, Any]]:
    """The released tables' first rows, to read on the page."""
    out = []
    for f in ((r.get("answer") or {}).get("files") or []) if r["state"] == "released" else []:
        path = Path(f)
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))[: TABLE_ROWS + 1]
        if rows:
            out.append({"name": path.name, "header": rows[0], "rows": rows[1:]})
    return out


def _page(ctx: WebContext, request: str, error: str | None = None, status: int = 200, done: str = "") -> HTMLResponse:
    actor = ctx.actor
    assert actor is not None
    r = services.show(ctx.hub, actor, request=request)
    res = Resource("statistics request", r["id"], owner=r["requester"], org=r.get("org"))
    may_assess = ((r["state"] == "submitted" and "operator" in actor.roles)
                  or (r["state"] == "committee" and "committee" in actor.roles)) and bool(authorize(actor, "stats.assess", res))
    may_answer = r["state"] in ("accepted", "review") and bool(authorize(actor, "stats.answer", res))
    may_review = r["state"] == "review" and bool(authorize(actor, "stats.review", res))
    return render(ctx, "stats_request.html", status=status, r=r, error=error, done=done, may_assess=may_assess,
                  may_answer=may_answer, may_review=may_review, tables=_tables(ctx, r), full="assessed_by" in r,
                  spec_text=json.dumps(r["spec"], ensure_ascii=False, indent=1))


@router.page("/stats", permission="stats.list", nav="nav.stats", nav_order=63,
             summary="Statistics requests one may see, with their clocks (operators: the assessment queue)")
async def list_page(ctx: Ctx) -> HTMLResponse:
    assert ctx.actor is not None
    items = await run_in_threadpool(services.listing, ctx.hub, ctx.actor)
    return render(ctx, "stats_list.html", items=items,
                  may_request=bool(authorize(ctx.actor, "stats.request")))


def _form(ctx: WebContext, text: str = "", error: str | None = None, status: int = 200) -> HTMLResponse:
    if not text:
        text = EXAMPLE.read_text(encoding="utf-8")
    return render(ctx, "stats_new.html", status=status, text=text, error=error)


@router.page("/stats/new", permission="stats.request", summary="The statistics request form (a JSON specification)")
async def new_page(ctx: Ctx) -> HTMLResponse:
    return _form(ctx)


@router.page("/stats/new", permission="stats.request", methods=("POST",), max_body=MAX_SPEC + MAX_FORM,
             summary="Submit a statistics request: the specification pasted or uploaded",
             responses={303: {"description": "to the request"}})
async def submit_page(ctx: Ctx) -> Response:
    actor = ctx.actor
    assert actor is not None
    form = await ctx.request.form()
    upload = form.get("file")
    text = str(form.get("spec") or "")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_SPEC + 1)
        text = raw.decode("utf-8", "replace") if len(raw) <= MAX_SPEC else ""

    def act() -> Response:
        try:
            try:
                spec = json.loads(text)
            except ValueError:
                raise BadInput("the specification is not a JSON document") from None
            if not isinstance(spec, dict):
                raise BadInput("the specification is a JSON object")
            out = services.submit(ctx.hub, actor, spec=spec)
        except (BadInput, Refused) as exc:
            return _form(ctx, text, error=exc.message, status=403 if isinstance(exc, Refused) else 400)
        return RedirectResponse(f"/stats/{out['id']}?done=submitted", status_code=303)

    return await run_in_threadpool(act)


@router.page("/stats/{request}", permission="stats.show",
             summary="A statistics request: its specification, clocks, state and released tables")
async def request_page(ctx: Ctx, request: str, done: str = "") -> HTMLResponse:
    return await run_in_threadpool(_page, ctx, request, None, 200, done[:20])


async def _act(ctx: Ctx, request: str, done: str, call: Any) -> Response:
    actor = ctx.actor
    assert actor is not None
    form = await ctx.request.form()

    def act() -> Response:
        try:
            call(actor, form)
        except (BadInput, Refused) as exc:
            if isinstance(exc, NotFound):
                raise
            return _page(ctx, request, error=exc.message, status=403 if isinstance(exc, Refused) else 400)
        except GuichetError as exc:
            return _page(ctx, request, error=exc.message, status=409)
        return RedirectResponse(f"/stats/{request}?done={done}", status_code=303)

    return await run_in_threadpool(act)


@router.page("/stats/{request}/assess", permission="stats.assess", methods=("POST",), max_body=MAX_FORM,
             summary="Accept or refuse a statistics request with a reason",
             responses={303: {"description": "back to the request"}})
async def assess_page(ctx: Ctx, request: str) -> Response:
    return await _act(ctx, request, "assessed", lambda actor, form: services.assess(
        ctx.hub, actor, request=request, accept=str(form.get("decision")) == "accept",
        reason=str(form.get("reason") or "")))


@router.page("/stats/{request}/answer", permission="stats.answer", methods=("POST",), max_body=MAX_FORM,
             summary="Compute a statistics request's answer (sandboxed session, airlock checks, ledger)",
             responses={303: {"description": "back to the request"}})
async def answer_page(ctx: Ctx, request: str) -> Response:
    return await _act(ctx, request, "answered", lambda actor, _form: services.answer(ctx.hub, actor, request=request))


@router.page("/stats/{request}/review", permission="stats.review", methods=("POST",), max_body=MAX_FORM,
             summary="The checker's decision on a statistics answer",
             responses={303: {"description": "back to the request"}})
async def review_page(ctx: Ctx, request: str) -> Response:
    return await _act(ctx, request, "reviewed", lambda actor, form: services.review(
        ctx.hub, actor, request=request, approve=str(form.get("decision")) == "approve",
        reason=str(form.get("reason") or "")))


@router.page("/stats/{request}/files/{name}", permission="stats.download",
             summary="A released statistics table, as an attachment")
async def file_page(ctx: Ctx, request: str, name: str) -> Response:
    assert ctx.actor is not None
    path = await run_in_threadpool(services.download, ctx.hub, ctx.actor, request=request, name=name)
    headers = dict(SERVE_HEADERS)
    headers["Content-Disposition"] = f'attachment; filename="{path.name}"'
    return FileResponse(path, media_type="text/csv", headers=headers)


@router.home_panel(permission="stats.list", order=45)
def queue_panel(ctx: WebContext) -> Panel | None:
    """Operators: requests waiting for assessment or an answer, with their due dates; checkers: answers in
    review."""
    actor = ctx.actor
    if actor is None:
        return None
    wanted = {"operator": ("submitted", "accepted"), "checker": ("review",), "committee": ("committee",)}
    states = {s for role, ss in wanted.items() if role in actor.roles for s in ss}
    if not states:
        return None
    items = [{"label": f"{x['id']} {x['title']}",
              "detail": ctx.t("stats.due", date=x["answer_due"] or x["assessment_due"]),
              "href": f"/stats/{x['id']}"}
             for x in services.listing(ctx.hub, actor) if x["state"] in states]
    return Panel("stats.panel", items[:10], "/stats", "stats.panel.none", 45)
