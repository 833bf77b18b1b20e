"""The app factory: ``create_app(hub_config, env_db_url)``. It reads nothing from the environment.

Routers are listed once in ``ROUTER_MODULES`` (each module exposes ``router``, which carries the package's
templates, messages, menu entries and home-page panels); a later package adds its pages by adding its module
here, as the CLI lists its command modules. The web package itself imports no stage: it names them here.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from guichet import __version__
from guichet.config import HubConfig, effective_db_url
from guichet.hub import Hub
from guichet.store.db import open_store
from guichet.web.bodygate import BodyGate
from guichet.web.context import WebState
from guichet.web.errors import install_error_handlers
from guichet.web.middleware import WebHeaders
from guichet.web.security import Keys
from guichet.web.sessions import SessionCache
from guichet.web.settings import web_settings

STATIC = Path(__file__).parent / "static"
ROUTER_MODULES: tuple[str, ...] = (
    "guichet.web.health",
    "guichet.web.transparency",  # public: the audit chain's signed checkpoints
    "guichet.web.pages",
    "guichet.web.account_pages",
    "guichet.web.api",
    "guichet.catalogue.web",  # the catalogue's public pages and API
    "guichet.delivery.web",  # producers' uploads, deliveries and their receipts
    "guichet.linkage.web",  # the clerical-review queue
    "guichet.quality.web",  # datasets, their versions and quality reports; publication by override
    "guichet.access.web",  # access applications: the JSON API of the workflow
    "guichet.access.pages",  # access applications: the basket, the applicant's form, the reviewers' view
    "guichet.permits.web",  # the public registry (page, JSON, Atom) and the permit schema
    "guichet.airlock.pages",  # the automatic check of a workspace's output, cell by cell
    "guichet.airlock.request_pages",  # output requests: lists, review, released files
    "guichet.stats.pages",  # statistics requests: requesters' form and list, operators' queue, checker's review
    "guichet.transparency.pages",  # citizens' pages: plain registry, opt-out, complaints, results, activity report
    "guichet.workspace.session_pages",  # a permit's workspace: dictionary, query console, files, history
)


def create_app(hub_config: HubConfig, env_db_url: str | None = None, *, serving: bool = False) -> FastAPI:
    """The portal for one hub. ``env_db_url`` is GUICHET_DB_URL as the caller read it (or None);
    ``serving``: the app of a long-lived server process (``guichet serve``), not of a test."""
    settings = web_settings(hub_config)
    hub = Hub(config=hub_config, store=open_store(effective_db_url(hub_config, env_db_url)))
    state = WebState(hub=hub, config=hub_config, settings=settings, keys=Keys(hub.secret_key()),
                     sessions=SessionCache(settings.session_cache_seconds))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Few threads serve a worker better than anyio's default 40: requests queue in order instead of
        # fighting for the GIL and the database pool (measured by benchmarks/web.py: p99 drops sharply).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        if serving:
            # What start-up built (app, routes, templates, ORM mappers) lives as long as the process: moved
            # out of the collector's way, full collections under load stay short (benchmarks/web.py: p99 of
            # the signed-in page 276 -> 141 ms). Not in tests, where apps come and go in one process.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            hub.close()

    app = FastAPI(
        title="Guichet",
        version=__version__,
        description="The health data hub's portal API. Every operation names its permission in `x-permission` "
                    "(see docs/permissions.md). Scripts authenticate with `Authorization: Bearer gch_...`.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: the hub may run offline
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.web = state
    for name in ROUTER_MODULES:
        import_module(name).router.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_error_handlers(app)
    app.add_middleware(BodyGate, routes=state.site.body_routes)  # inside WebHeaders: its answers get the headers
    app.add_middleware(WebHeaders)
    return app
