"""The custodian as an HTTP service (``guichet custodian serve``), on the custodian's own host.

It runs ``LocalCustodian`` over its home for callers identified by bearer tokens (``tokens``), each with
a kind and its scopes (``grants``). A gate in front of every route but ``/healthz`` decides from the
headers alone, before any parameter is parsed or any byte of the body read: 401 without
``Authorization: Bearer <token>``, 403 with a wrong token or one whose scopes do not cover the route,
413 for a body over the route's limit (declared, or counted while it arrives). Only then is the body
read, bounded, and the route run. Pseudonymisation bodies are Arrow IPC streams (one column ``value``),
so a call carries hundreds of thousands of values. TLS is required on any address but loopback. Every
call is logged on the custodian's side with its caller and outcome, never a value; uvicorn's access log
is off (it would add nothing but URLs, which could carry anything a stranger typed).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from guichet.custodian import grants as g
from guichet.custodian.home import CustodianHome
from guichet.custodian.local import LocalCustodian
from guichet.custodian.tokens import TOKEN_PREFIX, AuthError, grant_for, issue_token
from guichet.errors import BadInput, Conflict, GuichetError, NotFound, Refused, Unavailable

ARROW_STREAM = "application/vnd.apache.arrow.stream"
_STATUS = {NotFound: 404, BadInput: 400, Refused: 403, Conflict: 409, Unavailable: 503}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["ARROW_STREAM", "TOKEN_PREFIX", "create_app", "is_loopback", "issue_token", "serve"]


@dataclass(frozen=True)
class Route:
    """What a request asks for, as the call log names it, and the scope and body limit that apply."""

    operation: str
    scope: str
    arrow: bool = False  # an Arrow IPC body (the configurable limit) rather than a little JSON


_ROTATION_RE = re.compile(r"^/v1/rotation/[^/]+/(complete|abort)$")


def route_of(method: str, path: str, query: str) -> Route | None:
    """The route a request names, from its method, path and query alone (never its body)."""
    if method == "GET" and path == "/v1/status":
        return Route("status", g.STATUS)
    if method == "GET" and path == "/v1/domain-key":
        return Route("domain-key", g.DOMAIN_KEY)
    if method == "GET" and path == "/v1/audit-checkpoint":
        return Route("audit-checkpoint-latest", g.AUDIT_CHECKPOINT)
    if method != "POST":
        return None
    if path == "/v1/pseudonymise":
        level = urllib.parse.parse_qs(query).get("level", [None])[0]
        scope = g.pseudonymise_scope(level)
        return Route(scope, scope, arrow=True)
    fixed = {"/v1/optout-pseudonyms": Route("optout-pseudonyms", g.OPTOUT),
             "/v1/data-keys": Route("new-data-key", g.DATA_KEYS), "/v1/unwrap": Route("unwrap", g.UNWRAP),
             "/v1/shred": Route("shred", g.SHRED), "/v1/rotation": Route("rotation-begin", g.ROTATION),
             "/v1/audit-checkpoint": Route("audit-checkpoint-sign", g.AUDIT_CHECKPOINT)}
    if path in fixed:
        return fixed[path]
    match = _ROTATION_RE.match(path)
    return Route(f"rotation-{match.group(1)}", g.ROTATION) if match else None


async def _answer(send: Send, status: int, message: str, kind: str = "Refused") -> None:
    body = json.dumps({"error": message, "type": kind}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """Authentication, scope and body size, decided before the application sees the request."""

    def __init__(self, app: Asgi, home: CustodianHome, max_body: int) -> None:
        self.app, self.home, self.max_body = app, home, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        route = route_of(scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"))
        operation = route.operation if route else "unknown-route"
        try:
            grant = grant_for(self.home, headers.get("authorization"))
        except AuthError as exc:
            self.home.log_call("?", operation, "-", 0, "unauthenticated" if exc.status == 401 else "refused")
            await _answer(send, exc.status, str(exc))
            return
        if route is None:
            self.home.log_call(grant.caller, operation, "-", 0, "not-found")
            await _answer(send, 404, "custodian: no such route", "NotFound")
            return
        if not grant.allows(route.scope):
            self.home.log_call(grant.caller, operation, "-", 0, "refused")
            await _answer(send, 403, f"custodian: a {grant.kind} token may not call {route.scope}")
            return
        limit = self.max_body if route.arrow else g.JSON_MAX_BODY
        body = await self._bounded_body(headers.get("content-length"), receive, limit)
        if body is None:
            self.home.log_call(grant.caller, operation, "-", 0, "too-large")
            await _answer(send, 413, f"request body: over {limit} bytes, the custodian's limit for this route",
                          "BadInput")
            return
        scope.setdefault("state", {})["grant"] = grant
        await self.app(scope, _replay(body), send)

    @staticmethod
    async def _bounded_body(declared: str | None, receive: Receive, limit: int) -> bytes | None:
        """The whole body, or None past ``limit``: refused on its declared length before a byte is read,
        else counted as it arrives (chunked transfer)."""
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return receive


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise BadInput("request body: not JSON") from None
    if not isinstance(data, dict):
        raise BadInput("request body: not a JSON object")
    return data


def _one_param(request: Request, name: str) -> str | None:
    """A query parameter given at most once: the gate and the route must read the same level."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise BadInput(f"query: {name} given more than once")
    return values[0] if values else None


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise BadInput(f"request body: {name} must be a string")
    return value


def create_app(home_path: Path, max_batch: int = g.DEFAULT_MAX_BATCH, max_body: int = g.DEFAULT_MAX_BODY) -> Asgi:
    home = CustodianHome(home_path)
    home.check()
    app = FastAPI(title="Guichet custodian", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(GuichetError)
    async def _guichet(_req: Request, exc: GuichetError) -> JSONResponse:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
        return JSONResponse({"error": exc.message, "type": type(exc).__name__}, status_code=status)

    def custodian(request: Request) -> LocalCustodian:
        return LocalCustodian(home, caller=request.state.grant, max_batch=max_batch)

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/v1/status")
    def status(request: Request) -> dict[str, Any]:
        return {**custodian(request).status(), "mode": "http", "label": "custodian service"}

    @app.get("/v1/domain-key")
    def domain_key(request: Request) -> dict[str, Any]:
        grant = request.state.grant
        dk = custodian(request).domain_key(request.query_params.get("domain") or grant.domain or "")
        return {"domain": dk.domain, "key_id": dk.key_id, "key": base64.b64encode(dk.key).decode()}

    @app.post("/v1/pseudonymise")
    async def pseudonymise(request: Request) -> Response:
        c = custodian(request)
        level, purpose, project = (_one_param(request, name) for name in ("level", "purpose", "project"))
        try:
            values = pa.ipc.open_stream(await request.body()).read_all().column("value").combine_chunks()
        except (pa.ArrowException, KeyError):
            raise BadInput("request body: not an Arrow IPC stream with a column 'value'") from None
        out = c.pseudonymise(values, level or "", purpose or "", project)  # type: ignore[arg-type]
        return Response(_ipc(pa.table({"value": out})), media_type=ARROW_STREAM)

    @app.post("/v1/optout-pseudonyms")
    async def optout(request: Request) -> dict[str, Any]:
        data = await _json_body(request)
        rights = data.get("rights_nir")
        return {"pseudonyms": custodian(request).optout_pseudonyms(
            _text(data, "nir"), _text(data, "birth_date"), None if rights is None else _text(data, "rights_nir"))}

    @app.post("/v1/data-keys")
    async def new_key(request: Request) -> dict[str, Any]:
        dk = custodian(request).new_data_key(_text(await _json_body(request), "purpose"))
        return {"key_id": dk.key_id, "wrapped": dk.wrapped, "key": base64.b64encode(dk.key).decode()}

    @app.post("/v1/unwrap")
    async def unwrap(request: Request) -> dict[str, Any]:
        data = await _json_body(request)
        key = custodian(request).unwrap(_text(data, "key_id"), _text(data, "wrapped"))
        return {"key": base64.b64encode(key).decode()}

    @app.post("/v1/shred")
    async def shred(request: Request) -> dict[str, Any]:
        return {"existed": custodian(request).shred(_text(await _json_body(request), "project"))}

    @app.post("/v1/rotation")
    def begin(request: Request) -> Response:
        h = custodian(request).begin_rotation()
        meta = {"rotation_id": h.rotation_id, "old_generation": str(h.old_generation),
                "new_generation": str(h.new_generation)}
        return Response(_ipc(h.mapping.replace_schema_metadata(meta)), media_type=ARROW_STREAM)

    @app.post("/v1/rotation/{rotation_id}/complete")
    def complete(rotation_id: str, request: Request) -> dict[str, Any]:
        return custodian(request).complete_rotation(rotation_id)

    @app.post("/v1/rotation/{rotation_id}/abort")
    def abort(rotation_id: str, request: Request) -> dict[str, bool]:
        custodian(request).abort_rotation(rotation_id)
        return {"aborted": True}

    @app.post("/v1/audit-checkpoint")
    async def sign_checkpoint(request: Request) -> dict[str, Any]:
        data = await _json_body(request)
        return custodian(request).sign_audit_checkpoint(data.get("seq"), data.get("head")).to_dict()  # type: ignore[arg-type]

    @app.get("/v1/audit-checkpoint")
    def latest_checkpoint(request: Request) -> dict[str, Any]:
        checkpoint, public_key = custodian(request).latest_audit_checkpoint()
        return {"checkpoint": checkpoint.to_dict() if checkpoint else None, "public_key": public_key}

    return Gate(app, home, max_body)


def serve(home_path: Path, host: str, port: int, tls_cert: Path | None, tls_key: Path | None,
          max_batch: int = g.DEFAULT_MAX_BATCH, max_body: int = g.DEFAULT_MAX_BODY) -> None:
    import uvicorn

    if not is_loopback(host) and (tls_cert is None or tls_key is None):
        raise Refused(f"--host {host}: TLS is required on any address but loopback (--tls-cert and --tls-key)")
    if max_batch < 1 or max_body < 1:
        raise BadInput("--max-batch and --max-body-mb: must be at least 1")
    app = create_app(home_path, max_batch, max_body)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None)
