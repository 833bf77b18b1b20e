"""The workspace pages of the portal: ``/workspaces/{permit}`` — the permit's summary, the extract's tables
and data dictionary, the query console, the files in ``outputs/`` and the session history — and the
console's ``POST /workspaces/{permit}/query``, which runs the query through the same sandbox as
``guichet workspace sql`` (``session_services.run_sql``: the same access rule, allowlist, limits and log).

Listed once in ``guichet.web.app.ROUTER_MODULES``. A researcher sees only a permit they are named on
(others: 403, recorded); operators and auditors read every workspace but do not query.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Form
from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from guichet.errors import GuichetError
from guichet.governance import Actor, Resource
from guichet.permits.tables import Permit
from guichet.web.context import WebContext, WebState
from guichet.web.pages_base import render
from guichet.web.routing import Ctx, GuardedRouter
from guichet.workspace import session_services

HERE = Path(__file__).parent
router = GuardedRouter(templates=HERE / "session_templates", locales=HERE / "session_locales")
SHOWN_ROWS = 200


def _permit_resource(request: Request, _actor: Actor) -> Resource:
    permit_id = str(request.path_params.get("permit_id", ""))[:24]
    state: WebState = request.app.state.web
    with state.hub.store.read() as session:
        permit = session.get(Permit, permit_id)
        return Resource("permit", permit_id, owner=permit.owner if permit else None, org=permit.org if permit else None)


def _page(ctx: WebContext, permit_id: str, **values: Any) -> HTMLResponse:
    assert ctx.actor is not None
    view = session_services.show(ctx.hub, ctx.actor, permit_id=permit_id)
    history = list(reversed(view["history"]))[:50]
    return render(ctx, "session_workspace.html", w=view, history=history, **values)


@router.page("/workspaces/{permit_id}", permission="workspace.show", resource=_permit_resource,
             summary="A permit's workspace: summary, tables and dictionary, query console, files, history")
async def workspace_page(ctx: Ctx, permit_id: str) -> HTMLResponse:
    return await run_in_threadpool(lambda: _page(ctx, permit_id, sql="", answer=None, error=None))


@router.page("/workspaces/{permit_id}/query", permission="workspace.sql", methods=("POST",),
             resource=_permit_resource,
             summary="Run one query of the console in a sandboxed session (as guichet workspace sql); logged")
async def query_page(ctx: Ctx, permit_id: str, sql: Annotated[str, Form(max_length=20_000)]) -> HTMLResponse:
    actor = ctx.actor
    assert actor is not None

    def run() -> HTMLResponse:
        answer, error = None, None
        try:
            answer = session_services.run_sql(ctx.hub, actor, permit_id=permit_id, sql=sql, max_rows=SHOWN_ROWS)
        except GuichetError as exc:
            error = exc.message
        return _page(ctx, permit_id, sql=sql, answer=answer, error=error, status=200 if error is None else 422)

    return await run_in_threadpool(run)
