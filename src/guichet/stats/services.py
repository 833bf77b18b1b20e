"""Statistics requests (EHDS Art 69): a requester submits a specification; an operator assesses it (and the
committee, where the hub's ``stats_committee`` property says so) within the assessment clock; an operator has
the hub compute the answer on a minimal extract in a sandboxed session, the airlock's rules and the hub-wide
differencing ledger withhold what could isolate fewer persons than the threshold; one checker reviews the
answer (unless ``stats_auto_release`` lets an answer whose every table passes go out at once); the released
tables are copied under ``<home>/outputs/stats/<request>/``, their cells recorded in the ledger, and the
answer listed in the public registry of results.

State machine (``TRANSITIONS``): submitted → committee (configured) → accepted | refused; accepted → review |
released | refused (nothing releasable); review → released | refused (the checker), or review again (the
answer recomputed). Every step is a governed service with its audit event, naming the request.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guichet.access.clocks import Calendar, due_date, parse_duration
from guichet.airlock import ledger
from guichet.airlock.rules import DEFAULT, load
from guichet.analysis.metadata import sha256 as sha256_of
from guichet.errors import BadInput, Hidden, NotFound, Refused
from guichet.governance import Resource, Unit, query, service
from guichet.stats import compute
from guichet.stats import spec as specs
from guichet.stats.tables import StatsRequest
from guichet.stats.workflow import STATES, TRANSITIONS, next_state

_ID = re.compile(r"^S-\d{4}-\d{4}$")
DEFAULT_ASSESSMENT = "3 months"  # Art 69(4): assessed within three months of receipt
DEFAULT_ANSWER = "3 months"  # Art 69(4): where possible, answered within a further three months
READERS = frozenset({"operator", "checker", "committee", "auditor"})


def _now() -> datetime:
    return datetime.now(UTC)


def _calendar(properties: dict[str, Any]) -> Calendar:
    return Calendar(str(properties.get("access_holidays", "FR")))


def _due(properties: dict[str, Any], key: str, default: str, start: date) -> date:
    found = due_date(start, parse_duration(str(properties.get(key, default)), key), _calendar(properties))
    assert found is not None  # no stops
    return found


def _request(session: Session, request: str) -> StatsRequest:
    row = session.get(StatsRequest, request) if isinstance(request, str) and _ID.match(request) else None
    if row is None:
        raise NotFound(f"no statistics request {str(request)[:24]}")
    return row


def _resource(session: Session, request: str, **_: object) -> Resource:
    row = session.get(StatsRequest, request) if isinstance(request, str) and _ID.match(request) else None
    if row is None:
        return Resource("statistics request", str(request)[:24])
    return Resource("statistics request", row.id, owner=row.requester, org=row.org)


def _visible(unit: Unit, req: StatsRequest) -> None:
    """A requester sees only their own requests: anyone else without a reading role is answered "not found"."""
    if req.requester == unit.actor.username or unit.actor.roles & READERS:
        return
    raise Hidden(f"no statistics request {req.id}", f"{unit.actor.username} is not the requester of {req.id}")


def _next_id(session: Session) -> str:
    prefix = f"S-{_now().year}-"
    last = session.execute(select(func.max(StatsRequest.id)).where(StatsRequest.id.like(prefix + "%"))).scalar()
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{n:04d}"


def _reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise BadInput("--reason: required")
    return " ".join(reason.split())[:2000]


def _view(req: StatsRequest, full: bool, today: date) -> dict[str, Any]:
    """The request as its requester (``full`` False) or a hub role sees it."""
    answer: dict[str, Any] | None = None
    stored = req.answer or {}
    if req.state == "released":
        answer = {"status": "released", "files": list(stored.get("files", [])),
                  "tables": [{"name": t["name"], "kind": t["kind"], "file": t["file"],
                              "withheld": [{"row": w["row"], "column": w["column"]} for w in t.get("withheld", [])]}
                             for t in stored.get("tables", [])]}
    if full and stored:
        answer = {**(answer or {}), "status": stored.get("status"), "tables": stored.get("tables", []),
                  "extract": stored.get("extract", {}), "files": stored.get("files", [])}
    overdue = None
    if req.state in ("submitted", "committee"):
        overdue = today > req.assessment_due
    elif req.state in ("accepted", "review") and req.answer_due is not None:
        overdue = today > req.answer_due
    out: dict[str, Any] = {"id": req.id, "title": req.title, "state": req.state, "requester": req.requester,
                           "received": req.received_at.date().isoformat(),
                           "assessment_due": req.assessment_due.isoformat(),
                           "answer_due": req.answer_due.isoformat() if req.answer_due else None,
                           "overdue": overdue, "reason": req.reason, "answer": answer}
    if full:
        out["spec"] = req.spec
        out["org"] = req.org
        out["assessed_by"], out["committee_by"] = req.assessed_by, req.committee_by
        out["answered_by"], out["reviewed_by"] = req.answered_by, req.reviewed_by
    else:
        out["spec"] = req.spec
    return out


@service("stats.request")
def submit(unit: Unit, spec: dict[str, Any]) -> dict[str, Any]:
    """Submit a statistics request: its specification validated (schema, criteria, dictionary and lake); the
    assessment clock starts (Art 69(4): three months, ``stats_assessment``). Answers ``{"id", ...}``."""
    specs.require_valid(unit.hub, spec)
    now = _now()
    props = dict(unit.hub.config.properties or {})
    row = StatsRequest(id=_next_id(unit.session), requester=unit.actor.username, org=unit.actor.org,
                       title=str(spec["title"]).strip()[:300], spec=spec, state="submitted", received_at=now,
                       assessment_due=_due(props, "stats_assessment", DEFAULT_ASSESSMENT, now.date()), answer={})
    unit.session.add(row)
    unit.session.flush()
    unit.note(obj=f"statistics request {row.id}", statistics=len(spec["statistics"]))
    return _view(row, False, now.date())


@service("stats.assess", resource=_resource)
def assess(unit: Unit, request: str, accept: bool, reason: str) -> dict[str, Any]:
    """Accept or refuse a submitted request with a reason (a refusal is justified, Art 69(3) with Art 68(2)).
    An operator assesses first; where ``stats_committee`` is true an accepted request then waits for the
    committee's decision. Acceptance starts the answer clock (``stats_answer``, three months)."""
    req = _request(unit.session, request)
    why = _reason(reason)
    roles = unit.actor.roles
    props = dict(unit.hub.config.properties or {})
    committee = bool(props.get("stats_committee", False))
    if req.state == "submitted" and "operator" not in roles:
        raise Refused(f"{req.id} is submitted: an operator assesses it first")
    if req.state == "committee" and "committee" not in roles:
        raise Refused(f"{req.id} waits for the committee's decision")
    outcome = "refused" if not accept else ("committee" if req.state == "submitted" and committee else "accepted")
    req.state = next_state(req.state, "assess", outcome)
    now = _now()
    if "operator" in roles and req.assessed_by is None:
        req.assessed_by, req.assessed_at = unit.actor.username, now
    else:
        req.committee_by = unit.actor.username
    req.reason = why
    if req.state == "accepted":
        req.answer_due = _due(props, "stats_answer", DEFAULT_ANSWER, now.date())
    unit.note(obj=f"statistics request {req.id}", reason=why[:500], state=req.state)
    return _view(req, True, now.date())


@service("stats.answer", resource=_resource, transactional=False)
def answer(unit: Unit, request: str) -> dict[str, Any]:
    """Compute an accepted request's answer: the minimal extract, the hub's script in a sandboxed session, the
    airlock's checks and the differencing ledger. Answers ``{"status": "review" | "released" | "refused",
    "files": [...]}`` — files only once released (``stats_auto_release`` and every table passing)."""
    req = _request(unit.session, request)
    if (req.state, "answer") not in TRANSITIONS:
        raise Refused(f"statistics request {req.id} is {req.state}: only an accepted request is answered")
    spec = dict(req.spec)
    received = req.received_at.date()
    hub = unit.hub
    built = compute.build_extract(hub, req.id, spec, received, unit.actor.username)
    compute.run_session(hub, req.id, compute.script(spec, compute.minimal(spec), compute.reference_year(spec, received)))
    tables = compute.check_answer(hub, unit.session, req.id, spec)
    releasable = [t for t in tables if t.status != "empty" and (t.cells or _has_values(t.final))]
    props = dict(hub.config.properties or {})
    auto = bool(props.get("stats_auto_release", False))
    if not releasable:
        status = "refused"
    elif auto and all(t.status == "pass" for t in tables):
        status = "released"
    else:
        status = "review"
    stored = {"status": status, "tables": [t.to_dict() for t in tables],
              "extract": {"persons": built.get("persons"), "tables": built.get("tables"),
                          "status": built.get("status"), "version": built.get("version")},
              "files": []}
    files: list[str] = []
    with hub.store.write() as s:
        row = _request(s, req.id)
        row.state = next_state(row.state, "answer", status)
        row.answered_by, row.answered_at = unit.actor.username, _now()
        if status == "refused":
            row.reason = "every cell would isolate fewer persons than the threshold, or could be derived from released cells"
        if status == "released":
            files = _release(unit, s, row, tables)
            stored["files"] = files
        row.answer = stored
    unit.note(obj=f"statistics request {req.id}", status=status, tables=len(tables),
              withheld=sum(len(t.withheld) for t in tables))
    return {"id": req.id, "status": status, "files": files, "tables": stored["tables"]}


def _has_values(path: Path) -> bool:
    from guichet.analysis import metadata as md

    meta = md.read(path) or {}
    return any(c.get("value") is not None for c in meta.get("cells", []))


def _release(unit: Unit, session: Session, row: StatsRequest, tables: list[compute.Table]) -> list[str]:
    """Copy the final tables out and record their cells in the ledger (in ``session``'s transaction)."""
    names = [t.final.name for t in tables if t.status != "empty"]
    files = compute.publish(unit.hub, row.id, names)
    project = compute.project_of(row.id)
    for i, t in enumerate(tables, start=1):
        if t.cells and t.status != "empty":
            ledger.record(session, row.id, project, compute.file_id(row.id, i), t.dims, t.cells)
    row.released_at = _now()
    row.state = "released"
    return files


@service("stats.review", resource=_resource, transactional=False)
def review(unit: Unit, request: str, approve: bool, reason: str) -> dict[str, Any]:
    """One checker's decision on an answer in review: approve (the answer's cells are checked against the
    ledger again — another release may have come meanwhile — then released) or refuse, with a reason."""
    req = _request(unit.session, request)
    why = _reason(reason)
    if req.state != "review":
        raise Refused(f"statistics request {req.id} is {req.state}: nothing to review")
    files: list[str] = []
    if approve:
        tables = _recheck(unit, req)
        with unit.hub.store.write() as s:
            row = _request(s, req.id)
            next_state(row.state, "review", "released")
            files = _release(unit, s, row, tables)
            row.reviewed_by, row.reason = unit.actor.username, why
            row.answer = {**row.answer, "status": "released", "files": files}
            state = row.state
    else:
        with unit.hub.store.write() as s:
            row = _request(s, req.id)
            row.state = next_state(row.state, "review", "refused")
            row.reviewed_by, row.reason = unit.actor.username, why
            row.answer = {**row.answer, "status": "refused"}
            state = row.state
    unit.note(obj=f"statistics request {req.id}", reason=why[:500], state=state)
    return {"id": req.id, "state": state, "status": state, "files": files}


def _recheck(unit: Unit, req: StatsRequest) -> list[compute.Table]:
    """The answer's tables as they stand, their cells compared with the ledger once more: a flag refuses the
    release (the operator answers again, which withholds the flagged cells)."""
    threshold = load(DEFAULT, dict(unit.hub.config.properties or {})).threshold
    project = compute.project_of(req.id)
    out: list[compute.Table] = []
    for t in (req.answer or {}).get("tables", []):
        if t["status"] == "empty":
            out.append(compute.Table(t["name"], t["kind"], Path(t["file"]), Path(t["file"]), "empty"))
            continue
        final = compute.outputs_dir(unit.hub, req.id) / t["file"]
        if not final.is_file():
            raise Refused(f"{req.id}: the answer's table {t['file']} is gone; answer again")
        dims, cells, _ = compute.released_cells(unit.hub, project, final)
        flags = ledger.flags(unit.session, project, dims, cells, threshold)
        if flags:
            raise Refused(f"{req.id}: since it was answered, {len(flags)} cell(s) of {t['name']} differ from released "
                          "cells by fewer persons than the threshold; answer it again (guichet stats answer)")
        out.append(compute.Table(t["name"], t["kind"], final, final, t["status"], dims=dims, cells=cells))
    return out


@query("stats.show", resource=_resource)
def show(unit: Unit, request: str) -> dict[str, Any]:
    """A request as the caller may see it: ``{"state", "answer", ...}`` — its requester, or a hub role; anyone
    else is answered "not found"."""
    req = _request(unit.session, request)
    _visible(unit, req)
    full = bool(unit.actor.roles & READERS)
    return _view(req, full, date.today())


@query("stats.list")
def listing(unit: Unit, state: str | None = None) -> list[dict[str, Any]]:
    """The requests the caller may see, oldest first, with their clocks: a requester's own; every request for
    operators, checkers, the committee and auditors (an operator's assessment queue: ``state="submitted"``)."""
    if state is not None and state not in STATES:
        raise BadInput(f"--state: one of {', '.join(STATES)}")
    q = select(StatsRequest).order_by(StatsRequest.id)
    if not unit.actor.roles & READERS:
        q = q.where(StatsRequest.requester == unit.actor.username)
    if state is not None:
        q = q.where(StatsRequest.state == state)
    today = date.today()
    return [{k: v for k, v in _view(r, False, today).items() if k not in ("spec", "answer")}
            for r in unit.session.execute(q).scalars()]


@query("stats.download", resource=_resource)
def download(unit: Unit, request: str, name: str) -> Path:
    """A released table of a request: for its requester and the hub's roles (another account: "not found")."""
    req = _request(unit.session, request)
    _visible(unit, req)
    if req.state != "released":
        raise NotFound(f"no released file {name[:80]} in {req.id}")
    for f in (req.answer or {}).get("files", []):
        path = Path(f)
        if path.name == name and path.is_file():
            unit.note(obj=f"statistics request {req.id}", file=name)
            return path
    raise NotFound(f"no released file {name[:80]} in {req.id}")


@query("stats.registry")
def registry(unit: Unit) -> list[dict[str, Any]]:
    """The public list of released statistics answers (EHDS Art 57(2)(e)): request, title, purpose, date,
    each table's name and checksum, the number of checkers (one, or none when released automatically)."""
    out = []
    for r in unit.session.execute(select(StatsRequest).where(StatsRequest.state == "released")
                                  .order_by(StatsRequest.id)).scalars():
        files = []
        for f in (r.answer or {}).get("files", []):
            path = Path(f)
            files.append({"name": path.name, "sha256": sha256_of(path) if path.is_file() else None})
        out.append({"request": r.id, "title": r.title, "purpose": (r.spec.get("purpose") or {}).get("article_53"),
                    "date": r.released_at.date().isoformat() if r.released_at else None,
                    "checkers": 1 if r.reviewed_by else 0, "files": files})
    return out
