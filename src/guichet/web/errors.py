"""Errors as people and scripts should see them: the right status, one clear line, never a traceback.

``/api/...`` answers JSON ``{"error": {"status", "code", "message"}}``; every other path an HTML page in
the person's language. Messages never carry a submitted value (validation errors name the field only).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from guichet.errors import BadInput, Conflict, GuichetError, NotFound, Refused, Unavailable
from guichet.web.context import TokenRefused

log = logging.getLogger("guichet.web")


class WebError(Exception):
    """Raised by guards and pages: a status, a message key for people and a plain message for the API."""

    def __init__(self, status: int, code: str, message: str, key: str | None = None, **values: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.key = key or f"error.{code}"
        self.values = values


def unauthenticated() -> WebError:
    return WebError(401, "unauthenticated", "sign in first: this needs a session or an API token")


def forbidden(reason: str) -> WebError:
    return WebError(403, "forbidden", reason, reason=reason)


def csrf_refused() -> WebError:
    return WebError(403, "csrf", "the form's CSRF token is missing or wrong: reload the page and try again")


_STATUS_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid",
                 429: "too_many_attempts", 500: "internal", 503: "unavailable"}


def _guichet_status(exc: GuichetError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, BadInput):
        return 400
    if isinstance(exc, Refused):
        return 403
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, Unavailable):
        return 503
    return 400


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def error_response(request: Request, status: int, code: str, message: str, key: str | None = None,
                   values: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Response:
    if wants_json(request):
        return JSONResponse({"error": {"status": status, "code": code, "message": message}}, status_code=status,
                            headers=headers)
    from guichet.web.pages_base import render_error

    return render_error(request, status, code, key or f"error.{code}", values or {}, message, headers)


def install_error_handlers(app: FastAPI) -> None:
    async def web_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WebError)
        headers = {"WWW-Authenticate": 'Bearer realm="guichet"'} if exc.status == 401 and wants_json(request) else None
        return error_response(request, exc.status, exc.code, exc.message, exc.key, exc.values, headers)

    async def token_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TokenRefused)
        return error_response(request, 401, "unauthenticated", exc.message, "error.token",
                              headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})

    async def guichet_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GuichetError)
        status = _guichet_status(exc)
        return error_response(request, status, _STATUS_CODES.get(status, "bad_request"), exc.message,
                              "error.service", {"reason": exc.message})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(request, exc.status_code, code, message, f"error.{code}",
                              headers=getattr(exc, "headers", None))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        # Name the fields, never echo what was sent (it may be a password or an identifier).
        fields = sorted({".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form"))
                         for err in exc.errors()} - {""})
        message = f"invalid or missing field(s): {', '.join(fields)}" if fields else "invalid request"
        return error_response(request, 422, "invalid", message, "error.fields", {"fields": ", ".join(fields)})

    async def internal_error(request: Request, exc: Exception) -> Response:
        # Logged for the operator with its traceback; the person gets no detail at all.
        log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__,
                  exc_info=exc)
        return error_response(request, 500, "internal", "internal error; it was logged for the operator")

    app.add_exception_handler(WebError, web_error)
    app.add_exception_handler(TokenRefused, token_refused)
    app.add_exception_handler(GuichetError, guichet_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, internal_error)


__all__ = ["HTMLResponse", "WebError", "csrf_refused", "error_response", "forbidden", "install_error_handlers",
           "unauthenticated"]
