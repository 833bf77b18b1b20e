"""Permit services: fee estimates, issue, amend, extend, revoke; reading, exporting. Every state change is
a ``@service`` (permission checked, audit written); every revision of a permit is signed and kept.

A permit's **state** is ``pending`` (issued, before its first day), ``active``, ``suspended`` (suspended by a
decision — ``permit.suspend``, until ``permit.reinstate`` — or none of its named people holds a valid
training attestation today: either way nobody can reach the data), ``expired`` (its last day has passed; the
scheduler records it, reading shows it at once) or ``revoked`` (``permits.state.effective_state``). A
person's access is open when the permit is active and their own attestation is valid: an expired
attestation suspends that person only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guichet.accounts.auth import get_user
from guichet.catalogue.tables import CatalogueVariable
from guichet.errors import BadInput, Hidden, NotFound, Refused
from guichet.governance import Resource, Unit, query, service
from guichet.permits import outbox
from guichet.permits.accreditation import attestation_valid, attested_until
from guichet.permits.applications import ApplicationView, application_row, load_application
from guichet.permits.dates import end_dates
from guichet.permits.document import sign_document
from guichet.permits.exclusions import excluded_until, exclusion_message
from guichet.permits.fees import estimate as price
from guichet.permits.fees import load_schedule
from guichet.permits.issuing import (
    Person,
    build_document,
    check_extension,
    exclusion_until,
    max_months,
    revise,
    validity,
)
from guichet.permits.signing import load_or_create_key
from guichet.permits.state import effective_state, open_suspension, pending_appeal, person_has_access
from guichet.permits.suspension import reinstate_permit, suspend_permit, suspension_info
from guichet.permits.tables import FeeEstimate, Invoice, Permit, PermitAmendment, PermitAppeal, PermitRevision

MAX_REASON = 2000
CLOSED_APPLICATIONS = frozenset({"refused", "withdrawn", "lapsed"})


def _now() -> datetime:
    return datetime.now(UTC)


def _today() -> date:
    return _now().date()


def _reason(reason: str | None) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise BadInput("--reason: every change of a permit carries a reason")
    if len(text) > MAX_REASON:
        raise BadInput(f"--reason: at most {MAX_REASON} characters")
    return text


# --- records -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EstimateInfo:
    id: int
    application: int
    state: str
    org_kind: str
    schedule: str
    currency: str
    total_cents: int
    lines: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "application": self.application, "state": self.state, "org_kind": self.org_kind,
                "schedule": self.schedule, "currency": self.currency, "total_cents": self.total_cents,
                "total": f"{self.total_cents / 100:.2f} {self.currency}", "lines": list(self.lines)}


@dataclass(frozen=True)
class PersonAccess:
    name: str
    role: str
    attested_until: date | None
    access: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role,
                "attested_until": self.attested_until.isoformat() if self.attested_until else None,
                "access": self.access}


@dataclass(frozen=True)
class PermitInfo:
    id: str
    application: int
    org: str
    owner: str
    state: str
    revision: int
    valid_from: date
    valid_until: date
    extended: bool
    issued_at: datetime
    ended_at: date | None
    exclude_until: date | None
    results_due: date | None
    delete_by: date | None
    people: tuple[PersonAccess, ...] = ()
    pending: tuple[dict[str, Any], ...] = ()
    document: dict[str, Any] = field(default_factory=dict)
    suspension: dict[str, Any] | None = None  # the open suspension decided by an operator or the authority

    def to_dict(self) -> dict[str, Any]:
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        return {"id": self.id, "application": self.application, "org": self.org, "holder": self.owner,
                "state": self.state, "revision": self.revision, "valid_from": iso(self.valid_from),
                "valid_until": iso(self.valid_until), "extended": self.extended, "issued_at": iso(self.issued_at),
                "ended_at": iso(self.ended_at), "exclude_until": iso(self.exclude_until),
                "results_due": iso(self.results_due), "delete_by": iso(self.delete_by),
                "people": [p.to_dict() for p in self.people], "pending_amendments": list(self.pending),
                "document": self.document, "suspension": self.suspension}


def _estimate_info(row: FeeEstimate) -> EstimateInfo:
    return EstimateInfo(row.id, int(row.application), row.state, row.org_kind, row.schedule, row.currency,
                        row.total_cents, tuple(row.lines))


def _info(session: Session, permit: Permit, today: date) -> PermitInfo:
    people = tuple(PersonAccess(p["name"], p["role"], attested_until(session, p["name"]),
                                person_has_access(session, permit, p["name"], today))
                   for p in permit.document.get("people", []))
    pending = tuple({"id": a.id, "change": a.change, "value": a.value, "reason": a.reason, "requested_by": a.requested_by}
                    for a in session.execute(select(PermitAmendment).where(PermitAmendment.permit_id == permit.id,
                                                                           PermitAmendment.state == "pending")
                                             .order_by(PermitAmendment.id)).scalars())
    return PermitInfo(permit.id, int(permit.application), permit.org, permit.owner,
                      effective_state(session, permit, today), permit.revision, permit.valid_from, permit.valid_until,
                      permit.extended, permit.issued_at, permit.ended_at, permit.exclude_until, permit.results_due,
                      permit.delete_by, people, pending, dict(permit.document),
                      suspension_info(open_suspension(session, permit.id)))


# --- resources ---------------------------------------------------------------------------------------------

def _app_resource(session: Session, application_id: int, **_: object) -> Resource:
    app = application_row(session, application_id)
    if app is None:
        return Resource("application", str(application_id))
    return Resource("application", str(app.id), owner=app.applicant, org=app.org)


def _permit_resource(session: Session, permit_id: str, **_: object) -> Resource:
    permit = session.get(Permit, permit_id) if isinstance(permit_id, str) else None
    if permit is None:
        return Resource("permit", str(permit_id)[:24])
    return Resource("permit", permit.id, owner=permit.owner, org=permit.org)


def _permit(session: Session, permit_id: str) -> Permit:
    permit = session.get(Permit, permit_id)
    if permit is None:
        raise NotFound(f"no permit {permit_id}")
    return permit


def _check_not_excluded(session: Session, org: str, today: date) -> None:
    until = excluded_until(session, org, today)
    if until is not None:
        raise Refused(exclusion_message(org, until))


# --- fees --------------------------------------------------------------------------------------------------

@service("permit.estimate", resource=_app_resource)
def estimate_fees(unit: Unit, application_id: int, compute_hours: int = 0) -> EstimateInfo:
    """Estimate an application's fees from the schedule; a new estimate replaces a proposed one."""
    s = unit.session
    app = load_application(s, application_id)
    if app.state in CLOSED_APPLICATIONS or app.state == "draft":
        raise Refused(f"application {app.id} is {app.state}: no fee estimate")
    _check_not_excluded(s, app.org, _today())
    if s.execute(select(Permit.id).where(Permit.application == str(app.id))).first() is not None:
        raise Refused(f"application {app.id} already has its permit")
    schedule = load_schedule(unit.hub.config.properties)
    est = price(schedule, app.org_kind if app.org_kind in ("academic", "public_body", "industry", "sme") else "industry",
                products=len(app.products), months=app.duration_months, compute_hours=compute_hours)
    for old in s.execute(select(FeeEstimate).where(FeeEstimate.application == str(app.id),
                                                   FeeEstimate.state.in_(("proposed", "accepted")))).scalars():
        old.state = "superseded"
    lines = [ln.to_dict() for ln in est.lines]
    row = FeeEstimate(application=str(app.id), org=app.org, org_kind=app.org_kind, schedule=est.schedule, lines=lines,
                      total_cents=est.total_cents, currency=est.currency, state="proposed",
                      created_by=unit.actor.username, created_at=_now())
    s.add(row)
    s.flush()
    outbox.queue(s, dedupe=f"estimate:{row.id}", recipient=app.applicant, subject=f"Fee estimate for application {app.id}",
                 body=f"The fees of application {app.id} are estimated at {est.total_cents / 100:.2f} {est.currency}. "
                      "Accept the estimate (guichet permit accept-estimate) so that the permit can be issued.",
                 now=_now())
    unit.note(obj=f"application:{app.id}", total_cents=est.total_cents, schedule=est.schedule)
    return _estimate_info(row)


def _latest_estimate(s: Session, app: ApplicationView, state: str) -> FeeEstimate:
    row = s.execute(select(FeeEstimate).where(FeeEstimate.application == str(app.id), FeeEstimate.state == state)
                    .order_by(FeeEstimate.id.desc())).scalars().first()
    if row is None:
        raise Refused(f"application {app.id} has no {state} fee estimate")
    return row


def _decide_estimate(unit: Unit, application_id: int, to_state: str) -> EstimateInfo:
    app = load_application(unit.session, application_id)
    if app.applicant != unit.actor.username:
        raise Refused(f"only the applicant accepts or declines the estimate of application {app.id}")
    row = _latest_estimate(unit.session, app, "proposed")
    row.state, row.decided_by, row.decided_at = to_state, unit.actor.username, _now()
    unit.note(obj=f"application:{app.id}", estimate=row.id, total_cents=row.total_cents)
    return _estimate_info(row)


@service("permit.accept_estimate", resource=_app_resource)
def accept_estimate(unit: Unit, application_id: int) -> EstimateInfo:
    """The applicant accepts the proposed estimate of their application (a permit needs it)."""
    return _decide_estimate(unit, application_id, "accepted")


@service("permit.withdraw_estimate", resource=_app_resource)
def withdraw_estimate(unit: Unit, application_id: int) -> EstimateInfo:
    """The applicant declines the proposed estimate: no permit is issued on it."""
    return _decide_estimate(unit, application_id, "withdrawn")


# --- issue -------------------------------------------------------------------------------------------------

def _next_id(s: Session, model: Any, prefix: str) -> str:
    year = _today().year
    count = s.execute(select(func.count()).select_from(model).where(model.id.like(f"{prefix}-{year}-%"))).scalar() or 0
    return f"{prefix}-{year}-{count + 1:04d}"


def _store_revision(unit: Unit, permit: Permit, document: dict[str, Any], change: str, reason: str | None) -> None:
    envelope = sign_document(document, load_or_create_key(unit.hub.config))
    sig = envelope["signature"]
    permit.document, permit.revision = document, int(document["revision"])
    unit.session.add(PermitRevision(permit_id=permit.id, revision=permit.revision, change=change, reason=reason,
                                    document=document, key_id=sig["key_id"], public_key=sig["public_key"],
                                    signature=sig["value"], actor=unit.actor.username, created_at=_now()))
    unit.session.flush()


def _people(s: Session, names: list[str], pi: str, today: date) -> list[Person]:
    people: list[Person] = []
    for name in dict.fromkeys([pi, *names]):
        get_user(s, name)
        if not attestation_valid(s, name, today):
            raise Refused(f"{name} holds no valid training attestation: a named person needs one "
                          f"(guichet user attest {name} --until YYYY-MM-DD)")
        people.append(Person(name, "principal_investigator" if name == pi else "member", attested_until(s, name)))
    return people


@service("permit.issue", resource=_app_resource)
def issue(unit: Unit, application_id: int, people: list[str] | None = None) -> PermitInfo:
    """Issue the signed permit of an authorised application whose fee estimate the applicant accepted. The
    applicant account is the principal investigator; ``people`` are the other named accounts."""
    s, today = unit.session, _today()
    app = load_application(s, application_id)
    if app.state != "authorised":
        raise Refused(f"application {app.id} is {app.state}: a permit follows an authorisation only")
    if s.execute(select(Permit.id).where(Permit.application == str(app.id))).first() is not None:
        raise Refused(f"application {app.id} already has its permit")
    _check_not_excluded(s, app.org, today)
    est = _latest_estimate(s, app, "accepted")
    named = _people(s, list(people or []), app.applicant, today)
    start, end, max_days = validity(today, app.duration_months, max_months(unit.hub.config.properties))
    pid = _next_id(s, Permit, "P")
    fees = {"currency": est.currency, "total_cents": est.total_cents, "schedule": est.schedule, "lines": list(est.lines),
            "compute_hours": next((ln["quantity"] for ln in est.lines if ln["item"] == "compute_hours"), 0)}
    hub_name = str(unit.hub.config.properties.get("hub_name") or unit.hub.config.properties.get("publisher_name") or "Guichet")
    doc = build_document(permit_id=pid, issued=today, hub_name=hub_name,
                         application={"label": f"A-{app.id}", "content": app.content}, org=app.org,
                         org_kind=app.org_kind, principal_investigator=app.applicant, people=named, start=start,
                         end=end, max_days=max_days, fees=fees, properties=unit.hub.config.properties)
    permit = Permit(id=pid, application=str(app.id), org=app.org, owner=app.applicant, state="active", revision=1,
                    document=doc, valid_from=start, valid_until=end, extended=False, issued_by=unit.actor.username,
                    issued_at=_now())
    s.add(permit)
    _store_revision(unit, permit, doc, "issued", None)
    s.add(Invoice(id=_next_id(s, Invoice, "INV"), application=str(app.id), permit_id=pid, estimate_id=est.id,
                  org=app.org, lines=list(est.lines), total_cents=est.total_cents, currency=est.currency,
                  status="issued", issued_at=_now()))
    outbox.queue(s, dedupe=f"permit-issued:{pid}", recipient=app.applicant, subject=f"Permit {pid} issued",
                 body=f"Application {app.id} is granted permit {pid}, valid from {start:%Y-%m-%d} to {end:%Y-%m-%d}.",
                 now=_now())
    unit.note(obj=f"permit:{pid}", application=app.id, people=len(named), valid_until=end.isoformat())
    return _info(s, permit, today)


# --- reading -----------------------------------------------------------------------------------------------

REVIEWERS = frozenset({"operator", "auditor", "authority", "committee"})


def _visible(unit: Unit, permit_id: str) -> Permit:
    """The permit, if the actor may read it: reviewers every one, a researcher one they hold or are named on
    (any other is answered as not found, and the refusal audited)."""
    permit = _permit(unit.session, permit_id)
    me = unit.actor.username
    if unit.actor.roles & REVIEWERS or permit.owner == me or any(p.get("name") == me for p in permit.document.get("people", [])):
        return permit
    raise Hidden(f"no permit {permit_id}", f"{unit.action}: {me} neither holds nor is named on permit {permit_id}")


@query("permit.show", resource=_permit_resource)
def show(unit: Unit, permit_id: str) -> PermitInfo:
    return _info(unit.session, _visible(unit, permit_id), _today())


@query("permit.list")
def list_permits(unit: Unit, state: str | None = None) -> list[PermitInfo]:
    """Every permit (reviewers); a researcher sees those they hold or are named on."""
    today = _today()
    rows = unit.session.execute(select(Permit).order_by(Permit.id)).scalars().all()
    if not (unit.actor.roles & REVIEWERS):
        me = unit.actor.username
        rows = [p for p in rows if p.owner == me or any(x.get("name") == me for x in p.document.get("people", []))]
    infos = [_info(unit.session, p, today) for p in rows]
    return [i for i in infos if state is None or i.state == state]


@query("permit.export", resource=_permit_resource)
def export(unit: Unit, permit_id: str, revision: int | None = None) -> dict[str, Any]:
    """The signed JSON of a permit's revision (the latest by default), as it was signed."""
    permit = _visible(unit, permit_id)
    number = revision if revision is not None else permit.revision
    row = unit.session.execute(select(PermitRevision).where(PermitRevision.permit_id == permit.id,
                                                            PermitRevision.revision == number)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"permit {permit.id} has no revision {number}")
    return {"permit": row.document, "signature": {"algorithm": "Ed25519", "key_id": row.key_id,
                                                  "public_key": row.public_key, "value": row.signature}}


# --- changes -----------------------------------------------------------------------------------------------

def _active(s: Session, permit: Permit, today: date) -> None:
    state = effective_state(s, permit, today)
    if state in ("expired", "revoked"):
        raise Refused(f"permit {permit.id} is {state}: it cannot be changed")


def _variable(s: Session, text: str) -> dict[str, str]:
    table, _, name = text.partition(".")
    if not table or not name:
        raise BadInput("--add-variable: TABLE.VARIABLE (a variable of the catalogue's dictionary)")
    found = s.execute(select(CatalogueVariable.id).where(CatalogueVariable.table_name == table,
                                                         CatalogueVariable.name == name)).first()
    if found is None:
        raise BadInput(f"--add-variable {table}.{name}: not a variable of the catalogue's dictionary")
    return {"table": table, "variable": name}


def _apply(unit: Unit, permit: Permit, change: str, value: dict[str, Any], reason: str, today: date) -> None:
    what = value.get("name") or f"{value.get('table')}.{value.get('variable')}"
    doc = revise(permit.document, today, f"{change} {what}", reason)
    if change == "add_person":
        name = str(value["name"])
        if any(p["name"] == name for p in doc["people"]):
            raise BadInput(f"{name} is already named on permit {permit.id}")
        doc["people"].append(Person(name, "member", attested_until(unit.session, name)).to_dict())
    elif change == "add_variable":
        if value in doc["data"]["variables"]:
            raise BadInput(f"{value['table']}.{value['variable']} is already on permit {permit.id}")
        doc["data"]["variables"] = sorted([*doc["data"]["variables"], value], key=lambda v: (v["table"], v["variable"]))
        if value["table"] not in doc["data"]["tables"]:
            doc["data"]["tables"] = sorted([*doc["data"]["tables"], value["table"]])
    _store_revision(unit, permit, doc, change, reason)
    outbox.queue(unit.session, dedupe=f"permit-revision:{permit.id}:{permit.revision}", recipient=permit.owner,
                 subject=f"Permit {permit.id} amended", body=f"Permit {permit.id} revision {permit.revision}: {change}. "
                 f"Reason: {reason}", now=_now())


@service("permit.amend", resource=_permit_resource)
def amend(unit: Unit, permit_id: str, reason: str, add_person: str | None = None, remove_person: str | None = None,
          add_variable: str | None = None) -> PermitInfo:
    """Amend a permit. Removing a person takes effect at once; adding a person or a variable widens the scope:
    it is requested, and applied when an authority approves it (``permit.approve``) — at once when the hub's
    property ``permit_widening_review`` is ``"none"``."""
    s, today = unit.session, _today()
    permit = _permit(s, permit_id)
    _active(s, permit, today)
    why = _reason(reason)
    asked = [x for x in (add_person, remove_person, add_variable) if x]
    if len(asked) != 1:
        raise BadInput("say one change: --add-person N, --remove-person N or --add-variable TABLE.VARIABLE")
    if remove_person:
        people = permit.document.get("people", [])
        target = next((p for p in people if p.get("name") == remove_person), None)
        if target is None:
            raise BadInput(f"{remove_person} is not named on permit {permit.id}")
        if target.get("role") == "principal_investigator":
            raise Refused("the principal investigator cannot be removed; revoke the permit instead")
        doc = revise(permit.document, today, f"remove_person {remove_person}", why)
        doc["people"] = [p for p in doc["people"] if p.get("name") != remove_person]
        _store_revision(unit, permit, doc, "remove_person", why)
        outbox.queue(s, dedupe=f"permit-revision:{permit.id}:{permit.revision}", recipient=permit.owner,
                     subject=f"Permit {permit.id} amended",
                     body=f"Permit {permit.id} revision {permit.revision}: a person was removed. Reason: {why}", now=_now())
        unit.note(obj=f"permit:{permit.id}", change="remove_person", revision=permit.revision, reason=why)
        return _info(s, permit, today)
    if add_person:
        get_user(s, add_person)
        if not attestation_valid(s, add_person, today):
            raise Refused(f"{add_person} holds no valid training attestation: a named person needs one")
        change, value = "add_person", {"name": add_person}
    else:
        change, value = "add_variable", _variable(s, str(add_variable))
    if str(unit.hub.config.properties.get("permit_widening_review", "authority")) == "none":
        _apply(unit, permit, change, value, why, today)
        unit.note(obj=f"permit:{permit.id}", change=change, revision=permit.revision, reason=why)
    else:
        row = PermitAmendment(permit_id=permit.id, change=change, value=value, reason=why, state="pending",
                              requested_by=unit.actor.username, requested_at=_now())
        s.add(row)
        s.flush()
        unit.note(obj=f"permit:{permit.id}", change=change, amendment=row.id, pending=True, reason=why)
    return _info(s, permit, today)


@service("permit.approve", resource=_permit_resource)
def approve_amendment(unit: Unit, permit_id: str, amendment: int, reason: str, approve: bool = True) -> PermitInfo:
    """An authority approves (or refuses) a requested amendment that widens a permit's scope."""
    s, today = unit.session, _today()
    permit = _permit(s, permit_id)
    _active(s, permit, today)
    why = _reason(reason)
    row = s.get(PermitAmendment, amendment)
    if row is None or row.permit_id != permit.id or row.state != "pending":
        raise NotFound(f"permit {permit.id} has no pending amendment {amendment}")
    if row.requested_by == unit.actor.username:
        raise Refused("separation of duties: the one who asked for an amendment does not approve it")
    row.state, row.decided_by, row.decided_at = ("approved" if approve else "refused"), unit.actor.username, _now()
    if approve:
        if row.change == "add_person" and not attestation_valid(s, str(row.value["name"]), today):
            raise Refused(f"{row.value['name']} holds no valid training attestation any more")
        _apply(unit, permit, row.change, dict(row.value), f"{row.reason} (approved: {why})", today)
    unit.note(obj=f"permit:{permit.id}", amendment=row.id, outcome=row.state, reason=why)
    return _info(s, permit, today)


@service("permit.extend", resource=_permit_resource)
def extend(unit: Unit, permit_id: str, until: date, reason: str) -> PermitInfo:
    """Extend a permit once, by at most its first length, asked at least a month before it ends."""
    s, today = unit.session, _today()
    permit = _permit(s, permit_id)
    _active(s, permit, today)
    why = _reason(reason)
    check_extension(permit.valid_from, permit.valid_until, until, today, permit.extended)
    doc = revise(permit.document, today, f"extend until {until.isoformat()}", why)
    doc["validity"]["extension"] = {"from": permit.valid_until.isoformat(), "until": until.isoformat(), "reason": why}
    doc["validity"]["end"] = until.isoformat()
    permit.valid_until, permit.extended = until, True
    _store_revision(unit, permit, doc, "extend", why)
    outbox.queue(s, dedupe=f"permit-revision:{permit.id}:{permit.revision}", recipient=permit.owner,
                 subject=f"Permit {permit.id} extended", body=f"Permit {permit.id} is extended until {until:%Y-%m-%d}.",
                 now=_now())
    unit.note(obj=f"permit:{permit.id}", until=until.isoformat(), reason=why)
    return _info(s, permit, today)


@service("permit.revoke", resource=_permit_resource)
def revoke(unit: Unit, permit_id: str, reason: str, exclude_years: int = 0) -> PermitInfo:
    """Revoke a permit at once: access closes, the keys are shredded after the grace period, and the holder's
    organisation may be excluded from access for up to 5 years (EHDS Art 63)."""
    s, today = unit.session, _today()
    permit = _permit(s, permit_id)
    if permit.state == "revoked":
        raise Refused(f"permit {permit.id} is already revoked")
    why = _reason(reason)
    excluded = exclusion_until(today, exclude_years)
    doc = revise(permit.document, today, "revoke", why)
    doc["revocation"] = {"date": today.isoformat(), "reason": why,
                         "exclude_until": excluded.isoformat() if excluded else None}
    permit.state, permit.exclude_until = "revoked", excluded
    if permit.ended_at is None:
        permit.ended_at = today
        permit.results_due, permit.delete_by = end_dates(today)
    _store_revision(unit, permit, doc, "revoke", why)
    for row in s.execute(select(PermitAmendment).where(PermitAmendment.permit_id == permit.id,
                                                       PermitAmendment.state == "pending")).scalars():
        row.state, row.decided_by, row.decided_at = "refused", unit.actor.username, _now()
    outbox.queue(s, dedupe=f"permit-revoked:{permit.id}", recipient=permit.owner, subject=f"Permit {permit.id} revoked",
                 body=f"Permit {permit.id} is revoked: {why}"
                      + (f" The organisation is excluded from access until {excluded:%Y-%m-%d}." if excluded else ""),
                 now=_now())
    unit.note(obj=f"permit:{permit.id}", reason=why, exclude_until=excluded.isoformat() if excluded else None)
    return _info(s, permit, today)


@service("permit.suspend", resource=_permit_resource)
def suspend(unit: Unit, permit_id: str, reason: str) -> PermitInfo:
    """Suspend a permit by a decision, with its reason (an output incident, a breach under investigation):
    access to its data closes at once — extracts, sessions and the airlock refuse it — until it is reinstated.
    The holder is told."""
    s, today = unit.session, _today()
    permit = _permit(s, permit_id)
    why = _reason(reason)
    row = suspend_permit(s, permit, unit.actor.username, why, _now())
    unit.note(obj=f"permit:{permit.id}", reason=why, suspension=row.id)
    return _info(s, permit, today)


@service("permit.reinstate", resource=_permit_resource)
def reinstate(unit: Unit, permit_id: str, reason: str) -> PermitInfo:
    """End a permit's suspension, with its reason: access opens again (for the people whose own access is
    open). The holder is told."""
    s, today = unit.session, _today()
    permit = _permit(s, permit_id)
    why = _reason(reason)
    row = reinstate_permit(s, permit, unit.actor.username, why, _now())
    unit.note(obj=f"permit:{permit.id}", reason=why, suspension=row.id)
    return _info(s, permit, today)


def _appeal_info(row: PermitAppeal) -> dict[str, Any]:
    return {"id": row.id, "permit": row.permit_id, "state": row.state, "reason": row.reason,
            "lodged_by": row.lodged_by, "lodged_at": row.lodged_at.isoformat(), "decided_by": row.decided_by,
            "decision": row.decision}


@service("permit.appeal", resource=_permit_resource)
def appeal(unit: Unit, permit_id: str, reason: str) -> dict[str, Any]:
    """Lodge an appeal against a permit's end (revoked or expired): while it is pending, the project's keys are
    not shredded. One pending appeal at a time."""
    s = unit.session
    permit = _permit(s, permit_id)
    if effective_state(s, permit, _today()) not in ("revoked", "expired"):
        raise Refused(f"permit {permit.id} has not ended: there is nothing to appeal")
    if permit.keys_shredded_at is not None:
        raise Refused(f"the keys of permit {permit.id} are already shredded")
    if pending_appeal(s, permit.id):
        raise Refused(f"an appeal against permit {permit.id} is already pending")
    row = PermitAppeal(permit_id=permit.id, reason=_reason(reason), state="pending", lodged_by=unit.actor.username,
                       lodged_at=_now())
    s.add(row)
    s.flush()
    unit.note(obj=f"permit:{permit.id}", appeal=row.id, reason=row.reason)
    return _appeal_info(row)


@service("permit.decide_appeal", resource=_permit_resource)
def decide_appeal(unit: Unit, permit_id: str, upheld: bool, reason: str) -> dict[str, Any]:
    """Record the outcome of a pending appeal (upheld or dismissed). Dismissed, the keys are shredded at the
    next scheduler run past the grace period; upheld, they are kept (reinstating a permit is not built yet)."""
    s = unit.session
    permit = _permit(s, permit_id)
    row = s.execute(select(PermitAppeal).where(PermitAppeal.permit_id == permit.id, PermitAppeal.state == "pending")
                    ).scalars().first()
    if row is None:
        raise NotFound(f"no pending appeal against permit {permit.id}")
    row.state = "upheld" if upheld else "dismissed"
    row.decision, row.decided_by, row.decided_at = _reason(reason), unit.actor.username, _now()
    s.flush()
    unit.note(obj=f"permit:{permit.id}", appeal=row.id, outcome=row.state, reason=row.decision)
    return _appeal_info(row)


@query("registry.read")
def read_registry(unit: Unit) -> dict[str, Any]:
    """The public registry's data (``guichet.permits.registry``)."""
    from guichet.permits.registry import build_registry

    return build_registry(unit.hub, unit.session, _today())


@query("jobs.overdue")
def overdue_items(unit: Unit) -> list[dict[str, Any]]:
    """What is overdue today: application steps past their due date, permits whose results are late."""
    from guichet.access.tables import Application
    from guichet.access.workflow import FINAL

    today = _today()
    items: list[dict[str, Any]] = []
    for app in unit.session.execute(select(Application).where(Application.due.is_not(None), Application.due < today,
                                                              Application.state.not_in(sorted(FINAL)))
                                    .order_by(Application.due)).scalars():
        items.append({"kind": "application", "id": app.id, "state": app.state, "due": str(app.due),
                      "href": "/registry#A-" + str(app.id)})
    for permit in unit.session.execute(select(Permit).where(Permit.results_due.is_not(None), Permit.results_due < today)
                                       .order_by(Permit.results_due)).scalars():
        assert permit.results_due is not None
        items.append({"kind": "results", "id": permit.id, "state": permit.state, "due": permit.results_due.isoformat(),
                      "href": "/registry#" + permit.id})
    return items
