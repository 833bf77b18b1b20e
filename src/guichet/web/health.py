"""Probes for load balancers and orchestrators: public, cheap, and silent about internals."""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from guichet.errors import Unavailable
from guichet.web.routing import PUBLIC, GuardedRouter

router = GuardedRouter()


@router.route_with("/healthz", permission=PUBLIC, authenticate=False, tags=["health"], summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.route_with("/readyz", permission=PUBLIC, authenticate=False, tags=["health"],
                   summary="Readiness: the database answers and its schema is current",
                   responses={503: {"description": "not ready"}})
async def readyz(request: Request) -> JSONResponse:
    store = request.app.state.web.hub.store

    def check() -> str | None:
        try:
            store.check()
        except Unavailable:
            return "database unreachable"
        if store.current_revision() != store.head_revision():
            return "database schema is not current (run guichet doctor)"
        return None

    problem = await run_in_threadpool(check)
    if problem:
        return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)
    return JSONResponse({"status": "ready"})
