"""The custodian as an HTTP service (``guichet custodian serve``), on the custodian's own host.

It runs ``LocalCustodian`` over its home for callers identified by bearer tokens (stored as SHA-256
hashes in ``tokens.json``). ``/healthz`` is open; every other route answers 401 without
``Authorization: Bearer <token>`` and 403 with a wrong one. Pseudonymisation bodies are Arrow IPC
streams (one column ``value``), so a call carries hundreds of thousands of values. TLS is required on
any address but loopback. Every call is logged on the custodian's side (caller, operation, purpose,
count) by ``LocalCustodian``; uvicorn's access log is off (it would add nothing but URLs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from guichet.custodian.home import TOKENS_FILE, CustodianHome, now_iso, write_json_private
from guichet.custodian.local import LocalCustodian
from guichet.errors import BadInput, Conflict, GuichetError, NotFound, Refused, Unavailable

ARROW_STREAM = "application/vnd.apache.arrow.stream"
TOKEN_PREFIX = "gcu"  # noqa: S105 - a prefix, not a secret
_STATUS = {BadInput: 400, NotFound: 404, Refused: 403, Conflict: 409, Unavailable: 503}


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def issue_token(home: CustodianHome, caller: str) -> str:
    """A new token for ``caller``; only its SHA-256 is kept. Shown once."""
    if not caller or not all(c.isalnum() or c in "._-" for c in caller) or len(caller) > 64:
        raise BadInput("--caller: 1-64 characters from [A-Za-z0-9._-]")
    home.check()
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    with home.lock():
        data = json.loads((home.path / TOKENS_FILE).read_text(encoding="utf-8"))
        data["tokens"][token_id] = {"caller": caller, "sha256": hashlib.sha256(secret.encode()).hexdigest(),
                                    "created_at": now_iso()}
        write_json_private(home.path / TOKENS_FILE, data)
    return f"{TOKEN_PREFIX}_{token_id}_{secret}"


def caller_for(home: CustodianHome, authorization: str | None) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        raise AuthError(401, "missing bearer token")
    parts = authorization[7:].strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise AuthError(403, "wrong token")
    tokens = json.loads((home.path / TOKENS_FILE).read_text(encoding="utf-8"))["tokens"]
    entry = tokens.get(parts[1])
    digest = hashlib.sha256(parts[2].encode()).hexdigest()
    if entry is None or not hmac.compare_digest(entry["sha256"], digest):
        raise AuthError(403, "wrong token")
    return str(entry["caller"])


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


def create_app(home_path: Path) -> FastAPI:
    home = CustodianHome(home_path)
    home.check()
    app = FastAPI(title="Guichet custodian", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(AuthError)
    async def _auth(_req: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": str(exc), "type": "Refused"}, status_code=exc.status, headers=headers)

    @app.exception_handler(GuichetError)
    async def _guichet(_req: Request, exc: GuichetError) -> JSONResponse:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
        return JSONResponse({"error": exc.message, "type": type(exc).__name__}, status_code=status)

    def custodian(request: Request) -> LocalCustodian:
        return LocalCustodian(home, caller=caller_for(home, request.headers.get("authorization")))

    async def body_json(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise BadInput("request body: not JSON") from None
        if not isinstance(data, dict):
            raise BadInput("request body: not a JSON object")
        return data

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/v1/status")
    def status(c: LocalCustodian = Depends(custodian)) -> dict[str, Any]:  # noqa: B008
        return {**c.status(), "mode": "http", "label": "custodian service", "caller": c.caller}

    @app.post("/v1/pseudonymise")
    async def pseudonymise(request: Request, level: str, purpose: str, project: str | None = None) -> Response:
        c = custodian(request)
        try:
            table = pa.ipc.open_stream(await request.body()).read_all()
            values = table.column("value")
        except (pa.ArrowException, KeyError):
            raise BadInput("request body: not an Arrow IPC stream with a column 'value'") from None
        out = c.pseudonymise(values.combine_chunks(), level, purpose, project)  # type: ignore[arg-type]
        return Response(_ipc(pa.table({"value": out})), media_type=ARROW_STREAM)

    @app.post("/v1/optout-pseudonyms")
    async def optout(request: Request) -> dict[str, Any]:
        c = custodian(request)
        data = await body_json(request)
        return {"pseudonyms": c.optout_pseudonyms(str(data.get("nir", "")), str(data.get("birth_date", "")),
                                                  data.get("rights_nir"))}

    @app.post("/v1/data-keys")
    async def new_key(request: Request) -> dict[str, Any]:
        c = custodian(request)
        dk = c.new_data_key(str((await body_json(request)).get("purpose", "")))
        return {"key_id": dk.key_id, "wrapped": dk.wrapped, "key": base64.b64encode(dk.key).decode()}

    @app.post("/v1/unwrap")
    async def unwrap(request: Request) -> dict[str, Any]:
        c = custodian(request)
        data = await body_json(request)
        key = c.unwrap(str(data.get("key_id", "")), str(data.get("wrapped", "")))
        return {"key": base64.b64encode(key).decode()}

    @app.post("/v1/shred")
    async def shred(request: Request) -> dict[str, Any]:
        c = custodian(request)
        return {"existed": c.shred(str((await body_json(request)).get("project", "")))}

    @app.post("/v1/rotation")
    def begin(c: LocalCustodian = Depends(custodian)) -> Response:  # noqa: B008
        h = c.begin_rotation()
        meta = {"rotation_id": h.rotation_id, "old_generation": str(h.old_generation),
                "new_generation": str(h.new_generation)}
        return Response(_ipc(h.mapping.replace_schema_metadata(meta)), media_type=ARROW_STREAM)

    @app.post("/v1/rotation/{rotation_id}/complete")
    def complete(rotation_id: str, c: LocalCustodian = Depends(custodian)) -> dict[str, Any]:  # noqa: B008
        return c.complete_rotation(rotation_id)

    @app.post("/v1/rotation/{rotation_id}/abort")
    def abort(rotation_id: str, c: LocalCustodian = Depends(custodian)) -> dict[str, bool]:  # noqa: B008
        c.abort_rotation(rotation_id)
        return {"aborted": True}

    return app


def serve(home_path: Path, host: str, port: int, tls_cert: Path | None, tls_key: Path | None) -> None:
    import uvicorn

    if not is_loopback(host) and (tls_cert is None or tls_key is None):
        raise Refused(f"--host {host}: TLS is required on any address but loopback (--tls-cert and --tls-key)")
    app = create_app(home_path)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None)
