"""Public transparency data: the audit chain's signed checkpoints, with the audit public key.

``/transparency/checkpoints.json`` lists every checkpoint the custodian signed for this hub (event count,
head hash, time, key id, Ed25519 signature) and the public key that verifies them, so that anyone can
record the heads and later check that the hub's trail, or an export of it, still holds them. It reads
the hub's published copy (``<home>/audit/checkpoints.jsonl``) and never calls the custodian.
"""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from guichet.audit.checkpoint import CHECKPOINT_FORMAT, published
from guichet.web.routing import PUBLIC, GuardedRouter

router = GuardedRouter()
FIELDS = ("seq", "head", "at", "key_id", "signature")


@router.route_with("/transparency/checkpoints.json", permission=PUBLIC, authenticate=False, tags=["transparency"],
                   summary="The audit chain's signed checkpoints and the audit public key (public)")
async def checkpoints(request: Request) -> JSONResponse:
    audit_dir = request.app.state.web.hub.audit_dir
    rows = await run_in_threadpool(published, audit_dir)
    keys = sorted({str(r["public_key"]) for r in rows if r.get("public_key")})
    latest_key = str(rows[-1]["public_key"]) if rows else None
    return JSONResponse({
        "format": CHECKPOINT_FORMAT,
        "signed": "the canonical JSON of {format, seq, head, at, key_id}, sorted keys, no spaces; Ed25519",
        "public_key": latest_key,
        "public_keys": keys,
        "checkpoints": [{k: r[k] for k in FIELDS} for r in rows],
    })
