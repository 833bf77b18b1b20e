"""Routes that cannot forget their permission.

Every route is added through ``GuardedRouter.route`` (or ``page``/``api``), which requires a permission
(an action of the permission table, or ``"public"``), installs the guard that authenticates, checks the
CSRF token of unsafe requests and calls ``authorize``, and writes the permission into the OpenAPI
operation as ``x-permission``. Adding a page is one decorated function, plus ``nav=`` for its menu entry:

    router = GuardedRouter(templates=HERE / "templates", locales=HERE / "locales")

    @router.page("/catalogue", permission="catalogue.read", nav="nav.catalogue")
    def catalogue(ctx: Ctx) -> HTMLResponse:
        return render(ctx, "catalogue.html", datasets=...)

A router carries its package's templates, messages, menu entries and home-page panels
(``@router.home_panel``); ``install(app)`` adds them to the app's ``Site`` (``guichet.web.site``).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Annotated, Any

import annotated_types
from fastapi import Depends, FastAPI, Path, Query
from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from guichet.governance import ACTIONS, Actor, Resource, authorize
from guichet.governance.decorators import record_refusal
from guichet.web.context import WebContext, WebState, build_context
from guichet.web.errors import csrf_refused, forbidden, unauthenticated
from guichet.web.site import HomePanel, MaxBody, NavEntry, PanelFn, self_resource

PUBLIC = "public"
MAX_INT = 2**31 - 1  # what every database stores in an integer column
# A number in a path or query: bounded, so that an over-long integer answers 422, not a database overflow.
Number = Annotated[int, Path(ge=0, le=MAX_INT)]
OptionalNumber = Annotated[int | None, Query(ge=0, le=MAX_INT)]


def _check_numbers(path: str, fn: Callable[..., Any]) -> None:
    """Every integer parameter of a route must carry an upper bound (``Number``, ``Path(le=...)``...)."""
    defaults = {n: p.default for n, p in inspect.signature(fn).parameters.items()}
    for name, hint in typing.get_type_hints(fn, include_extras=True).items():
        base = typing.get_args(hint)[0] if typing.get_origin(hint) is Annotated else hint
        if base not in (int, int | None):
            continue
        infos = [*getattr(hint, "__metadata__", ()), defaults.get(name)]
        metadata = [m for info in infos for m in getattr(info, "metadata", None) or []]
        if not any(isinstance(m, annotated_types.Le | annotated_types.Lt) for m in metadata):
            raise RuntimeError(f"route {path}: integer parameter {name!r} has no upper bound (use routing.Number)")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ResourceFn = Callable[[Request, Actor], Resource | None]




def own_account(_request: Request, actor: Actor) -> Resource:
    """The resource of routes about the signed-in account itself (permissions with ``self``)."""
    return self_resource(actor)


def _audit_denied(state: WebState, actor: Actor, action: str, resource: Resource | None, reason: str) -> None:
    record_refusal(state.hub, actor, action, resource.label if resource else None, reason, rule=reason,
                   via="web route")


def requires(permission: str, resource: ResourceFn | None = None, authenticate: bool = True) -> Callable[..., Any]:
    """The guard of one route: authenticate, authorize ``permission``, check CSRF on unsafe methods.

    ``authenticate=False`` is only for public probes that read no cookie and show no form (/healthz).
    """
    if permission != PUBLIC and permission not in ACTIONS:
        raise RuntimeError(f"route permission {permission!r} is not in the permission table")
    if not authenticate and permission != PUBLIC:
        raise RuntimeError("only a public route may skip authentication")

    async def guard(request: Request) -> WebContext | None:
        if not authenticate:
            if request.method not in SAFE_METHODS:
                raise RuntimeError("a route without authentication must be read-only")
            return None
        state: WebState = request.app.state.web
        # The body gate authenticated requests that carry a body before reading it: reuse its context.
        ctx = getattr(request.state, "ctx", None)
        if ctx is not None:
            ctx.request = request  # the gate's request could not read the body; this one can
        else:
            ctx = await build_context(state, request)
        request.state.ctx = ctx
        if permission != PUBLIC:
            if ctx.actor is None:
                raise unauthenticated()
            res = resource(request, ctx.actor) if resource else None
            decision = authorize(ctx.actor, permission, res)
            if not decision:
                await run_in_threadpool(_audit_denied, state, ctx.actor, permission, res, decision.reason)
                raise forbidden(decision.reason)
        if request.method not in SAFE_METHODS and ctx.via != "token":
            sent = request.headers.get("x-csrf-token")
            if sent is None and "form" in request.headers.get("content-type", ""):
                form = await request.form()
                value = form.get("csrf_token")
                sent = value if isinstance(value, str) else None
            if not state.keys.csrf_ok(ctx.csrf_binding, sent):
                raise csrf_refused()
        return ctx

    guard.__guichet_permission__ = permission  # type: ignore[attr-defined]
    return guard


async def current_context(request: Request) -> WebContext:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a hop per request for nothing.
    ctx: WebContext = request.state.ctx
    return ctx


Ctx = Annotated[WebContext, Depends(current_context)]


@dataclass(frozen=True)
class RouteSpec:
    path: str
    endpoint: Callable[..., Any]
    methods: tuple[str, ...]
    permission: str
    guard: Callable[..., Any]
    options: dict[str, Any]
    max_body: MaxBody | None = None  # the body's limit (bytes, or a function of the app's state)


class GuardedRouter:
    """Records guarded routes; ``install(app)`` adds them to the app as plain routes (``app.routes`` then
    lists every route with its guard, which is what the permission tests and probes enumerate)."""

    def __init__(self, *, templates: FsPath | None = None, locales: FsPath | None = None) -> None:
        self.specs: list[RouteSpec] = []
        self.templates, self.locales = templates, locales
        self.nav: list[NavEntry] = []
        self.panels: list[HomePanel] = []
        self.globals: dict[str, Callable[..., Any]] = {}

    def add_nav(self, path: str, label: str, permission: str, order: int = 100) -> None:
        """A menu entry shown to those ``permission`` allows (for a public page, the public action it calls)."""
        if permission not in ACTIONS:
            raise RuntimeError(f"menu entry {path!r}: permission {permission!r} is not in the permission table")
        self.nav[:] = [n for n in self.nav if n.path != path] + [NavEntry(path, label, permission, order)]

    def home_panel(self, *, permission: str, order: int = 100) -> Callable[[PanelFn], PanelFn]:
        """A panel of the home page ("what waits for you"), shown to those ``permission`` allows."""
        if permission not in ACTIONS:
            raise RuntimeError(f"home panel: permission {permission!r} is not in the permission table")

        def decorate(fn: PanelFn) -> PanelFn:
            self.panels.append(HomePanel(permission, fn, order))
            return fn

        return decorate

    def template_global(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A function every template may call (``{% if name is defined %}{{ name(ctx) }}{% endif %}``): how a
        package shows something of its own on another package's pages without either importing the other."""

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.globals[name] = fn
            return fn

        return decorate

    def route_with(self, path: str, *, permission: str, methods: Sequence[str] = ("GET",),
                   resource: ResourceFn | None = None, nav: str | None = None, nav_order: int = 100,
                   authenticate: bool = True, max_body: MaxBody | None = None,
                   **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        guard = requires(permission, resource, authenticate)

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            _check_numbers(path, fn)
            options = dict(kwargs)
            extra = dict(options.pop("openapi_extra", None) or {})
            extra["x-permission"] = permission
            options["openapi_extra"] = extra
            self.specs.append(RouteSpec(path, fn, tuple(methods), permission, guard, options, max_body))
            if nav is not None:
                self.add_nav(path, nav, permission, nav_order)
            return fn

        return decorate

    def page(self, path: str, *, permission: str, methods: Sequence[str] = ("GET",), **kwargs: Any
             ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A server-rendered page (HTML)."""
        kwargs.setdefault("response_class", HTMLResponse)
        kwargs.setdefault("tags", ["pages"])
        return self.route_with(path, permission=permission, methods=methods, **kwargs)

    def api(self, path: str, *, permission: str, methods: Sequence[str] = ("GET",), **kwargs: Any
            ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A JSON operation under /api."""
        if not path.startswith("/api/"):
            raise RuntimeError(f"API route {path!r} must be under /api/")
        return self.route_with(path, permission=permission, methods=methods, **kwargs)

    def install(self, app: FastAPI) -> None:
        state: WebState = app.state.web
        for spec in self.specs:
            app.add_api_route(spec.path, spec.endpoint, methods=list(spec.methods),
                              dependencies=[Depends(spec.guard)], **spec.options)
            state.site.body_routes.append((app.router.routes[-1], spec.permission, spec.max_body))
        state.site.add(templates=self.templates, locales=self.locales, nav=self.nav, panels=self.panels,
                       globals_=self.globals)
