"""Bodies are bounded per route, and a request that needs an account is authenticated before its body is read.

FastAPI reads and parses a request's body before it runs the route's dependencies (the guard that
authenticates): a 500 MB upload to ``/api/deliveries`` without a token, or 1 GB of invalid JSON to
``/api/me/locale``, was read whole before the 401 or the 422. This plain ASGI layer runs first, for the
methods that carry a body:

1. it finds the route; a declared ``Content-Length`` above the route's limit is refused (413) at once;
2. a route that is not public authenticates now, from the headers alone (the session cookie or the bearer
   token): no account, no body read (401); the context is kept for the route's guard, which reuses it;
3. the body is counted as it arrives, chunked or not: past the limit the request ends with 413.

The limit of a route is the ``max_body`` it declared (a number, or a function of the app's state: the
uploads' chunk size, a delivery's maximum size), else ``web_max_body_bytes`` (256 KiB).
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guichet.web.context import TokenRefused, WebState, build_context
from guichet.web.site import MaxBody

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC = "public"


class BodyGate:
    def __init__(self, app: ASGIApp, routes: list[tuple[Any, str, MaxBody | None]]) -> None:
        self.app = app
        self.routes = routes  # (starlette route, permission, max_body)

    def _route(self, scope: Scope) -> tuple[str, MaxBody | None] | None:
        for route, permission, max_body in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return permission, max_body
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        found = self._route(scope)
        if found is None:  # 404 or 405: answered without reading the body
            await self.app(scope, receive, send)
            return
        permission, max_body = found
        state: WebState = scope["app"].state.web
        limit = max_body(state) if callable(max_body) else (max_body or state.settings.max_body_bytes)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or len(declared) > 18 or int(declared) > limit):
            await _answer(scope, send, 413, "too_large", f"the request body is over this route's limit of {limit} bytes")
            return
        if permission != PUBLIC:
            request = Request(scope)
            try:
                ctx = await build_context(state, request)
            except TokenRefused as exc:
                await _answer(scope, send, 401, "unauthenticated", exc.message)
                return
            if ctx.actor is None:
                await _answer(scope, send, 401, "unauthenticated", "sign in first: this needs a session or an API token")
                return
            scope.setdefault("state", {})["ctx"] = ctx  # the route's guard authorizes with it
        await self.app(scope, _counted(receive, limit), send)


def _counted(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"the request body is over this route's limit of {limit} bytes")
        return message

    return counted


async def _answer(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    """An answer before the app runs: JSON under /api, a short text page elsewhere (no body was read)."""
    path = str(scope.get("path", ""))
    response: Response
    if path.startswith("/api/"):
        response = JSONResponse({"error": {"status": status, "code": code, "message": message}}, status_code=status,
                                headers={"WWW-Authenticate": 'Bearer realm="guichet"'} if status == 401 else None)
    else:
        response = PlainTextResponse(message, status_code=status)

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)
