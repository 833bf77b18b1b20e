"""The page of a checked output, in the layout output checkers know from SACRO's viewer: the table itself
with each failing or doubtful cell marked (colour, symbol and words, so that colour is never the only cue),
and beside it the list of those cells with their verdict, the named risk and its explanation in the reader's
language; the table's own reasons above.

``result_view`` and the template ``airlock_result.html`` are the reusable part: the review pages of output
requests include the template with ``check=result_view(result, locale)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Query
from fastapi.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from guichet.airlock import services
from guichet.airlock.check import Result
from guichet.airlock.rules import RISKS, names
from guichet.errors import GuichetError
from guichet.web.pages_base import render
from guichet.web.routing import Ctx, GuardedRouter

HERE = Path(__file__).parent
router = GuardedRouter(templates=HERE / "templates", locales=HERE / "locales")
MAX_ROWS = 500  # rows shown; the reasons list every flagged cell whatever its row


def risk(reason: str, locale: str) -> dict[str, str]:
    name, en, fr = RISKS.get(reason, (reason, reason, reason))
    return {"code": reason, "name": name, "text": fr if locale == "fr" else en}


def result_view(result: Result, locale: str) -> dict[str, Any]:
    """What the template shows: the grid with each cell's verdict, and the flagged cells with their risks."""
    flagged = {(c.row, c.column): c for c in result.cells if c.verdict != "pass" or c.reasons}
    col_index = {name: j for j, name in enumerate(result.header)}
    grid = []
    for i, row in enumerate(result.rows[:MAX_ROWS], start=1):
        cells = []
        for j, text in enumerate(row):
            c = flagged.get((i, result.header[j]))
            cells.append({"text": text, "verdict": c.verdict if c else None,
                          "anchor": f"cell-{i}-{j}" if c else None, "suppressed": bool(c and "suppressed" in c.reasons)})
        grid.append(cells)
    items = [{"row": c.row, "column": c.column, "verdict": c.verdict, "anchor": f"cell-{c.row}-{col_index.get(c.column, 0)}",
              "risks": [risk(r, locale) for r in c.reasons]}
             for c in sorted(flagged.values(), key=lambda c: (-{"fail": 2, "review": 1, "pass": 0}[c.verdict], c.row,
                                                               col_index.get(c.column, 0)))]
    return {"file": result.file, "status": result.status, "rules": result.rules, "threshold": result.threshold,
            "metadata": result.metadata, "kind": result.kind, "header": result.header, "grid": grid,
            "truncated": max(len(result.rows) - MAX_ROWS, 0), "flagged": items,
            "reasons": [risk(r, locale) for r in result.reasons], "notes": result.notes,
            "counts": result.to_dict()["counts"], "suppression": result.suppression}


@router.page("/airlock/check", permission="airlock.check", nav="nav.airlock", nav_order=60,
             summary="The automatic disclosure check of an output in a permit's workspace, cell by cell")
async def check_page(ctx: Ctx, permit: str = Query("", max_length=80), file: str = Query("", max_length=400),
                     rules: str = Query("", max_length=40)) -> HTMLResponse:
    assert ctx.actor is not None
    check = error = None
    if rules not in names():
        rules = ""  # the permit's own rule set
    if permit and file:
        try:
            result = await run_in_threadpool(services.check_output, ctx.hub, ctx.actor, permit, file,
                                             rules=rules or None)
            check = result_view(result, ctx.locale)
        except GuichetError as exc:
            error = exc.message
    return render(ctx, "airlock_check.html", permit=permit, file=file, rules=rules, rule_sets=names(),
                  check=check, error=error)
