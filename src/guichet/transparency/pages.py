"""The citizens' pages (public, no account), in French and English, readable on a phone:

- ``/transparency``: how one's data is used, in plain words, and where to act;
- ``/transparency/projects?q=``: the registry in plain language (what, who, why, which data, status,
  results), searched on the server; projects whose results are overdue;
- ``/transparency/results``: results as they are due and published, and the released statistics answers;
- ``/transparency/optout`` and ``/transparency/optout/withdraw``: the opt-out form and its withdrawal, on the
  opt-out service (identity hook, receipts, the same answer in the same time whether or not the person is
  known, a rate limit shared by every worker through the database);
- ``/transparency/findings``: the preference not to be informed of significant findings, and its withdrawal;
- ``/transparency/complaint``: a complaint (Art 81), answered by a reference number;
- ``/transparency/report/YYYY``: the activity report (Art 59) with its charts (inline SVG);
- for operators: ``/transparency/desk`` (objections received by post or at a counter) and
  ``/transparency/complaints`` (the complaints and their status).

Listed once in ``guichet.web.app.ROUTER_MODULES``.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Form, Query
from starlette.responses import HTMLResponse, RedirectResponse, Response

from guichet.catalogue import services as catalogue
from guichet.custodian import optout as register
from guichet.custodian import services as custodian
from guichet.errors import GuichetError, NotFound, Refused
from guichet.permits import permit_services as permits
from guichet.stats import services as stats
from guichet.transparency import report as reports
from guichet.transparency import services as transparency
from guichet.web.context import WebContext
from guichet.web.login import PUBLIC as PUBLIC_ACTOR
from guichet.web.pages_base import render
from guichet.web.routing import PUBLIC, Ctx, GuardedRouter

HERE = Path(__file__).parent
router = GuardedRouter(templates=HERE / "templates", locales=HERE / "locales")
router.add_nav("/transparency", "nav.transparency", "registry.read", 62)
router.add_nav("/transparency/desk", "nav.desk", "optout.record", 64)
MAX_QUERY = 200


@router.template_global("footer_links")
def footer_links() -> list[tuple[str, str]]:
    """Links every page's footer shows, signed in or not: how a citizen finds these pages from anywhere."""
    return [("/transparency", "tr.footer.data"), ("/transparency/projects", "tr.nav.projects"),
            ("/transparency/optout", "tr.nav.optout"), ("/transparency/complaint", "tr.nav.complaint")]
IN_PROGRESS = ("submitted", "incomplete", "under_review", "revise", "opinion")


def _actor(ctx: WebContext) -> Any:
    return ctx.actor or PUBLIC_ACTOR


def _client(ctx: WebContext) -> str:
    address = ctx.request.client.host if ctx.request.client else "unknown"
    return ctx.state.keys.client_hash(address)


def _fold(text: str) -> str:
    """Lower case without accents: "Étude" matches "etude"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def product_titles(ctx: WebContext) -> dict[str, str]:
    """The catalogue's products by id, titled in the page's language (the other one when it lacks it)."""
    products = catalogue.list_products(ctx.hub, _actor(ctx))
    return {p.id: p.title.get(ctx.locale) or next(iter(p.title.values()), p.id) for p in products}


def plain_projects(ctx: WebContext, registry: dict[str, Any], overdue: list[dict[str, Any]],
                   titles: dict[str, str] | None = None,
                   releases: dict[str, list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """One entry per application, in words: what, who, why, which data, where it stands, results (the
    permit's published releases and recalls)."""
    t = ctx.t
    titles = titles or {}
    releases = releases or {}
    permits_by_id = {p["id"]: p for p in registry["permits"]}
    late = {r["permit"] for r in overdue}
    out = []
    for a in registry["applications"]:
        permit = permits_by_id.get(a["permit"]) if a["permit"] else None
        status = a["status"]
        if permit is not None:
            status_text = t(f"tr.permit_state.{permit['state']}", until=permit["valid_until"],
                            start=permit.get("valid_from"))
        else:
            status_text = t(f"tr.status.{status}") if status in (*IN_PROGRESS, "authorised", "refused", "withdrawn",
                                                                   "lapsed") else status
        purpose = a["purpose"] or ""
        purpose_text = t(f"purpose.{purpose}") if purpose else ""
        results = None
        if permit is not None and permit["results_due"]:
            results = {"due": permit["results_due"], "overdue": permit["id"] in late}
        entry = {
            "id": a["id"], "title": a["title"], "summary": a["summary"], "organisation": a["organisation"],
            "investigator": a["principal_investigator"], "purpose": purpose_text, "products": a["products"],
            "status": status_text, "received": a["received"], "decision": a["decision"],
            "permit": permit, "results": results,
            "releases": releases.get(permit["id"], []) if permit is not None else [],
        }
        entry["haystack"] = _fold(" ".join(str(v) for v in (
            a["id"], a["title"], a["summary"] or "", a["organisation"], a["principal_investigator"] or "",
            purpose, purpose_text, " ".join(a["products"]), " ".join(titles.get(x, "") for x in a["products"]),
            status_text, permit["id"] if permit else "", " ".join(r["title"] for r in entry["releases"]))))
        out.append(entry)
    return out


def search(projects: list[dict[str, Any]], q: str) -> list[dict[str, Any]]:
    words = _fold(q).split()
    return [p for p in projects if all(w in p["haystack"] for w in words)]


def _today() -> Any:
    return datetime.now(UTC).date()


@router.page("/transparency", permission=PUBLIC, summary="How is my data used: plain explanations and where to act")
def home(ctx: Ctx) -> HTMLResponse:
    return render(ctx, "transparency_home.html", year=_today().year)


@router.page("/transparency/projects", permission=PUBLIC,
             summary="The registry in plain language, searchable (q): what, who, why, which data, status, results")
def projects(ctx: Ctx, q: Annotated[str | None, Query(max_length=MAX_QUERY)] = None) -> HTMLResponse:
    actor = _actor(ctx)
    registry = permits.read_registry(ctx.hub, actor)
    overdue = transparency.overdue_results(ctx.hub, actor)
    titles = product_titles(ctx)
    found = plain_projects(ctx, registry, overdue, titles, transparency.published_results(ctx.hub, actor))
    shown = search(found, q) if q and q.strip() else found
    return render(ctx, "transparency_projects.html", projects=shown, total=len(found), q=(q or "").strip(),
                  overdue=overdue, titles=titles)


@router.page("/transparency/results", permission=PUBLIC,
             summary="Results of the projects: when they are due, published, or overdue")
def results(ctx: Ctx) -> HTMLResponse:
    actor = _actor(ctx)
    registry = permits.read_registry(ctx.hub, actor)
    overdue = transparency.overdue_results(ctx.hub, actor)
    releases = transparency.published_results(ctx.hub, actor)
    late = {r["permit"] for r in overdue}
    rows = [{**p, "overdue": p["id"] in late, "releases": releases.get(p["id"], [])} for p in registry["permits"]]
    return render(ctx, "transparency_results.html", permits=rows, overdue=overdue,
                  published=sum(1 for x in releases.values() for r in x if r["state"] == "released"),
                  statistics=stats.registry(ctx.hub, actor))


# --- the opt-out and the findings preference --------------------------------------------------------------

def _entry_form(ctx: WebContext, kind: str, **values: Any) -> HTMLResponse:
    template = "transparency_optout.html" if kind == "objection" else "transparency_findings.html"
    status = values.pop("status", 200)
    return render(ctx, template, scopes=register.SCOPES, status=status, **values)


@router.page("/transparency/optout", permission=PUBLIC, summary="The opt-out form (EHDS Art 71)")
def optout_form(ctx: Ctx) -> HTMLResponse:
    return _entry_form(ctx, "objection")


@router.page("/transparency/optout", permission=PUBLIC, methods=("POST",),
             summary="Record an objection: answers a receipt, the same whether or not the person is known")
def optout_submit(ctx: Ctx, nir: Annotated[str, Form(max_length=40)], birth_date: Annotated[str, Form(max_length=10)],
                  scope: Annotated[str, Form(max_length=16)] = "all",
                  rights_nir: Annotated[str, Form(max_length=40)] = "") -> HTMLResponse:
    try:
        receipt = custodian.add_optout(ctx.hub, _actor(ctx), nir=nir, birth_date=birth_date, scope=scope,
                                       rights_nir=rights_nir.strip() or None, client=_client(ctx))
    except GuichetError as exc:
        return _entry_form(ctx, "objection", error=_form_error(ctx, exc), status=_status(exc))
    return render(ctx, "transparency_receipt.html", kind="objection", receipt=receipt)


@router.page("/transparency/optout/withdraw", permission=PUBLIC, summary="Withdraw an objection with its receipt")
def optout_withdraw_form(ctx: Ctx) -> HTMLResponse:
    return render(ctx, "transparency_withdraw.html", kind="objection")


@router.page("/transparency/optout/withdraw", permission=PUBLIC, methods=("POST",),
             summary="Withdraw an objection with its receipt")
def optout_withdraw(ctx: Ctx, receipt: Annotated[str, Form(max_length=64)]) -> HTMLResponse:
    return _withdraw(ctx, "objection", receipt)


def _withdraw(ctx: WebContext, kind: str, receipt: str) -> HTMLResponse:
    try:
        register.PUBLIC_LIMITER.check(ctx.hub, _client(ctx))  # guessing receipts is rate-limited too
        fn = custodian.withdraw_optout if kind == "objection" else custodian.withdraw_findings
        fn(ctx.hub, _actor(ctx), receipt=receipt)
    except GuichetError as exc:
        return render(ctx, "transparency_withdraw.html", kind=kind, error=_form_error(ctx, exc), status=_status(exc))
    return render(ctx, "transparency_withdraw.html", kind=kind, done=True)


@router.page("/transparency/findings", permission=PUBLIC,
             summary="The preference not to be informed of significant findings (EHDS Arts 58, 61)")
def findings_form(ctx: Ctx) -> HTMLResponse:
    return _entry_form(ctx, "no-findings")


@router.page("/transparency/findings", permission=PUBLIC, methods=("POST",),
             summary="Record the preference not to be informed of significant findings: answers a receipt")
def findings_submit(ctx: Ctx, nir: Annotated[str, Form(max_length=40)],
                    birth_date: Annotated[str, Form(max_length=10)],
                    rights_nir: Annotated[str, Form(max_length=40)] = "") -> HTMLResponse:
    try:
        receipt = custodian.decline_findings(ctx.hub, _actor(ctx), nir=nir, birth_date=birth_date,
                                             rights_nir=rights_nir.strip() or None, client=_client(ctx))
    except GuichetError as exc:
        return _entry_form(ctx, "no-findings", error=_form_error(ctx, exc), status=_status(exc))
    return render(ctx, "transparency_receipt.html", kind="no-findings", receipt=receipt)


@router.page("/transparency/findings/withdraw", permission=PUBLIC,
             summary="Withdraw the findings preference with its receipt")
def findings_withdraw_form(ctx: Ctx) -> HTMLResponse:
    return render(ctx, "transparency_withdraw.html", kind="no-findings")


@router.page("/transparency/findings/withdraw", permission=PUBLIC, methods=("POST",),
             summary="Withdraw the findings preference with its receipt")
def findings_withdraw(ctx: Ctx, receipt: Annotated[str, Form(max_length=64)]) -> HTMLResponse:
    return _withdraw(ctx, "no-findings", receipt)


def _status(exc: GuichetError) -> int:
    if "too many requests" in exc.message:
        return 429
    return 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Refused) else 400


def _form_error(ctx: WebContext, exc: GuichetError) -> str:
    """A message a citizen understands; it never repeats what was typed."""
    text = exc.message
    if "too many requests" in text:
        return ctx.t("tr.error.too_many")
    if "could not be verified" in text:
        return ctx.t("tr.error.unverified")
    if "receipt" in text:
        return ctx.t("tr.error.receipt")
    if "looks like it contains" in text:
        return ctx.t("tr.error.identifier")
    return ctx.t("tr.error.other")


# --- complaints -----------------------------------------------------------------------------------------

@router.page("/transparency/complaint", permission=PUBLIC, summary="Lodge a complaint (EHDS Art 81)")
def complaint_form(ctx: Ctx) -> HTMLResponse:
    return render(ctx, "transparency_complaint.html", topics=transparency.TOPICS)


@router.page("/transparency/complaint", permission=PUBLIC, methods=("POST",),
             summary="Lodge a complaint: answers a reference number; a NIR in the text is refused")
def complaint_submit(ctx: Ctx, topic: Annotated[str, Form(max_length=32)],
                     text: Annotated[str, Form(max_length=transparency.MAX_TEXT)],
                     contact: Annotated[str, Form(max_length=transparency.MAX_CONTACT)] = "") -> HTMLResponse:
    try:
        transparency.COMPLAINT_LIMITER.check(ctx.hub, _client(ctx))
        ref = transparency.submit_complaint(ctx.hub, _actor(ctx), topic=topic, text=text, contact=contact or None)
    except GuichetError as exc:
        # The text is given back to be corrected only when it holds no identifier (it is never echoed then).
        keep = "" if "looks like it contains" in exc.message else text
        return render(ctx, "transparency_complaint.html", topics=transparency.TOPICS, error=_form_error(ctx, exc),
                      topic=topic, text=keep, contact=contact, status=_status(exc))
    return render(ctx, "transparency_complaint.html", topics=transparency.TOPICS, reference=ref)


# --- the activity report --------------------------------------------------------------------------------

@router.page("/transparency/report", permission=PUBLIC, summary="The activity report of the current year")
def report_now(ctx: Ctx) -> Response:
    return RedirectResponse(f"/transparency/report/{_today().year}", status_code=303)


@router.page("/transparency/report/{year}", permission=PUBLIC,
             summary="The activity report of a year (EHDS Art 59), with charts")
def report_page(ctx: Ctx, year: Annotated[int, reports.YEAR_PATH]) -> HTMLResponse:
    data = transparency.activity_report(ctx.hub, _actor(ctx), year=year)
    return render(ctx, "transparency_report.html", r=data, charts=reports.charts(data, ctx.locale),
                  money=reports.money)


# --- operators ------------------------------------------------------------------------------------------

@router.page("/transparency/desk", permission="optout.record",
             summary="Record an objection or findings preference received by post, at a counter or by phone")
def desk(ctx: Ctx) -> HTMLResponse:
    return render(ctx, "transparency_desk.html", scopes=register.SCOPES, kinds=register.KINDS,
                  received=custodian.RECEIVED_BY)


@router.page("/transparency/desk", permission="optout.record", methods=("POST",),
             summary="Record a request on a citizen's behalf (audited, never the NIR): answers the receipt")
def desk_submit(ctx: Ctx, nir: Annotated[str, Form(max_length=40)], birth_date: Annotated[str, Form(max_length=10)],
                received_by: Annotated[str, Form(max_length=16)], kind: Annotated[str, Form(max_length=16)] = "objection",
                scope: Annotated[str, Form(max_length=16)] = "all",
                rights_nir: Annotated[str, Form(max_length=40)] = "") -> HTMLResponse:
    assert ctx.actor is not None
    values: dict[str, Any] = {"scopes": register.SCOPES, "kinds": register.KINDS, "received": custodian.RECEIVED_BY}
    try:
        receipt = custodian.record_optout(ctx.hub, ctx.actor, nir=nir, birth_date=birth_date, received_by=received_by,
                                          kind=kind, scope=scope, rights_nir=rights_nir.strip() or None)
    except GuichetError as exc:
        return render(ctx, "transparency_desk.html", error=_form_error(ctx, exc), status=_status(exc), **values)
    return render(ctx, "transparency_desk.html", receipt=receipt, kind=kind, **values)


@router.page("/transparency/complaints", permission="complaint.list", summary="Complaints and their status")
def complaints(ctx: Ctx, status: Annotated[str | None, Query(max_length=16)] = None) -> HTMLResponse:
    assert ctx.actor is not None
    rows = transparency.list_complaints(ctx.hub, ctx.actor, status=status if status in transparency.STATUSES else None)
    return render(ctx, "transparency_complaints.html", complaints=rows, statuses=transparency.STATUSES)


@router.page("/transparency/complaints/{reference}", permission="complaint.update", methods=("POST",),
             summary="Move a complaint along (in progress, answered, closed) with an answer")
def complaint_update(ctx: Ctx, reference: Annotated[str, reports.REFERENCE_PATH],
                     status: Annotated[str, Form(max_length=16)],
                     answer: Annotated[str, Form(max_length=transparency.MAX_TEXT)] = "") -> Response:
    assert ctx.actor is not None
    transparency.update_complaint(ctx.hub, ctx.actor, reference=reference, status=status, answer=answer or None)
    return RedirectResponse("/transparency/complaints", status_code=303)
