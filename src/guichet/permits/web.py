"""The public registry's page and feeds: ``/registry``, ``/registry.json`` (with the hub's signing key id and
public key, to check exported permits against) and ``/registry.atom``; and the published permit schema.

Listed once in ``guichet.web.app.ROUTER_MODULES``. Public: no account needed, nothing personal beyond the
organisation and the principal investigator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Query
from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from guichet.governance import Actor, Resource
from guichet.permits import permit_services as svc
from guichet.permits.document import schema_text
from guichet.permits.registry import atom_feed
from guichet.permits.signing import load_or_create_key
from guichet.permits.tables import Permit
from guichet.web.context import WebContext, WebState
from guichet.web.login import PUBLIC as PUBLIC_ACTOR
from guichet.web.pages_base import render
from guichet.web.routing import PUBLIC, Ctx, GuardedRouter
from guichet.web.site import Panel

HERE = Path(__file__).parent
router = GuardedRouter(templates=HERE / "templates", locales=HERE / "locales")
router.add_nav("/registry", "nav.registry", "registry.read", 60)


def _registry(ctx: WebContext) -> Any:
    actor = ctx.actor or PUBLIC_ACTOR
    return run_in_threadpool(lambda: svc.read_registry(ctx.hub, actor))


def _base(ctx: WebContext) -> str:
    configured = str(ctx.hub.config.properties.get("base_url", "")).rstrip("/")
    return configured or str(ctx.request.base_url).rstrip("/")


@router.page("/registry", permission=PUBLIC, summary="The public registry: applications, opinions, decisions, permits")
async def registry_page(ctx: Ctx, product: str | None = Query(None, max_length=64)) -> HTMLResponse:
    data = await _registry(ctx)
    apps = [a for a in data["applications"] if not product or product in a["products"]]
    permits = [p for p in data["permits"] if not product or product in p["products"]]
    return render(ctx, "registry.html", reg=data, applications=apps, permits=permits, product=product)


@router.route_with("/registry.json", permission=PUBLIC, response_class=JSONResponse,
                   summary="The public registry as JSON, with the hub's permit-signing key id and public key")
async def registry_json(ctx: Ctx) -> JSONResponse:
    return JSONResponse(await _registry(ctx))


@router.route_with("/registry.atom", permission=PUBLIC, response_class=Response,
                   responses={200: {"content": {"application/atom+xml": {}}, "description": "Atom feed"}},
                   summary="The public registry as an Atom feed: applications received, decisions, permits")
async def registry_atom(ctx: Ctx) -> Response:
    data = await _registry(ctx)
    return Response(atom_feed(data, _base(ctx)), media_type="application/atom+xml; charset=utf-8")


@router.route_with("/registry/permit.schema.json", permission=PUBLIC, response_class=Response,
                   summary="The published JSON Schema of a signed permit file")
async def permit_schema(ctx: Ctx) -> Response:
    return Response(schema_text(), media_type="application/schema+json")


@router.home_panel(permission="jobs.overdue", order=15)
def overdue_panel(ctx: WebContext) -> Panel | None:
    """What is overdue: application steps past their due date, permits whose results are late."""
    assert ctx.actor is not None
    items = [{"label": f"{i['kind']} {i['id']} ({i['state']})", "detail": ctx.t("registry.overdue.due", date=i["due"]),
              "href": i["href"]} for i in svc.overdue_items(ctx.hub, ctx.actor)]
    return Panel("registry.overdue", items[:20], "/registry", "registry.overdue.none", 15)


def _permit_resource(request: Request, _actor: Actor) -> Resource:
    """The permit a route is about, with its holder (``self`` in ``permit.show``: the holder reads their own)."""
    permit_id = str(request.path_params.get("permit_id", ""))[:24]
    state: WebState = request.app.state.web
    with state.hub.store.read() as session:
        permit = session.get(Permit, permit_id)
        return Resource("permit", permit_id, owner=permit.owner if permit else None, org=permit.org if permit else None)


@router.page("/permits/{permit_id}", permission="permit.show", resource=_permit_resource,
             summary="A permit as a page and a printable document: scope, people, validity, fees, conditions")
async def permit_page(ctx: Ctx, permit_id: str) -> HTMLResponse:
    actor = ctx.actor
    assert actor is not None
    info = await run_in_threadpool(lambda: svc.show(ctx.hub, actor, permit_id=permit_id))
    key = load_or_create_key(ctx.hub.config).public
    return render(ctx, "permit.html", p=info, doc=info.document, key=key)
