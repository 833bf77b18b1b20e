"""The linkage clerical-review pages for operators: the queue, one pair side by side, the decision form.

They sit on the linkage stage's services (``linkage.review_list|view|decide``): viewing a pair is an audited
read of personal data, a decision is an audited change. A pair shows quasi-identifiers and the hub's
evidence only; a value shaped like a pseudonym is never shown, even if a later change let one through.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import Form
from starlette.responses import HTMLResponse, RedirectResponse, Response

from guichet.governance import authorize
from guichet.linkage import services as linkage
from guichet.web.context import WebContext
from guichet.web.pages_base import render
from guichet.web.routing import Ctx, GuardedRouter, Number, OptionalNumber
from guichet.web.site import Panel

HERE = Path(__file__).parent
router = GuardedRouter(templates=HERE / "templates", locales=HERE / "locales")

PSEUDONYM = re.compile(r"^[A-Z2-7]{17}$")
WITHHELD = "…"
STATUSES = ("open", "match", "non_match", "all")


def _shown(value: Any) -> Any:
    return WITHHELD if isinstance(value, str) and PSEUDONYM.match(value) else value


def side_by_side(pair: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows (field, certificate value, person value, same?) over the union of both sides' fields."""
    cert, person = dict(pair.get("certificate") or {}), dict(pair.get("person") or {})
    rows = []
    for name in list(dict.fromkeys([*cert, *person])):
        a, b = _shown(cert.get(name)), _shown(person.get(name))
        rows.append({"field": name, "certificate": a, "person": b,
                     "same": a is not None and b is not None and str(a) == str(b) and a != WITHHELD})
    return rows


@router.home_panel(permission="linkage.review_list", order=30)
def review_panel(ctx: WebContext) -> Panel | None:
    """Pairs waiting for a clerical decision (counts only: opening the queue is an audited read)."""
    assert ctx.actor is not None
    counts = linkage.review_counts(ctx.hub, ctx.actor)
    waiting = sum(counts.values())
    items = [{"label": ctx.t("panel.review.waiting", n=waiting), "href": "/linkage/review",
              "detail": ctx.t("panel.review.detail", band=counts.get("band", 0), sample=counts.get("calibration", 0))}
             ] if waiting else []
    return Panel("panel.review", items, "/linkage/review", "panel.review.none", 30)


@router.page("/linkage/review", permission="linkage.review_list", nav="nav.linkage_review", nav_order=40,
             summary="The clerical-review queue of uncertain linkage pairs (operators)")
def queue_page(ctx: Ctx, status: str = "open", decided: OptionalNumber = None) -> HTMLResponse:
    assert ctx.actor is not None
    status = status if status in STATUSES else "open"
    pairs = linkage.review_list(ctx.hub, ctx.actor, status=status)
    return render(ctx, "linkage_queue.html", pairs=pairs, chosen=status, statuses=STATUSES, decided=decided)


@router.page("/linkage/review/{pair_id}", permission="linkage.review_view",
             summary="One uncertain pair's quasi-identifiers side by side, and the decision form (audited)")
def pair_page(ctx: Ctx, pair_id: Number) -> HTMLResponse:
    assert ctx.actor is not None
    pair = linkage.review_view(ctx.hub, ctx.actor, pair_id=pair_id)
    return render(ctx, "linkage_pair.html", pair=pair, rows=side_by_side(pair),
                 can_decide=bool(authorize(ctx.actor, "linkage.review_decide")))


@router.page("/linkage/review/{pair_id}", permission="linkage.review_decide", methods=("POST",),
             summary="Record a clerical decision on a pair (match or non-match), audited",
             responses={303: {"description": "back to the queue"}})
def decide_page(ctx: Ctx, pair_id: Number, decision: Annotated[str, Form(pattern="^(match|non_match)$")],
                note: Annotated[str, Form(max_length=500)] = "") -> Response:
    assert ctx.actor is not None
    linkage.review_decide(ctx.hub, ctx.actor, pair_id=pair_id, decision=decision, note=note.strip() or None)
    return RedirectResponse(f"/linkage/review?decided={pair_id}", status_code=303)
