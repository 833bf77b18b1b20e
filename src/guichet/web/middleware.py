"""Security headers and the cookies routes asked for, added to every response (plain ASGI: no overhead
of a request/response wrapper on the hot path); the access log of every authenticated request
(``guichet.audit.access``: who, when, method, route template, status — never a value from the path or the
query)."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guichet.audit import access
from guichet.web.context import PRE_COOKIE, SESSION_COOKIE, WebContext

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# No inline scripts or styles anywhere, nothing from another origin: the hub may run offline.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def cookie_header(name: str, value: str, secure: bool, max_age: int | None, http_only: bool) -> bytes:
    # The session cookie is SameSite=Lax so that a link to a page works from a mail; the others Strict.
    same_site = "Lax" if name == SESSION_COOKIE else "Strict"
    parts = [f"{name}={value}", "Path=/", f"SameSite={same_site}"]
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts).encode()


def _log_access(ctx: WebContext, scope: Scope, status: int) -> None:
    route = scope.get("route")
    template = getattr(route, "path", None) or "(unmatched)"
    assert ctx.actor is not None
    access.record(ctx.state.hub.home, actor=ctx.actor.username, via=ctx.via, method=scope["method"],
                  route=template, status=status)


class WebHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers.extend(h for h in _HEADERS if h[0] not in names)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                ctx: WebContext | None = state.get("ctx")
                if ctx is not None and scope["method"] not in SAFE_METHODS:
                    # Whatever this request changed (a sign-out, a password, an account) is committed by
                    # now: this worker forgets its cached sessions before the answer leaves.
                    ctx.state.sessions.invalidate()
                    for cache in ctx.state.caches.values():
                        cache.invalidate()
                if ctx is not None and ctx.actor is not None:
                    _log_access(ctx, scope, int(message["status"]))
                if ctx is not None and ctx.cookies:
                    secure = ctx.secure()
                    for name, value, opts in ctx.cookies:
                        if name == PRE_COOKIE and ctx.actor is not None:
                            continue
                        headers.append((b"set-cookie", cookie_header(name, value, secure, opts["max_age"],
                                                                     opts["httponly"])))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
