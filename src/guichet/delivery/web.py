"""The producers' channel on the web: the resumable upload API for scripts, and the producers' pages.

API (token or session + CSRF header): ``POST /api/deliveries`` opens an upload (name, size, SHA-256),
``PUT /api/deliveries/{id}/chunks/{n}`` sends chunk ``n`` (any order, again if cut), ``GET
/api/deliveries/{id}`` says what arrived (``missing``) so that a client resumes, ``POST
/api/deliveries/{id}/submit`` checks the SHA-256 and deposits. Pages: the producer's deliveries with the
yearly review reminders, an upload form (the same services, chunk by chunk, on the server side), and each
delivery's receipt, deposit result and rejection report.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.responses import HTMLResponse, RedirectResponse, Response

from guichet.catalogue import services as catalogue
from guichet.delivery import services as svc
from guichet.delivery.model import DeliveryInfo, split_rule
from guichet.delivery.uploads import MAX_CHUNK_BYTES, Limits, UploadRequest
from guichet.deposit import services as deposits
from guichet.errors import BadInput, GuichetError
from guichet.governance import authorize
from guichet.web.context import WebContext, WebState
from guichet.web.errors import WebError
from guichet.web.pages_base import render
from guichet.web.routing import MAX_INT, Ctx, GuardedRouter, Number

HERE = Path(__file__).parent
router = GuardedRouter(templates=HERE / "templates", locales=HERE / "locales")
SHOWN_ROWS = 200  # rejection rows shown on the page; the download has them all
MULTIPART_SLACK = 1 << 20  # the browser's form around the file: boundaries, headers, the other fields


class OpenIn(BaseModel):
    filename: str = Field(..., max_length=200)
    size: int = Field(..., ge=1)
    sha256: str = Field(..., max_length=64)
    kind: str | None = Field(None, pattern="^(archive|file)$")
    dataset: str | None = Field(None, max_length=128)
    mode: str = Field("replace", pattern="^(replace|append)$")
    identifiers: list[str] = Field(default_factory=list, max_length=100)
    delimiter: str | None = Field(None, max_length=1)
    producer: str | None = Field(None, max_length=64)


def _out(d: DeliveryInfo) -> dict[str, Any]:
    out = d.to_dict()
    out["chunk_url"] = f"/api/deliveries/{d.id}/chunks/{{n}}"
    return out


# --- API ----------------------------------------------------------------------------------------------

@router.api("/api/deliveries", permission="delivery.open", methods=("POST",), tags=["deliveries"], status_code=201,
            summary="Open a resumable upload of a delivery file (its name, size and SHA-256 are declared)")
def api_open(ctx: Ctx, body: OpenIn) -> dict[str, Any]:
    assert ctx.actor is not None
    req = UploadRequest(body.filename, body.size, body.sha256, body.kind, body.dataset, body.mode,
                        tuple(body.identifiers), body.delimiter, body.producer)
    return _out(svc.open_delivery(ctx.hub, ctx.actor, request=req))


@router.api("/api/deliveries", permission="delivery.list", tags=["deliveries"],
            summary="Deliveries, newest first (a producer: only its own)")
def api_list(ctx: Ctx) -> list[dict[str, Any]]:
    assert ctx.actor is not None
    return [_out(d) for d in svc.list_deliveries(ctx.hub, ctx.actor)]


@router.api("/api/deliveries/{delivery_id}", permission="delivery.show", tags=["deliveries"],
            summary="A delivery: bytes received and missing chunks (to resume), receipt, deposit result")
def api_show(ctx: Ctx, delivery_id: str) -> dict[str, Any]:
    assert ctx.actor is not None
    return _out(svc.show_delivery(ctx.hub, ctx.actor, delivery_id=delivery_id))


async def _body(ctx: WebContext, limit: int) -> bytes:
    length = ctx.request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise WebError(413, "too_large", f"a chunk is at most {limit} bytes", "error.too_large")
    data = bytearray()
    async for part in ctx.request.stream():
        data += part
        if len(data) > limit:
            raise WebError(413, "too_large", f"a chunk is at most {limit} bytes", "error.too_large")
    return bytes(data)


def _chunk_limit(state: WebState) -> int:
    return min(Limits.of(state.hub).chunk_bytes, MAX_CHUNK_BYTES)


def _form_limit(state: WebState) -> int:
    return Limits.of(state.hub).max_bytes + MULTIPART_SLACK


@router.api("/api/deliveries/{delivery_id}/chunks/{number}", permission="delivery.upload", methods=("PUT",),
            tags=["deliveries"], max_body=_chunk_limit,
            openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}}},
            summary="Send chunk N (0-based, of the size given when opened); sending it again replaces it")
async def api_chunk(ctx: Ctx, delivery_id: str, number: Number) -> dict[str, Any]:
    assert ctx.actor is not None
    actor = ctx.actor
    data = await _body(ctx, min(Limits.of(ctx.hub).chunk_bytes, MAX_CHUNK_BYTES))
    found = await run_in_threadpool(lambda: svc.upload_chunk(ctx.hub, actor, delivery_id=delivery_id, number=number,
                                                             data=data))
    return _out(found)


@router.api("/api/deliveries/{delivery_id}/submit", permission="delivery.submit", methods=("POST",),
            tags=["deliveries"],
            summary="Check the SHA-256 of the whole file, deposit it, and return the receipt and the result")
def api_submit(ctx: Ctx, delivery_id: str) -> dict[str, Any]:
    assert ctx.actor is not None
    return _out(svc.submit_delivery(ctx.hub, ctx.actor, delivery_id=delivery_id))


@router.api("/api/deliveries/{delivery_id}/rejections", permission="deposit.rejections", tags=["deliveries"],
            summary="The rejection report: row, rule and field of every quarantined row, and the cells the hub may "
                    "read (identifier cells stay sealed)")
def api_rejections(ctx: Ctx, delivery_id: str) -> list[dict[str, Any]]:
    assert ctx.actor is not None
    return _rejections(ctx, svc.show_delivery(ctx.hub, ctx.actor, delivery_id=delivery_id), limit=None)


@router.api("/api/deliveries/{delivery_id}/sealed-report", permission="delivery.report", tags=["deliveries"],
            summary="Download the rejection report with the identifier cells sealed to the producer's public key")
def api_sealed(ctx: Ctx, delivery_id: str) -> Response:
    assert ctx.actor is not None
    report = svc.sealed_report(ctx.hub, ctx.actor, delivery_id=delivery_id)
    return Response(json.dumps(report, ensure_ascii=False, indent=1), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{delivery_id}-rejections.sealed.json"'})


def _rejections(ctx: WebContext, d: DeliveryInfo, limit: int | None = SHOWN_ROWS) -> list[dict[str, Any]]:
    assert ctx.actor is not None
    rows: list[dict[str, Any]] = []
    for dep in d.deposits:
        if not dep.get("rows_quarantined") or not dep.get("deposit_id"):
            continue
        found = deposits.rejections(ctx.hub, ctx.actor, deposit_id=dep["deposit_id"])
        for r in found:
            rows.append({"dataset": dep["dataset"], "deposit_id": dep["deposit_id"], "row": r["row"],
                         "rules": [dict(zip(("rule", "field"), split_rule(x), strict=True)) for x in r["rules"]],
                         "cells": r["cells"]})
            if limit is not None and len(rows) >= limit:
                return rows
    return rows


# --- pages --------------------------------------------------------------------------------------------

def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.page("/deliveries", permission="delivery.list", nav="nav.deliveries", nav_order=12,
             summary="A producer's deliveries, the upload form and the yearly description reviews")
def deliveries_page(ctx: Ctx, reviewed: str | None = None) -> HTMLResponse:
    assert ctx.actor is not None
    found = svc.list_deliveries(ctx.hub, ctx.actor)
    deposited = svc.list_deposits(ctx.hub, ctx.actor) if authorize(ctx.actor, "delivery.deposits") else []
    due = catalogue.due_reviews(ctx.hub, ctx.actor) if authorize(ctx.actor, "catalogue.reminders") else []
    return render(ctx, "deliveries.html", deliveries=found, deposited=deposited, due=due, reviewed=reviewed,
                  can_see_datasets=bool(authorize(ctx.actor, "lake.datasets")),
                 can_upload=bool(authorize(ctx.actor, "delivery.open")),
                 can_review=bool(authorize(ctx.actor, "catalogue.review")), limits=Limits.of(ctx.hub))


@router.page("/deliveries", permission="delivery.open", methods=("POST",), max_body=_form_limit,
             summary="Upload a delivery from the browser (a .zip delivery folder or one CSV file) and deposit it",
             responses={303: {"description": "deposited: go to the delivery's receipt"}})
async def upload_page(ctx: Ctx, file: Annotated[UploadFile, File()],
                      dataset: Annotated[str, Form(max_length=128)] = "",
                      sha256: Annotated[str, Form(max_length=64)] = "",
                      mode: Annotated[str, Form(pattern="^(replace|append)$")] = "replace") -> Response:
    assert ctx.actor is not None
    actor = ctx.actor
    limits = Limits.of(ctx.hub)
    filename = (file.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    size = file.size if file.size is not None else 0
    if not filename or size < 1:
        raise BadInput("file: choose a non-empty file")
    if size > limits.max_bytes:
        raise BadInput(f"file: {size} bytes is over this hub's limit of {limits.max_bytes} bytes per delivery")
    digest = hashlib.sha256()
    while block := await file.read(1 << 20):
        digest.update(block)
    actual = digest.hexdigest()
    if sha256.strip() and sha256.strip().lower() != actual:
        raise BadInput("sha256: the file received does not have the SHA-256 you gave; nothing was deposited")
    await file.seek(0)
    req = UploadRequest(filename, size, actual, None, dataset.strip() or None, mode)
    opened = await run_in_threadpool(lambda: svc.open_delivery(ctx.hub, actor, request=req))
    for n in range(opened.chunks):
        data = await file.read(opened.chunk_size)
        await run_in_threadpool(svc.upload_chunk, ctx.hub, actor, delivery_id=opened.id, number=n, data=data)
    await run_in_threadpool(lambda: svc.submit_delivery(ctx.hub, actor, delivery_id=opened.id))
    return _see_other(f"/deliveries/{opened.id}")


@router.page("/deliveries/{delivery_id}", permission="delivery.show",
             summary="A delivery's receipt, its deposit result and its rejection report")
def delivery_page(ctx: Ctx, delivery_id: str, retracted: str | None = None) -> HTMLResponse:
    assert ctx.actor is not None
    d = svc.show_delivery(ctx.hub, ctx.actor, delivery_id=delivery_id)
    rows: list[dict[str, Any]] = []
    error = None
    if any(dep.get("rows_quarantined") for dep in d.deposits):
        try:
            rows = _rejections(ctx, d)
        except GuichetError as exc:  # e.g. the quarantine was purged after its retention period
            error = exc.message
    quarantined = sum(int(dep.get("rows_quarantined") or 0) for dep in d.deposits)
    return render(ctx, "delivery.html", d=d, rows=rows, rows_error=error, quarantined=quarantined,
                 shown=len(rows), retracted=retracted,
                 can_report=bool(authorize(ctx.actor, "delivery.report")),
                 can_retract=bool(authorize(ctx.actor, "catalogue.retract")))


@router.page("/deliveries/{delivery_id}/retract", permission="catalogue.retract", methods=("POST",),
             summary="Retract a deposited version, or mark it superseded by a later one, with a published reason",
             responses={303: {"description": "back to the delivery"}})
def retract_page(ctx: Ctx, delivery_id: str, dataset: Annotated[str, Form(max_length=128)],
                 version: Annotated[int, Form(ge=1, le=MAX_INT)], reason: Annotated[str, Form(max_length=2000)],
                 replaced_by: Annotated[str, Form(max_length=12)] = "") -> Response:
    assert ctx.actor is not None
    d = svc.show_delivery(ctx.hub, ctx.actor, delivery_id=delivery_id)
    if not any(dep.get("dataset") == dataset and dep.get("version") == version for dep in d.deposits):
        raise BadInput(f"delivery {delivery_id} has no version {version} of {dataset}")
    newer = int(replaced_by) if replaced_by.strip().isdigit() else None
    note = catalogue.retract_version(ctx.hub, ctx.actor, dataset=dataset, version=version, reason=reason,
                                     replaced_by=newer)
    return _see_other(f"/deliveries/{delivery_id}?retracted={note['action']}")


@router.page("/deliveries/reviews/{product_id}", permission="catalogue.review", methods=("POST",),
             summary="Confirm the yearly review of a product's description (a producer: its own products)",
             responses={303: {"description": "back to the deliveries"}})
def review_page(ctx: Ctx, product_id: str) -> Response:
    assert ctx.actor is not None
    info = catalogue.review_product(ctx.hub, ctx.actor, product_id=product_id)
    return _see_other(f"/deliveries?reviewed={info.id}")
