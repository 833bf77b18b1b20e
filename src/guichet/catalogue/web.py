"""The catalogue's pages and JSON API (public: the catalogue is the hub's front door).

Listed once in ``guichet.web.app.ROUTER_MODULES``; the router carries the catalogue's templates, messages and
menu entry. Every route declares its permission through the web
foundation's ``GuardedRouter``; the catalogue's routes are public (listed in docs/permissions.md), and the
services they call are the public ``catalogue.*`` queries, called for the signed-in account or for the
anonymous public actor. What they return is kept per worker while the hub's revision stays the same
(``guichet.catalogue.webcache``); pages are rendered for each request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from starlette.responses import HTMLResponse, Response

from guichet.actor import system_actor
from guichet.catalogue import services as svc
from guichet.catalogue.model import ProductInfo
from guichet.catalogue.search import words
from guichet.catalogue.source import nomenclature_values
from guichet.catalogue.webcache import CatalogueCache
from guichet.errors import GuichetError
from guichet.governance import Actor, authorize
from guichet.web.context import WebContext
from guichet.web.errors import WebError
from guichet.web.login import PUBLIC as PUBLIC_ACTOR
from guichet.web.pages_base import render
from guichet.web.routing import PUBLIC, Ctx, GuardedRouter

HERE = Path(__file__).parent
router = GuardedRouter(templates=HERE / "templates", locales=HERE / "locales")
# The catalogue's pages are public; its menu entry is shown to every signed-in account through the public
# action they call (a route's own permission "public" is not an action of the table).
router.add_nav("/catalogue", "nav.catalogue", "catalogue.list", 5)
TURTLE = "text/turtle; charset=utf-8"
log = logging.getLogger(__name__)


def _actor(ctx: WebContext) -> Actor:
    return ctx.actor or PUBLIC_ACTOR


def _page(ctx: WebContext, template: str, **values: Any) -> HTMLResponse:
    return render(ctx, template, **values)


T = TypeVar("T")


def catalogue_cache(ctx: WebContext) -> CatalogueCache:
    cache = ctx.state.caches.get("catalogue")
    if cache is None:
        cache = ctx.state.caches["catalogue"] = CatalogueCache(ctx.hub, ctx.state.settings.catalogue_cache_seconds)
    return cache


async def _cached(ctx: WebContext, action: str, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` (which calls the ``action`` query as the viewer) or its answer kept at the hub's revision.

    The answer does not depend on the viewer (public reads); the viewer's permission is checked on every
    request all the same: one refused goes through ``compute`` itself, whose query refuses and audits."""
    if not authorize(_actor(ctx), action):
        return await run_in_threadpool(compute)
    return await catalogue_cache(ctx).get(key, compute)


# --- pages --------------------------------------------------------------------------------------------

@router.page("/catalogue", permission=PUBLIC, summary="The catalogue: products, browse by theme and producer, search")
async def catalogue_page(ctx: Ctx, theme: str | None = Query(None, max_length=16),
                         producer: str | None = Query(None, max_length=64)) -> HTMLResponse:
    everything = await _products(ctx)
    shown = [p for p in everything if (not theme or theme in p.themes) and (not producer or p.producer == producer)]
    themes = sorted({t for p in everything for t in p.themes})
    producers = sorted({(p.producer, p.producer_label or p.producer) for p in everything if p.producer})
    return _page(ctx, "catalogue.html", products=shown, themes=themes, producers=producers, theme=theme,
                 producer=producer)


@router.page("/catalogue/search", permission=PUBLIC, summary="Search the catalogue (accent-insensitive)")
async def search_page(ctx: Ctx, q: str = Query("", max_length=200)) -> HTMLResponse:
    hits = await _search(ctx, q, 100) if q.strip() else []
    return _page(ctx, "search.html", q=q, hits=hits)


def _search(ctx: WebContext, q: str, limit: int) -> Any:
    """Search hits, kept per normalised query (the folded words: 'Décès' and 'deces ' share an entry)."""
    actor = _actor(ctx)
    return _cached(ctx, "catalogue.search", ("search", tuple(words(q)), limit),
                   lambda: svc.search_catalogue(ctx.hub, actor, text=q, limit=limit))


def _products(ctx: WebContext, theme: str | None = None, producer: str | None = None,
              status: str | None = None) -> Any:
    actor = _actor(ctx)
    return _cached(ctx, "catalogue.list", ("list", theme, producer, status),
                   lambda: svc.list_products(ctx.hub, actor, theme=theme, producer=producer, status=status))


@router.page("/catalogue/producers", permission=PUBLIC, summary="Directory of producers and their products")
async def producers_page(ctx: Ctx) -> HTMLResponse:
    products = await _products(ctx)
    directory: dict[str, dict[str, Any]] = {}
    for p in products:
        key = p.producer or "-"
        entry = directory.setdefault(key, {"name": p.producer_label or p.producer or "—", "products": []})
        entry["products"].append(p)
    props = ctx.hub.config.properties
    return _page(ctx, "producers.html", directory=sorted(directory.values(), key=lambda e: e["name"]),
                 contact={"name": props.get("contact_name"), "email": props.get("contact_email"),
                          "url": props.get("contact_url")})


def _product(ctx: WebContext, product_id: str, with_variables: bool) -> ProductInfo:
    return svc.show_product(ctx.hub, _actor(ctx), product_id=product_id, with_variables=with_variables)


@router.page("/catalogue/{product_id}", permission=PUBLIC, summary="A product: description, coverage, quality, tables")
async def product_page(ctx: Ctx, product_id: str) -> HTMLResponse:
    info, details = await _cached(ctx, "catalogue.show", ("page", product_id),
                                  lambda: _with_details(ctx, _product(ctx, product_id, with_variables=False)))
    return _page(ctx, "product.html", p=info, props=ctx.hub.config.properties, **details)


def _with_details(ctx: WebContext, info: ProductInfo) -> tuple[ProductInfo, dict[str, Any]]:
    return info, _details(ctx, info)


def _details(ctx: WebContext, info: ProductInfo) -> dict[str, Any]:
    from guichet.catalogue.publishing import extras_for, quality_labels, unmeasured
    from guichet.catalogue.versions_notes import notes_for

    with ctx.hub.store.read() as session:
        pending = unmeasured(session, info)
    if pending:  # a version published since the last visit: measured once, as the hub itself
        try:
            svc.characterise_data(ctx.hub, system_actor(), product_id=info.id)
        except GuichetError as exc:  # the page still shows the versions' row counts, rounded and suppressed
            log.warning("catalogue: characterisation of %s not measured: %s", info.id, exc)
    with ctx.hub.store.read() as session:
        extras = extras_for(session, ctx.hub, info)
        notes = notes_for(session, [t.name for t in info.tables])
        labels = quality_labels(session, info)
    return {"extras": extras, "notes": notes, "labels": labels}


@router.page("/catalogue/{product_id}/dictionary", permission=PUBLIC,
             summary="A product's data dictionary: every table's variables, types, code lists")
async def dictionary_page(ctx: Ctx, product_id: str) -> HTMLResponse:
    info, values = await _dictionary(ctx, product_id)
    return _page(ctx, "dictionary.html", p=info, tables=info.tables, values=values)


def _dictionary(ctx: WebContext, product_id: str) -> Any:
    def compute() -> tuple[ProductInfo, dict[str, tuple[list[tuple[str, str]], int]]]:
        info = _product(ctx, product_id, with_variables=True)
        return info, _values(info)

    return _cached(ctx, "catalogue.show", ("dictionary", product_id), compute)


@router.page("/catalogue/{product_id}/tables/{table}", permission=PUBLIC, summary="One table of a product")
async def table_page(ctx: Ctx, product_id: str, table: str) -> HTMLResponse:
    info, values = await _dictionary(ctx, product_id)
    found = [t for t in info.tables if t.name == table]
    if not found:
        raise WebError(404, "not_found", f"product {product_id} has no table {table}", "error.not_found")
    return _page(ctx, "dictionary.html", p=info, tables=found, values=values)


def _values(info: ProductInfo) -> dict[str, tuple[list[tuple[str, str]], int]]:
    names = {v.nomenclature for t in info.tables for v in t.variables if v.nomenclature and v.nomenclature_shipped}
    return {n: nomenclature_values(n, limit=12) for n in sorted(names)}


# --- API ----------------------------------------------------------------------------------------------

class HitOut(BaseModel):
    kind: str
    product: str
    ref: str
    title: str
    snippet: str
    score: float


class SearchOut(BaseModel):
    query: str
    results: list[HitOut]


@router.api("/api/search", permission=PUBLIC, response_model=SearchOut, tags=["catalogue"],
            summary="Search products, tables and variables; accents and case do not matter")
async def api_search(ctx: Ctx, q: str = Query(..., min_length=1, max_length=200),
                     limit: int = Query(50, ge=1, le=100)) -> SearchOut:
    hits = await _search(ctx, q, limit)
    return SearchOut(query=q, results=[HitOut(**h.to_dict()) for h in hits])


@router.api("/api/datasets", permission=PUBLIC, tags=["catalogue"],
            summary="The catalogue's products (filter by theme, producer or status)")
async def api_datasets(ctx: Ctx, theme: str | None = Query(None, max_length=16),
                       producer: str | None = Query(None, max_length=64),
                       status: str | None = Query(None, pattern="^(draft|complete)$")) -> list[dict[str, Any]]:
    return [p.to_dict() for p in await _products(ctx, theme, producer, status)]


@router.api("/api/datasets/{product_id}", permission=PUBLIC, tags=["catalogue"],
            summary="One product with its tables, dictionary, join keys, schema history and characterisation")
async def api_dataset(ctx: Ctx, product_id: str) -> dict[str, Any]:
    info, details = await _cached(ctx, "catalogue.show", ("dataset", product_id),
                                  lambda: _with_details(ctx, _product(ctx, product_id, with_variables=True)))
    extras = details["extras"]
    out = info.to_dict()
    out["characterisation"] = extras.characterisation.to_dict() if extras.characterisation else None
    out["versions"] = extras.version
    out["quality"] = {"grade": extras.quality_grade, "report": extras.quality_report_url, "datasets": details["labels"]}
    out["version_notes"] = details["notes"]
    return out


@router.api("/api/catalogue.ttl", permission=PUBLIC, tags=["catalogue"], response_class=Response,
            responses={200: {"content": {"text/turtle": {}}, "description": "the last validated HealthDCAT-AP graph"}},
            summary="The catalogue as HealthDCAT-AP (Turtle): the last graph that passed SHACL validation")
async def api_catalogue_ttl(ctx: Ctx) -> Response:
    actor = _actor(ctx)
    result = await run_in_threadpool(lambda: svc.export_catalogue(ctx.hub, actor, fmt="ttl", fresh=False))
    return Response(result.text, media_type=TURTLE)

