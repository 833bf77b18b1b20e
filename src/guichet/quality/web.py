"""The datasets as operators and producers follow them: every version with its status, accounting, quality
label, lineage and served quality report; publication of a held version by override, with its reason.

Listing reads the lake's register (``lake.datasets``: a producer sees its organisation's datasets only);
the report is the quality stage's own, served as the self-contained page ``guichet quality report`` writes
(its inline style allowed by hash, nothing else); the override is the ``quality.override`` decision, which
in production needs a current second-factor code typed in the form.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import Form
from fastapi.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from guichet.accounts.auth import verify_totp
from guichet.errors import NotFound
from guichet.governance import authorize
from guichet.lake import services as lake
from guichet.quality import services as quality
from guichet.quality.report import CSS
from guichet.quality.report import render as render_report
from guichet.quality.store import check_rows_visible
from guichet.web.context import WebContext
from guichet.web.pages_base import render
from guichet.web.routing import Ctx, GuardedRouter, Number, OptionalNumber
from guichet.web.site import Panel

HERE = Path(__file__).parent
router = GuardedRouter(templates=HERE / "templates", locales=HERE / "locales")
# The report's one inline style sheet is allowed by its hash; no script, no other origin, no form.
REPORT_CSP = ("default-src 'none'; style-src 'sha256-"
              + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
              + "'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
PANEL_ROWS = 8


@router.page("/datasets", permission="lake.datasets", nav="nav.datasets", nav_order=20,
             summary="Every dataset with its current version, status, accounting and quality label")
def datasets_page(ctx: Ctx) -> HTMLResponse:
    assert ctx.actor is not None
    return render(ctx, "datasets.html", datasets=lake.list_datasets(ctx.hub, ctx.actor))


@router.page("/datasets/{dataset}", permission="lake.dataset",
             summary="A dataset's versions: status and its history, rows in / accepted / quarantined, label, lineage")
def dataset_page(ctx: Ctx, dataset: str, published: OptionalNumber = None) -> HTMLResponse:
    assert ctx.actor is not None
    versions = lake.dataset_versions(ctx.hub, ctx.actor, dataset=dataset)
    return render(ctx, "dataset.html", dataset=dataset, versions=versions, published=published,
                  can_override=bool(authorize(ctx.actor, "quality.override")),
                  can_report=bool(authorize(ctx.actor, "quality.results")),
                  needs_code=not ctx.hub.development)


@router.page("/datasets/{dataset}/v{version}/quality", permission="quality.results",
             summary="A version's quality report (failing row numbers for producers and operators only)")
def report_page(ctx: Ctx, dataset: str, version: Number) -> Response:
    assert ctx.actor is not None
    lake.dataset_versions(ctx.hub, ctx.actor, dataset=dataset)  # another producer's dataset is not shown
    run = quality.results(ctx.hub, ctx.actor, dataset=dataset, version=version)
    if run.version != version:
        raise NotFound(f"dataset {dataset}: no quality run for version {version}")
    html = render_report(run, rows_visible=check_rows_visible(ctx.actor))
    return HTMLResponse(html, headers={"content-security-policy": REPORT_CSP})


@router.page("/datasets/{dataset}/v{version}/override", permission="quality.override", methods=("POST",),
             summary="Publish a held version despite its blocking failures, with a recorded reason (a decision)",
             responses={303: {"description": "back to the dataset's page"}})
async def override_page(ctx: Ctx, dataset: str, version: Number, reason: Annotated[str, Form(max_length=2000)],
                        code: Annotated[str, Form(max_length=10)] = "") -> Response:
    assert ctx.actor is not None
    actor = await run_in_threadpool(_decider, ctx, code)
    await run_in_threadpool(lambda: quality.override(ctx.hub, actor, dataset=dataset, version=version, reason=reason))
    return RedirectResponse(f"/datasets/{dataset}?published={version}", status_code=303)


def _decider(ctx: WebContext, code: str) -> Any:
    """In production a decision needs a current second-factor code, typed now (a session alone is not
    enough: it may be hours old); a wrong code leaves the actor without it, and the service refuses (audited)."""
    assert ctx.actor is not None
    if ctx.hub.development:
        return ctx.actor
    ok = bool(code.strip()) and verify_totp(ctx.hub, ctx.actor.username, code)
    return replace(ctx.actor, strong_auth=ok)


# --- what waits on the home page ------------------------------------------------------------------------

@router.home_panel(permission="lake.datasets", order=20)
def held_panel(ctx: WebContext) -> Panel | None:
    """Versions held by a gate or by policy: an operator decides, a producer fixes and deposits again."""
    assert ctx.actor is not None
    found = lake.list_datasets(ctx.hub, ctx.actor)
    items = [{"label": f"{d['dataset']} v{v}", "href": f"/datasets/{d['dataset']}"}
             for d in found for v in d["held"]]
    return Panel("panel.held", items[:PANEL_ROWS], "/datasets", "panel.held.none", 20)


@router.home_panel(permission="quality.results", order=25)
def failing_panel(ctx: WebContext) -> Panel | None:
    """Datasets whose current version fails checks (their label says how many)."""
    assert ctx.actor is not None
    if not authorize(ctx.actor, "lake.datasets"):
        return None
    found = lake.list_datasets(ctx.hub, ctx.actor)
    items = []
    for d in found:
        checks = d["latest"]["checks"]
        if int(checks.get("fail", 0)):
            items.append({"label": f"{d['dataset']} v{d['latest']['version']}",
                          "detail": ctx.t("panel.failing.count", count=int(checks["fail"])),
                          "href": f"/datasets/{d['dataset']}/v{d['latest']['version']}/quality"})
    return Panel("panel.failing", items[:PANEL_ROWS], "/datasets", "panel.failing.none", 25)
