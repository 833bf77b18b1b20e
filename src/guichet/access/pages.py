"""The access applications' pages: the catalogue's basket, the applicant's form, the reviewers' view and the
home-page panels of what waits for each role.

- **Basket**: on the catalogue's product and dictionary pages a signed-in researcher adds a whole table or the
  variables they tick to their current draft (``POST /applications/basket``), which is created when they
  have none; the catalogue's pages show the basket (``basket`` template global: count and link). A draft made
  from the basket is a valid application whose texts hold a placeholder; the form refuses to submit it while
  one remains.
- **Form** (``/applications/{id}``): the sections of EHDS Art 67(2) (``schemas/application.schema.json``), the
  variables requested (untick to remove), the criteria as JSON with the grammar's examples and the
  feasibility count, every problem shown next to its section; save (a revision), submit, answer the
  questions (a revision), withdraw.
- **Review**: the sections with the reviewers' notes, what changed since the previous revision, the steps'
  due dates and history, the completeness check, the panels' opinion and the authority's decision — in
  production each decision needs a second-factor code typed in its form, as the quality override.

Every change goes through ``guichet.access.services`` (the same rules, refusals and audit as the CLI and
the API); an application the account may not see answers 404.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse, Response

from guichet.access import page_services as pages
from guichet.access import services as access
from guichet.access.contents import EXACT_FIELDS, criteria_problems
from guichet.access.criteria import validate as validate_criteria
from guichet.access.feasibility_services import feasibility
from guichet.access.model import ApplicationInfo, Problem
from guichet.access.workflow import FINAL, SECTIONS, WAITING_FOR_APPLICANT
from guichet.accounts.auth import verify_totp
from guichet.catalogue import services as catalogue
from guichet.errors import BadInput, GuichetError, NotFound, Refused
from guichet.governance import Actor, Resource, authorize
from guichet.web.context import WebContext
from guichet.web.pages_base import render
from guichet.web.routing import Ctx, GuardedRouter, Number
from guichet.web.site import Panel

HERE = Path(__file__).parent
router = GuardedRouter(templates=HERE / "templates", locales=HERE / "locales")
PANEL_ROWS = 8
MAX_FORM = 512 * 1024  # an application's form, with long code lists in its criteria
EDITABLE = frozenset({"draft", *WAITING_FOR_APPLICANT})
PURPOSES = ("public_health", "policy_making", "statistics", "education", "scientific_research",
            "development_innovation", "algorithm_training", "care_improvement")
# What a draft made from the basket holds in the texts its applicant has not written yet: the draft is a
# valid application (as the services require of every revision); the pages refuse to submit it while a field
# still holds this text.
PLACEHOLDER = "(to be written)"
CRITERIA_EXAMPLES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("criteria.example.adults", {"all": [{"age": {"min": 18}, "at": "2023-01-01"},
                                         {"codes": ["A10"], "system": "ATC", "during": {"from": "2023-01-01",
                                                                                        "to": "2023-12-31"}}]}),
    ("criteria.example.stays", {"codes": ["E11"], "system": "ICD10", "match": "prefix",
                                "during": {"from": "2022-01-01", "to": "2023-12-31"}}),
    ("criteria.example.territory", {"all": [{"sex": "female"}, {"territory": {"regions": ["84"]}},
                                            {"not": {"codes": ["30"], "system": "ALD"}}]}),
    ("criteria.example.period", {"period": {"from": "2023-01-01", "to": "2023-12-31"}}),
)


# --- contents <-> form ----------------------------------------------------------------------------------

def _lines(text: str) -> list[list[str]]:
    return [[part.strip() for part in line.split("|")] for line in text.splitlines() if line.strip()]


def _person(parts: list[str]) -> dict[str, str]:
    person = {"name": parts[0] if parts else "", "role": parts[1] if len(parts) > 1 else ""}
    if len(parts) > 2 and parts[2]:
        person["email"] = parts[2]
    return person


def form_values(content: dict[str, Any]) -> dict[str, Any]:
    """The form's fields for an application's contents."""
    inv = content.get("investigator") or {}
    ident = content.get("identification") or {}
    ethics = content.get("ethics") or {}
    optout = content.get("optout_exception") or {}
    return {
        "title": content.get("title", ""), "inv_name": inv.get("name", ""), "inv_role": inv.get("role", ""),
        "inv_email": inv.get("email", ""),
        "data_users": "\n".join(" | ".join(x for x in (p.get("name", ""), p.get("role", ""), p.get("email", "")) if x)
                                for p in content.get("data_users") or []),
        "purpose": content.get("purpose", ""), "public_interest": content.get("public_interest", ""),
        "expected_benefit": content.get("expected_benefit", ""),
        "vars": [f"{d['product']}/{d['table']}/{v}" for d in content.get("data") or [] for v in d.get("variables", [])],
        "criteria": json.dumps(content.get("criteria", {}), indent=2, ensure_ascii=False),
        "id_form": ident.get("form", ""), "id_justification": ident.get("justification", ""),
        "id_date_shift": str(ident.get("date_shift_days") or ""),
        "exact": [f"{d['product']}/{d['table']}/{v}" for d in content.get("data") or [] for v in d.get("granted", [])],
        "safeguards": content.get("safeguards", ""), "duration_months": str(content.get("duration_months", "")),
        "resources": content.get("resources", ""), "ethics_assessment": ethics.get("assessment", ""),
        "ethics_committee": ethics.get("committee", ""), "optout": bool(optout.get("requested")),
        "optout_justification": optout.get("justification", ""),
        "brought": "\n".join(f"{b.get('name', '')} | {b.get('description', '')}"
                             for b in content.get("brought_datasets") or []),
        "public_summary": content.get("public_summary", ""),
    }


def _str(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def values_of(form: FormData) -> dict[str, Any]:
    """The form's fields as posted (shown again with the problems found)."""
    names = ("title", "inv_name", "inv_role", "inv_email", "data_users", "purpose", "public_interest",
             "expected_benefit", "criteria", "id_form", "id_justification", "id_date_shift", "safeguards",
             "duration_months",
             "resources", "ethics_assessment", "ethics_committee", "optout_justification", "brought",
             "public_summary")
    out: dict[str, Any] = {n: _str(form, n) for n in names}
    out["vars"] = [v for v in form.getlist("var") if isinstance(v, str)]
    out["all_vars"] = [v for v in form.getlist("all_var") if isinstance(v, str)] or out["vars"]
    out["exact"] = [v for v in form.getlist("exact") if isinstance(v, str)]
    out["optout"] = _str(form, "optout") == "yes"
    return out


def content_of(values: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """An application's contents from the form's fields, and the problems of reading them (the criteria's
    JSON, the duration); what the schema says about the rest is found by checking the contents."""
    found: list[Problem] = []
    content: dict[str, Any] = {"title": values["title"]}
    inv = _person([values["inv_name"], values["inv_role"], values["inv_email"]])
    content["investigator"] = inv
    content["data_users"] = [_person(p) for p in _lines(values["data_users"])]
    if values["purpose"]:
        content["purpose"] = values["purpose"]
    for key in ("public_interest", "expected_benefit", "safeguards", "resources", "public_summary"):
        content[key] = values[key]
    data: dict[tuple[str, str], list[str]] = {}
    for v in values["vars"]:
        parts = v.split("/", 2)
        if len(parts) == 3 and parts[2] not in data.setdefault((parts[0], parts[1]), []):
            data[(parts[0], parts[1])].append(parts[2])
    exact: dict[tuple[str, str], list[str]] = {}
    for v in values.get("exact", []):
        parts = v.split("/", 2)
        if len(parts) == 3 and parts[2] in data.get((parts[0], parts[1]), []) and parts[2] in EXACT_FIELDS:
            exact.setdefault((parts[0], parts[1]), []).append(parts[2])
    content["data"] = [{"product": p, "table": t, "variables": vs, **({"granted": exact[(p, t)]} if (p, t) in exact
                                                                      else {})}
                       for (p, t), vs in data.items() if vs]
    try:
        content["criteria"] = json.loads(values["criteria"] or "{}")
    except ValueError as exc:
        content["criteria"] = {}
        found.append(Problem("criteria", f"not valid JSON (line {getattr(exc, 'lineno', '?')}, "
                                         f"column {getattr(exc, 'colno', '?')})"))
    content["identification"] = {"form": values["id_form"], "justification": values["id_justification"]}
    if values.get("id_date_shift"):
        try:
            content["identification"]["date_shift_days"] = int(values["id_date_shift"])
        except ValueError:
            found.append(Problem("identification", "the date shift: a whole number of days"))
    try:
        content["duration_months"] = int(values["duration_months"])
    except ValueError:
        found.append(Problem("duration_months", "a whole number of months"))
        content["duration_months"] = 0
    ethics = {"assessment": values["ethics_assessment"]}
    if values["ethics_committee"]:
        ethics["committee"] = values["ethics_committee"]
    content["ethics"] = ethics
    optout: dict[str, Any] = {"requested": values["optout"]}
    if values["optout_justification"]:
        optout["justification"] = values["optout_justification"]
    content["optout_exception"] = optout
    content["brought_datasets"] = [{"name": p[0], "description": p[1] if len(p) > 1 else ""}
                                   for p in _lines(values["brought"])]
    return content, found


def placeholders(content: dict[str, Any]) -> list[Problem]:
    """The fields that still hold the basket's placeholder (a draft may; a submission may not)."""
    out: list[Problem] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, str) and value.strip() == PLACEHOLDER:
            out.append(Problem(path, "still to be written"))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    walk(content, "")
    return out


def _from_pointer(pointer: str) -> str:
    """A criteria's JSON pointer as an application's path: ``/all/1/codes/0`` -> ``.all[1].codes[0]``."""
    out = ""
    for part in pointer.split("/")[1:] if pointer.startswith("/") else ([pointer] if pointer else []):
        part = part.replace("~1", "/").replace("~0", "~")
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def by_section(found: list[Problem]) -> dict[str, list[Problem]]:
    """Problems under the section their path starts with (``data[1].variables[0]`` -> ``data``)."""
    out: dict[str, list[Problem]] = {}
    for p in found:
        head = p.path.replace("[", ".").split(".", 1)[0] or "title"
        out.setdefault(head if head in SECTIONS else "title", []).append(p)
    return out


def draft_contents(item: dict[str, Any]) -> dict[str, Any]:
    """A draft made from the basket: its first table and variables, the other fields to write."""
    year = dt.datetime.now(dt.UTC).year - 1
    return {
        "title": PLACEHOLDER, "investigator": {"name": PLACEHOLDER, "role": "principal investigator"},
        "data_users": [{"name": PLACEHOLDER, "role": PLACEHOLDER}], "purpose": "scientific_research",
        "public_interest": PLACEHOLDER, "expected_benefit": PLACEHOLDER, "data": [item],
        "criteria": {"period": {"from": f"{year}-01-01", "to": f"{year}-12-31"}},
        "identification": {"form": "pseudonymised", "justification": PLACEHOLDER}, "safeguards": PLACEHOLDER,
        "duration_months": 12, "resources": PLACEHOLDER, "ethics": {"assessment": PLACEHOLDER},
        "optout_exception": {"requested": False}, "brought_datasets": [], "public_summary": PLACEHOLDER,
    }


def add_to(content: dict[str, Any], product: str, table: str, variables: list[str]) -> int:
    """Add ``variables`` of ``product.table`` to ``content``'s data; answers how many were new."""
    data = content.setdefault("data", [])
    item = next((d for d in data if d.get("product") == product and d.get("table") == table), None)
    if item is None:
        item = {"product": product, "table": table, "variables": []}
        data.append(item)
    new = [v for v in dict.fromkeys(variables) if v not in item["variables"]]
    item["variables"].extend(new)
    return len(new)


# --- the basket -----------------------------------------------------------------------------------------

def current_draft(ctx: WebContext, actor: Actor) -> int | None:
    """The account's most recent draft: the one the catalogue's basket adds to."""
    drafts = access.list_applications(ctx.hub, actor, state="draft", mine=True)
    return max((s.id for s in drafts), default=None)


def _researcher(actor: Actor | None) -> bool:
    return actor is not None and bool(authorize(actor, "application.create"))


@router.template_global("basket")
def basket(ctx: WebContext) -> dict[str, Any] | None:
    """The signed-in researcher's basket (their current draft) for the catalogue's pages, or None."""
    actor = ctx.actor
    if not _researcher(actor):
        return None
    assert actor is not None
    known = getattr(ctx.request.state, "basket", None)
    if known is not None:  # the catalogue's page asks twice (its summary and its forms)
        return dict(known)
    added = ctx.request.query_params.get("basket")
    out: dict[str, Any] = {"action": "/applications/basket", "count": 0, "tables": 0, "href": None,
                           "added": int(added) if added and added.isdigit() and len(added) < 6 else None,
                           "path": ctx.request.url.path}
    try:
        draft = current_draft(ctx, actor)
        if draft is not None:
            info = access.show(ctx.hub, actor, application_id=draft)
            data = info.content.get("data") or []
            out.update(count=sum(len(d.get("variables", [])) for d in data), tables=len(data),
                       href=f"/applications/{draft}",
                       chosen={f"{d['product']}/{d['table']}/{v}" for d in data for v in d.get("variables", [])})
    except GuichetError:
        pass
    ctx.request.state.basket = out
    return out


def _back(path: str) -> str:
    """Where the basket's form sends the researcher back: a catalogue page of this site, nothing else."""
    if path.startswith("/catalogue") and "//" not in path and "\\" not in path and "?" not in path:
        return path
    return "/catalogue"


@router.page("/applications/basket", permission="application.create", methods=("POST",),
             summary="Add a table or the ticked variables to the account's current draft (created if none)",
             responses={303: {"description": "back to the catalogue page, with how many variables were added"}})
async def basket_add(ctx: Ctx, product: Annotated[str, Form(max_length=64)],
                     table: Annotated[str, Form(max_length=128)], back: Annotated[str, Form(max_length=300)] = "",
                     whole: Annotated[str, Form(max_length=3)] = "") -> Response:
    actor = ctx.actor
    assert actor is not None
    form = await ctx.request.form()
    ticked = [v for v in form.getlist("var") if isinstance(v, str) and 0 < len(v) <= 128][:1000]

    def add() -> int:
        variables = ticked
        if whole:
            info = catalogue.show_product(ctx.hub, actor, product_id=product, with_variables=True)
            found = [t for t in info.tables if t.name == table]
            if not found:
                raise NotFound(f"product {product} has no table {table}")
            variables = [v.name for v in found[0].variables]
        if not variables:
            return 0
        draft = current_draft(ctx, actor)
        if draft is None:
            item = {"product": product, "table": table, "variables": list(dict.fromkeys(variables))}
            access.create(ctx.hub, actor, content=draft_contents(item))
            return len(item["variables"])
        content = access.show(ctx.hub, actor, application_id=draft).content
        added = add_to(content, product, table, variables)
        if added:
            access.answer(ctx.hub, actor, application_id=draft, content=content)
        return added

    added = await run_in_threadpool(add)
    target = _back(back)
    return RedirectResponse(f"{quote(target)}?basket={added}#basket", status_code=303)


# --- lists and one application ---------------------------------------------------------------------------

@router.page("/applications", permission="application.list", nav="nav.applications", nav_order=30,
             summary="Access applications with their states and due dates (an applicant: their own)")
def applications_page(ctx: Ctx) -> HTMLResponse:
    assert ctx.actor is not None
    found = access.list_applications(ctx.hub, ctx.actor)
    return render(ctx, "applications.html", applications=found, researcher=_researcher(ctx.actor))


def _view(ctx: WebContext, application_id: int, *, values: dict[str, Any] | None = None,
          problems: list[Problem] | None = None, message: str | None = None, error: str | None = None,
          count: Any = None, status: int = 200) -> HTMLResponse:
    actor = ctx.actor
    assert actor is not None
    info = access.show(ctx.hub, actor, application_id=application_id)
    mine = info.applicant == actor.username
    editable = mine and info.state in EDITABLE
    changes = None
    if info.revision > 1:
        changes = access.diff(ctx.hub, actor, application_id=application_id)
    members: list[str] = []
    panels: list[str] = []
    can_opinion = not mine and info.state in ("under_review", "revise", "opinion") \
        and bool(authorize(actor, "application.opinion", _resource(info)))
    if can_opinion:
        listed = access.list_members(ctx.hub, actor)
        panels = sorted({m.panel for m in listed if m.username == actor.username})
        members = sorted({m.username for m in listed if m.panel in panels})
        can_opinion = bool(panels)
    waiting = "opinion" if "opinion" in info.steps else "under_review"
    res = _resource(info)

    def may(action: str) -> bool:
        return bool(authorize(actor, action, res))

    notes: dict[str, list[Any]] = {}
    for n in info.notes:
        notes.setdefault(n.section, []).append(n)
    vals = values if values is not None else form_values(info.content)
    chosen = set(vals["vars"])
    return render(
        ctx, "application.html", status=status, a=info, mine=mine, editable=editable, values=vals,
        all_vars=list(dict.fromkeys([*vals.get("all_vars", vals["vars"]), *chosen])), chosen=chosen,
        exact=set(vals.get("exact", [])), exact_fields=EXACT_FIELDS,
        problems=by_section(problems or []), problem_count=len(problems or []), message=message, error=error,
        count=count, changes=changes, notes=notes, sections=SECTIONS, purposes=PURPOSES, placeholder=PLACEHOLDER,
        examples=[(key, json.dumps(c, indent=2)) for key, c in CRITERIA_EXAMPLES],
        can_check=not mine and info.state == "submitted" and may("application.check"),
        can_opinion=can_opinion, panels=panels, members=members,
        can_decide=not mine and info.state == waiting and may("application.decide"),
        can_extend=not mine and info.state == waiting and not info.extended and may("application.extend"),
        can_note=not mine and info.state not in FINAL and info.state != "draft" and may("application.note"),
        can_withdraw=mine and info.state not in FINAL, needs_code=not ctx.hub.development)


def _resource(info: ApplicationInfo) -> Resource:
    """The application as the permission table's rules see it (which forms to show; the services decide)."""
    prior = {h.actor for h in info.history if h.action in ("check", "opinion")} | {o.given_by for o in info.opinions}
    return Resource("application", str(info.id), owner=info.applicant, org=info.org, prior_actors=frozenset(prior))


@router.page("/applications/{application_id}", permission="application.show",
             summary="An application: the applicant's form, or the reviewers' view with notes, changes and decisions")
def application_page(ctx: Ctx, application_id: Number) -> HTMLResponse:
    saved = ctx.request.query_params.get("done")
    message = ctx.t(f"done.{saved}") if saved in ("saved", "submitted", "withdrawn", "checked", "opinion",
                                                   "decided", "extended", "noted") else None
    return _view(ctx, application_id, message=message)


async def _posted(ctx: WebContext) -> dict[str, Any]:
    return values_of(await ctx.request.form())


def _status(exc: GuichetError) -> int:
    return 403 if isinstance(exc, Refused) else 400


@router.page("/applications/{application_id}/save", permission="application.answer", methods=("POST",),
             max_body=MAX_FORM, summary="Save the form: a new revision of a draft, or the answer to the questions",
             responses={303: {"description": "back to the application"}})
async def save_page(ctx: Ctx, application_id: Number) -> Response:
    actor = ctx.actor
    assert actor is not None
    values = await _posted(ctx)

    def save() -> Response:
        content, found = content_of(values)
        found += [p for p in pages.check_contents(ctx.hub, actor, content=content)
                  if not (found and p.path.startswith("criteria"))]
        if not any(p.path.startswith("criteria") for p in found):
            # the schema's problems hide the criteria's own (schema and meaning): show both at once; the
            # columns the lake holds are the services' to check, when they do (at submission)
            found += [Problem("criteria" + _from_pointer(e.path), e.message)
                      for e in validate_criteria(None, content["criteria"])]
        if found:
            return _view(ctx, application_id, values=values, problems=found, status=422,
                         error=ctx.t("form.problems", count=len(found)))
        try:
            access.answer(ctx.hub, actor, application_id=application_id, content=content)
        except (BadInput, Refused) as exc:
            if isinstance(exc, NotFound):
                raise
            return _view(ctx, application_id, values=values, error=exc.message, status=_status(exc))
        return RedirectResponse(f"/applications/{application_id}?done=saved", status_code=303)

    return await run_in_threadpool(save)


@router.page("/applications/{application_id}/feasibility", permission="application.feasibility",
             methods=("POST",), max_body=MAX_FORM,
             summary="The feasibility count of the form's criteria (noisy, rounded up to 10, 'fewer than 11')")
async def feasibility_page(ctx: Ctx, application_id: Number) -> HTMLResponse:
    actor = ctx.actor
    assert actor is not None
    values = await _posted(ctx)

    def count() -> HTMLResponse:
        info = access.show(ctx.hub, actor, application_id=application_id)  # one the account may see
        content, found = content_of(values)
        if not found:
            found = criteria_problems(ctx.hub, content["criteria"])
        if found:
            return _view(ctx, application_id, values=values, problems=[p for p in found if p.path.startswith("criteria")],
                         status=422, error=ctx.t("form.problems", count=len(found)))
        try:
            result = feasibility(ctx.hub, actor, criteria=content["criteria"], application=str(info.id))
        except (BadInput, Refused) as exc:
            if isinstance(exc, NotFound):
                raise
            return _view(ctx, application_id, values=values, error=exc.message, status=_status(exc))
        shown = ctx.t.number(result.persons) if result.persons is not None else ctx.t("feasibility.fewer")
        return _view(ctx, application_id, values=values, count=shown)

    return await run_in_threadpool(count)


@router.page("/applications/{application_id}/submit", permission="application.submit", methods=("POST",),
             summary="Submit one's draft: the completeness check's clock starts",
             responses={303: {"description": "back to the application"}})
def submit_page(ctx: Ctx, application_id: Number) -> Response:
    actor = ctx.actor
    assert actor is not None
    info = access.show(ctx.hub, actor, application_id=application_id)
    left = placeholders(info.content) if info.applicant == actor.username else []
    if left:
        return _view(ctx, application_id, problems=left, status=422, error=ctx.t("form.placeholders", count=len(left)))
    try:
        access.submit(ctx.hub, actor, application_id=application_id)
    except (BadInput, Refused) as exc:
        if isinstance(exc, NotFound):
            raise
        return _view(ctx, application_id, error=exc.message, status=_status(exc))
    return RedirectResponse(f"/applications/{application_id}?done=submitted", status_code=303)


@router.page("/applications/{application_id}/withdraw", permission="application.withdraw", methods=("POST",),
             summary="Withdraw one's application before the decision",
             responses={303: {"description": "back to the application"}})
def withdraw_page(ctx: Ctx, application_id: Number,
                  reason: Annotated[str, Form(max_length=5000)] = "") -> Response:
    assert ctx.actor is not None
    return _act(ctx, application_id, "withdrawn",
                lambda actor: access.withdraw(ctx.hub, actor, application_id=application_id, reason=reason or None))


def _decider(ctx: WebContext, code: str) -> Actor:
    """In production a decision needs a current second-factor code typed in its form (a session may be
    hours old); a wrong code leaves the actor without it and the service refuses (audited)."""
    assert ctx.actor is not None
    if ctx.hub.development:
        return ctx.actor
    ok = bool(code.strip()) and verify_totp(ctx.hub, ctx.actor.username, code.strip()[:16])
    return replace(ctx.actor, strong_auth=ok)


def _act(ctx: WebContext, application_id: int, done: str, step: Any, code: str | None = None) -> Response:
    actor = _decider(ctx, code) if code is not None else ctx.actor
    assert actor is not None
    try:
        step(actor)
    except (BadInput, Refused) as exc:
        if isinstance(exc, NotFound):
            raise
        return _view(ctx, application_id, error=exc.message, status=_status(exc))
    return RedirectResponse(f"/applications/{application_id}?done={done}", status_code=303)


Code = Annotated[str, Form(max_length=10)]
Reason = Annotated[str, Form(max_length=5000)]


@router.page("/applications/{application_id}/check", permission="application.check", methods=("POST",),
             summary="The completeness check, a decision: complete, or incomplete with the questions",
             responses={303: {"description": "back to the application"}})
def check_page(ctx: Ctx, application_id: Number, outcome: Annotated[str, Form(pattern="^(complete|incomplete)$")],
               reason: Reason, code: Code = "") -> Response:
    return _act(ctx, application_id, "checked", lambda actor: access.check(
        ctx.hub, actor, application_id=application_id, complete=outcome == "complete", reason=reason), code)


@router.page("/applications/{application_id}/opinion", permission="application.opinion", methods=("POST",),
             summary="A panel's opinion, a decision: outcome, reason, rapporteur, members present, vote, conflicts",
             responses={303: {"description": "back to the application"}})
async def opinion_page(ctx: Ctx, application_id: Number,
                       outcome: Annotated[str, Form(pattern="^(favourable|unfavourable|revise)$")], reason: Reason,
                       panel: Annotated[str, Form(pattern="^(scientific|citizens)$")] = "scientific",
                       rapporteur: Annotated[str, Form(max_length=64)] = "",
                       vote_for: Annotated[str, Form(max_length=4)] = "",
                       vote_against: Annotated[str, Form(max_length=4)] = "",
                       vote_abstain: Annotated[str, Form(max_length=4)] = "",
                       conflicts: Annotated[str, Form(max_length=20000)] = "", code: Code = "") -> Response:
    form = await ctx.request.form()
    present = [p for p in form.getlist("present") if isinstance(p, str) and 0 < len(p) <= 64][:100]
    declared = []
    for parts in _lines(conflicts):
        declared.append({"member": parts[0], "declaration": " | ".join(parts[1:])})
    votes = (vote_for, vote_against, vote_abstain)

    def give(actor: Actor) -> Any:
        vote = None
        if any(v.strip() for v in votes):
            if not all(v.strip().isdigit() for v in votes):
                raise BadInput("vote: three whole numbers (for, against, abstain)")
            vote = dict(zip(("for", "against", "abstain"), (int(v) for v in votes), strict=True))
        return access.opinion(ctx.hub, actor, application_id=application_id, outcome=outcome, reason=reason,
                              panel=panel, rapporteur=rapporteur or None, present=present or None, vote=vote,
                              conflicts=declared)

    return await run_in_threadpool(_act, ctx, application_id, "opinion", give, code)


@router.page("/applications/{application_id}/decision", permission="application.decide", methods=("POST",),
             summary="The authority's decision: authorise or refuse, with a reason",
             responses={303: {"description": "back to the application"}})
def decision_page(ctx: Ctx, application_id: Number, outcome: Annotated[str, Form(pattern="^(authorise|refuse)$")],
                  reason: Reason, code: Code = "") -> Response:
    return _act(ctx, application_id, "decided", lambda actor: access.decide(
        ctx.hub, actor, application_id=application_id, authorise=outcome == "authorise", reason=reason), code)


@router.page("/applications/{application_id}/extension", permission="application.extend", methods=("POST",),
             summary="Extend the decision's due date once, with a reason",
             responses={303: {"description": "back to the application"}})
def extension_page(ctx: Ctx, application_id: Number, reason: Reason, code: Code = "") -> Response:
    return _act(ctx, application_id, "extended", lambda actor: access.extend(
        ctx.hub, actor, application_id=application_id, reason=reason), code)


@router.page("/applications/{application_id}/notes", permission="application.note", methods=("POST",),
             summary="A reviewer's note on a section, private to the reviewers or addressed to the applicant",
             responses={303: {"description": "back to the application"}})
def note_page(ctx: Ctx, application_id: Number, section: Annotated[str, Form(max_length=32)],
              text: Reason, audience: Annotated[str, Form(pattern="^(reviewers|applicant)$")] = "reviewers"
              ) -> Response:
    return _act(ctx, application_id, "noted", lambda actor: access.note(
        ctx.hub, actor, application_id=application_id, section=section, text=text,
        to_applicant=audience == "applicant"))


# --- what waits on the home page -------------------------------------------------------------------------

def _due(ctx: WebContext, s: Any) -> str:
    due = s.answer_due if s.state in WAITING_FOR_APPLICANT else s.due
    state = ctx.t(f"state.{s.state}")
    return ctx.t("panel.due", state=state, date=ctx.t.date(due)) if due else state


def _waiting(ctx: WebContext, action: str, states: tuple[str, ...], title: str, mine: bool = False
             ) -> Panel | None:
    actor = ctx.actor
    assert actor is not None
    if not authorize(actor, action):
        return None
    found = [s for s in access.list_applications(ctx.hub, actor, mine=mine) if s.state in states
             and (mine or (s.applicant != actor.username and s.org != actor.org))]  # none it may not act on
    found.sort(key=lambda s: (s.answer_due or s.due or dt.date.max, s.id))
    items = [{"label": f"#{s.id} {s.title}", "detail": _due(ctx, s), "href": f"/applications/{s.id}"}
             for s in found]
    return Panel(title, items[:PANEL_ROWS], "/applications", f"{title}.none", 30)


@router.home_panel(permission="application.list", order=30)
def to_check_panel(ctx: WebContext) -> Panel | None:
    """Operators: submitted applications whose completeness is to check."""
    return _waiting(ctx, "application.check", ("submitted",), "panel.to_check")


@router.home_panel(permission="application.list", order=31)
def to_review_panel(ctx: WebContext) -> Panel | None:
    """Committee members: applications under review, waiting for the panels' opinion."""
    return _waiting(ctx, "application.opinion", ("under_review",), "panel.to_review")


@router.home_panel(permission="application.list", order=32)
def to_decide_panel(ctx: WebContext) -> Panel | None:
    """The authority: applications with their scientific opinion, waiting for the decision."""
    return _waiting(ctx, "application.decide", ("opinion",), "panel.to_decide")


@router.home_panel(permission="application.list", order=29)
def mine_panel(ctx: WebContext) -> Panel | None:
    """Researchers: their drafts and the applications waiting for their answer."""
    return _waiting(ctx, "application.create", ("draft", *WAITING_FOR_APPLICANT), "panel.mine", mine=True)
