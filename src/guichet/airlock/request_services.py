"""Output requests: a researcher named on an active permit submits files of the workspace's ``outputs/`` in
groups (each with its context and controls), the airlock checks them (issue 20's verdicts and the hub-wide
differencing ledger), two independent checkers review them blind, the decisions are consolidated, an
operator releases the approved files (copied with their checksums under ``<home>/outputs/released/<request>/``)
and may recall them. Every step is a governed service, audited, naming the request (never a checksum)."""

from __future__ import annotations

import random
import re
import shutil
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guichet.airlock import ledger, safe
from guichet.airlock.check import check_file
from guichet.airlock.rules import DEFAULT, load, names
from guichet.airlock.tables import LedgerCell, OutputFile, OutputRecheck, OutputRequest, OutputReview
from guichet.analysis.metadata import sha256 as sha256_of
from guichet.audit.log import append_event
from guichet.errors import BadInput, NotFound, Refused
from guichet.governance import Resource, Unit, authorize, query, service
from guichet.permits import outbox
from guichet.permits.state import effective_state, open_suspension, person_has_access
from guichet.permits.suspension import suspend_permit
from guichet.permits.tables import Permit

# What may leave: tables and text (checked), figures (checked through their table; SVG sanitised), HTML
# (sanitised to an allowlist at release). PDF is refused: it can carry scripts, forms and attachments that
# the airlock neither checks nor sanitises; convert a report to HTML or export its tables and figures.
# Models (checked through their attack report and card, analysis.model_files): guichet.model/1 JSON
# (``.model.json``), ONNX, skops; raw pickles are refused (loading one runs the code it names).
ALLOWED = (".csv", ".tsv", ".txt", ".json", ".png", ".svg", ".html", ".onnx", ".skops")
PICKLES = (".pkl", ".pickle", ".joblib")
MAX_FILE = 10 << 20  # bytes per file
MAX_ROWS = 5000  # rows of a table
MAX_FILES = 50
DECISIONS = ("approve", "changes", "reject")
SEVERITY = {"approve": 0, "changes": 1, "reject": 2}
MIN_JUSTIFICATION = 20  # characters of the written justification of an override
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,119}$")
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}$")
_REQUEST = re.compile(r"^R-\d{4}-\d{4}$")
RECHECK_PROPERTY = "airlock_recheck_share"  # the share of approved requests drawn for a later re-check


def _now() -> datetime:
    return datetime.now(UTC)


def _outputs_dir(home: Path, permit: str) -> Path:
    return home / "workspaces" / permit / "outputs"


def _released_dir(home: Path, request: str) -> Path:
    return home / "outputs" / "released" / request


def _output(home: Path, permit: str, file: str) -> Path:
    parts = file.split("/")
    if not file or len(parts) > 8 or not all(_PART.match(p) for p in parts):
        raise BadInput(f"{file[:80]!r}: a path inside the workspace's outputs folder")
    base = _outputs_dir(home, permit).resolve()
    path = (base / file).resolve()
    if base not in path.parents:
        raise BadInput("file: a path inside the workspace's outputs folder")
    if not path.is_file():
        raise NotFound(f"output {file} of permit {permit}: not found")
    if path.suffix.lower() in PICKLES:
        raise BadInput(f"{file}: a raw pickle is refused (loading it runs code): save the model with "
                       "analysis.model_files.save_model (.model.json), ONNX or skops")
    if path.suffix.lower() not in ALLOWED:
        raise BadInput(f"{file}: type not allowed (allowed: {', '.join(ALLOWED)})")
    if path.stat().st_size > MAX_FILE:
        raise BadInput(f"{file}: larger than {MAX_FILE >> 20} MB")
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        with path.open("rb") as f:
            rows = sum(1 for _ in f)
        if rows > MAX_ROWS + 1:
            raise BadInput(f"{file}: more than {MAX_ROWS} rows")
    return path


def _permit(session: Session, permit: str) -> Permit:
    row = session.get(Permit, permit) if isinstance(permit, str) else None
    if row is None:
        raise NotFound(f"no permit {str(permit)[:24]}")
    return row


def _request(session: Session, request: str) -> OutputRequest:
    row = session.get(OutputRequest, request) if isinstance(request, str) and _REQUEST.match(request) else None
    if row is None:
        raise NotFound(f"no output request {str(request)[:24]}")
    return row


def _files(session: Session, req: OutputRequest, turn: int | None = None) -> list[OutputFile]:
    return list(session.execute(select(OutputFile).where(OutputFile.request == req.id,
                                                         OutputFile.turn == (turn or req.turn))
                                .order_by(OutputFile.id)).scalars())


def _reviews(session: Session, req: OutputRequest, turn: int | None = None) -> list[OutputReview]:
    return list(session.execute(select(OutputReview).where(OutputReview.request == req.id,
                                                           OutputReview.turn == (turn or req.turn))
                                .order_by(OutputReview.id)).scalars())


def _complete(session: Session, req: OutputRequest) -> list[str]:
    """The checkers whose review of the current turn covers every output file, in the order they finished."""
    wanted = {f.id for f in _files(session, req) if not f.supporting}
    seen: dict[str, set[int]] = {}
    done: list[str] = []
    for r in _reviews(session, req):
        seen.setdefault(r.checker, set()).add(r.file_id)
        if seen[r.checker] >= wanted and r.checker not in done:
            done.append(r.checker)
    return done


def _permit_resource(session: Session, permit: str, **_: object) -> Resource:
    row = session.get(Permit, permit) if isinstance(permit, str) else None
    if row is None:
        return Resource("permit", str(permit)[:24])
    return Resource("permit", row.id, owner=row.owner, org=row.org)


def _request_resource(session: Session, request: str, **_: object) -> Resource:
    row = session.get(OutputRequest, request) if isinstance(request, str) else None
    if row is None:
        return Resource("output request", str(request)[:24])
    return Resource("output request", row.id, owner=row.author, org=row.org,
                    prior_actors=frozenset(_complete(session, row)))


def _reviewers(session: Session, req: OutputRequest) -> set[str]:
    """Every checker who reviewed any turn of the request."""
    return set(session.execute(select(OutputReview.checker).where(OutputReview.request == req.id)).scalars())


def _rechecks(session: Session, req: OutputRequest) -> list[OutputRecheck]:
    return list(session.execute(select(OutputRecheck).where(OutputRecheck.request == req.id)
                                .order_by(OutputRecheck.id)).scalars())


def _recheck_resource(session: Session, request: str, **_: object) -> Resource:
    row = session.get(OutputRequest, request) if isinstance(request, str) else None
    if row is None:
        return Resource("output request", str(request)[:24])
    return Resource("output request", row.id, owner=row.author, org=row.org,
                    prior_actors=frozenset(_reviewers(session, row)))


def _next_id(session: Session) -> str:
    year = _now().year
    prefix = f"R-{year}-"
    last = session.execute(select(func.max(OutputRequest.id)).where(OutputRequest.id.like(prefix + "%"))).scalar()
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{n:04d}"


def _ruleset(home_props: dict[str, Any], permit: Permit) -> tuple[str, dict[str, Any]]:
    conditions = (permit.document or {}).get("output_conditions") or {}
    wanted = str(conditions.get("rule_set") or DEFAULT)
    name = wanted if wanted in names() else DEFAULT
    properties = dict(home_props)
    threshold = load(name, properties).threshold
    if isinstance(conditions.get("min_cell"), int) and conditions["min_cell"] > threshold:
        properties["disclosure_threshold"] = conditions["min_cell"]
    return name, properties


Checked = tuple[str, dict[str, Any], list[dict[str, Any]]]


def _auto_check(unit: Unit, permit: Permit, req: OutputRequest, path: Path, rel: str) -> Checked:
    """The automatic verdicts of one output file (issue 20's check, then the ledger). Files the check does not
    read (JSON, HTML, text that is not a table) go to the checkers as ``review``."""
    name, properties = _ruleset(dict(unit.hub.config.properties or {}), permit)
    try:
        result = check_file(path, name, properties)
    except BadInput as exc:
        return "review", {"file": rel, "status": "review", "reasons": ["not-checked"], "notes": [exc.message],
                          "cells": []}, []
    answer = result.to_dict()
    answer["file"] = rel
    status = result.status
    flags: list[dict[str, Any]] = []
    found = ledger.output_cells(path)
    if found is not None:
        dims, cells = found
        try:
            hub_cells, unmapped = ledger.to_hub(unit.hub, req.project, cells)
            if unmapped:
                answer["notes"].append(f"differencing ledger: {unmapped} person(s) of this output are not in the "
                                       "hub's current person index and were not compared")
            flags = ledger.flags(unit.session, req.project, dims, hub_cells, result.threshold)
        except (BadInput, Refused, NotFound) as exc:  # no person index: the checker is told
            answer["notes"].append(f"differencing ledger not consulted: {exc.message}")
    if flags:
        status = "fail"
        answer["reasons"] = [*answer["reasons"], "differencing"]
        answer["status"] = "fail"
    return status, answer, flags


def _checkers(session: Session, req: OutputRequest) -> list[str]:
    """Checkers without a conflict: not the author, not of the project's organisation, not named on the permit."""
    from guichet.store.models import Organisation, User, UserRole

    permit = session.get(Permit, req.permit)
    named = {p.get("name") for p in (permit.document.get("people", []) if permit else [])}
    rows = session.execute(select(User.username, Organisation.name).join(Organisation, Organisation.id == User.org_id)
                           .join(UserRole, UserRole.user_id == User.id)
                           .where(UserRole.role == "checker", User.disabled.is_(False)).order_by(User.username)).all()
    return [u for u, org in rows if org != req.org and u != req.author and u not in named]


@service("airlock.submit", resource=_permit_resource)
def submit(unit: Unit, permit: str, files: list[str], group: str = "outputs", context: str = "", controls: str = "",
           supporting: list[str] | None = None, title: str = "", resubmit: str | None = None,
           add_to: str | None = None) -> dict[str, Any]:
    """Submit files of the permit's ``outputs/`` for release (with ``resubmit``, open a new turn of a request
    whose checkers asked for changes; with ``add_to``, add a file group to one's request that no checker has
    reviewed yet in this turn). Answers the request as ``show`` does."""
    row = _permit(unit.session, permit)
    today = date.today()
    if not person_has_access(unit.session, row, unit.actor.username, today):
        raise Refused(f"{unit.actor.username} is not a person with open access on permit {permit}")
    if not _GROUP.match(group or ""):
        raise BadInput("--group: letters, digits, spaces, '.', '-' or '_'")
    if not context.strip() or not controls.strip():
        raise BadInput(f"group {group}: its context (what the output is, the population behind it) and its "
                       "controls (what was done to protect it) are required")
    files, supporting = list(files or []), list(supporting or [])
    if not files:
        raise BadInput("at least one file to release")
    if len(files) + len(supporting) > MAX_FILES or len(set(files + supporting)) != len(files) + len(supporting):
        raise BadInput(f"at most {MAX_FILES} distinct files")
    paths = {f: _output(unit.hub.config.home, permit, f) for f in files + supporting}
    if resubmit and add_to:
        raise BadInput("--resubmit or --add-to, not both")
    if add_to:
        req = _request(unit.session, add_to)
        if req.permit != permit or req.author != unit.actor.username:
            raise Refused(f"request {add_to} is not {unit.actor.username}'s on permit {permit}")
        if req.state != "checked" or _reviews(unit.session, req):
            raise Refused(f"request {add_to}: a group is added only before any review of the turn")
        if group in req.groups:
            raise Refused(f"request {add_to} already has a group {group}")
        taken = {f.path for f in _files(unit.session, req)}
        if taken & set(files + supporting):
            raise BadInput(f"a file is already in request {add_to}")
        groups = dict(req.groups)
    elif resubmit:
        req = _request(unit.session, resubmit)
        if req.permit != permit or req.author != unit.actor.username:
            raise Refused(f"request {resubmit} is not {unit.actor.username}'s on permit {permit}")
        if req.state != "changes":
            raise Refused(f"request {resubmit} is {req.state}: only a request returned for changes is resubmitted")
        req.turn += 1
        req.state = "checked"
        req.reasons = []
        req.decided_at = None
        groups = dict(req.groups)
    else:
        req = OutputRequest(id=_next_id(unit.session), permit=permit, project=permit.strip().lower(), org=row.org,
                            author=unit.actor.username, title=(title.strip() or group)[:300], state="checked", turn=1,
                            groups={}, proposed=[], reasons=[], recheck=False, published=False, submitted_at=_now())
        unit.session.add(req)
        unit.session.flush()
        groups = {}
    groups[group] = {"context": context.strip(), "controls": controls.strip(), "comment": None}
    req.groups = groups
    failing = 0
    for rel in files + supporting:
        path = paths[rel]
        is_support = rel in supporting
        checked: Checked = ("review", {"file": rel, "status": "review", "reasons": ["supporting"], "cells": []}, [])
        if not is_support:
            checked = _auto_check(unit, row, req, path, rel)
        status, answer, flags = checked
        failing += status == "fail"
        unit.session.add(OutputFile(request=req.id, turn=req.turn, path=rel, group=group, supporting=is_support,
                                    sha256=sha256_of(path), size=path.stat().st_size, status=status, check=answer,
                                    ledger=flags))
    pool = _checkers(unit.session, req)
    req.proposed = random.SystemRandom().sample(pool, min(2, len(pool)))
    unit.session.flush()
    unit.note(obj=f"output request {req.id}", turn=req.turn, files=len(files), supporting=len(supporting),
              failing=failing, permit=permit)
    return _view(unit.session, req, unit.actor.username, "author")


def _role_on(session: Session, req: OutputRequest, username: str, roles: frozenset[str], org: str | None = None) -> str:
    """How ``username`` may see ``req``: author or project member, checker (not of the project's organisation),
    operator — or not at all."""
    permit = session.get(Permit, req.permit)
    named = {p.get("name") for p in (permit.document.get("people", []) if permit else [])}
    if "operator" in roles:
        return "operator"
    if "checker" in roles and req.author != username and username not in named and org != req.org:
        return "checker"
    if username == req.author or username in named:
        return "author"
    raise NotFound(f"no output request {req.id}")


def _consolidated(session: Session, req: OutputRequest, turn: int) -> dict[int, str | None]:
    """Per output file of ``turn``: the consolidated decision (two agreeing reviews, or a third checker's
    majority), or None while reviews are missing or in conflict."""
    done = set(_complete_turn(session, req, turn))
    by_file: dict[int, list[str]] = {}
    for r in _reviews(session, req, turn):
        if r.checker in done:
            by_file.setdefault(r.file_id, []).append(r.decision)
    out: dict[int, str | None] = {}
    for f in _files(session, req, turn):
        if f.supporting:
            continue
        votes = by_file.get(f.id, [])
        if len(votes) < 2:
            out[f.id] = None
        elif len(votes) == 2:
            out[f.id] = votes[0] if votes[0] == votes[1] else None
        else:
            top, n = Counter(votes).most_common(1)[0]
            out[f.id] = top if n >= 2 else "changes"
    return out


def _complete_turn(session: Session, req: OutputRequest, turn: int) -> list[str]:
    wanted = {f.id for f in _files(session, req, turn) if not f.supporting}
    seen: dict[str, set[int]] = {}
    done: list[str] = []
    for r in _reviews(session, req, turn):
        seen.setdefault(r.checker, set()).add(r.file_id)
        if seen[r.checker] >= wanted and r.checker not in done:
            done.append(r.checker)
    return done


def _view(session: Session, req: OutputRequest, username: str, role: str) -> dict[str, Any]:
    """The request as ``username`` (author, checker or operator) may see it. Votes of the current turn are
    hidden from a checker until their own review is complete, and from the author until consolidation."""
    done = _complete(session, req)
    own_done = username in done
    decided = req.state in ("approved", "changes", "rejected", "released", "recalled")
    show_votes = role == "operator" or decided or (role == "checker" and own_done)
    reviews = _reviews(session, req)
    files = []
    for f in _files(session, req):
        item: dict[str, Any] = {"file": f.path, "group": f.group, "supporting": f.supporting, "sha256": f.sha256,
                                "size": f.size, "status": f.status, "check": f.check,
                                "released": f.released_path, "recalled": f.recalled_at is not None}
        if role != "author":
            item["ledger"] = f.ledger
        else:
            item["ledger"] = [{"cell": x["cell"], "label": x["label"], "apart": x["apart"],
                               "against": x["against"] if x.get("same_project") else "a released cell"}
                              for x in f.ledger]
        mine = [r for r in reviews if r.file_id == f.id and r.checker == username]
        if mine:
            item["my_decision"] = {"decision": mine[-1].decision, "reason": mine[-1].reason}
        if show_votes:
            item["reviews"] = [{"checker": r.checker if role != "author" else None, "decision": r.decision,
                                "reason": r.reason, "override": r.override}
                               for r in reviews if r.file_id == f.id]
        files.append(item)
    answer: dict[str, Any] = {
        "request": req.id, "permit": req.permit, "author": req.author, "title": req.title, "state": req.state,
        "turn": req.turn, "groups": req.groups, "files": files, "reasons": req.reasons,
        "reviews_complete": len(done), "published": req.published}
    if role != "author":
        answer["proposed"] = req.proposed
        answer["conflict"] = req.state == "checked" and len(done) >= 2
    if role == "operator":
        answer["recheck"] = req.recheck
    if role != "author":
        answer["rechecks"] = [{"checker": r.checker, "verdict": r.verdict, "reason": r.reason}
                              for r in _rechecks(session, req)]
    return answer


@query("airlock.show", resource=_request_resource)
def show(unit: Unit, request: str) -> dict[str, Any]:
    """A request as the caller may see it: ``{"state", "turn", "files": [...]}`` and more."""
    req = _request(unit.session, request)
    role = _role_on(unit.session, req, unit.actor.username, unit.actor.roles, unit.actor.org)
    return _view(unit.session, req, unit.actor.username, role)


@service("airlock.review", resource=_request_resource)
def review(unit: Unit, request: str, decision: str, reason: str, file: str | None = None) -> dict[str, Any]:
    """A checker's decision on one file (``file``) or on every output file of the current turn not yet decided
    by them. Approving a file whose automatic check failed is an override: ``reason`` is its written
    justification, kept. Once two reviews are complete they are consolidated (a conflict waits for a third)."""
    req = _request(unit.session, request)
    if decision not in DECISIONS:
        raise BadInput(f"decision: one of {', '.join(DECISIONS)}")
    if not reason or not reason.strip():
        raise BadInput("--reason: required")
    if req.state != "checked":
        raise Refused(f"request {req.id} is {req.state}: nothing to review")
    permit = unit.session.get(Permit, req.permit)
    named = {p.get("name") for p in (permit.document.get("people", []) if permit else [])}
    if unit.actor.username in named:
        raise Refused(f"airlock.review: separation of duties, {unit.actor.username} is named on permit {req.permit}")
    done = _complete(unit.session, req)
    if unit.actor.username in done:
        raise Refused(f"airlock.review: {unit.actor.username} already reviewed turn {req.turn} of {req.id}")
    if len(done) >= 2 and not _conflict(unit.session, req):
        raise Refused(f"request {req.id}: two reviews are in")
    if len(done) >= 3:
        raise Refused(f"request {req.id}: three reviews are in")
    outputs = [f for f in _files(unit.session, req) if not f.supporting]
    mine = {r.file_id for r in _reviews(unit.session, req) if r.checker == unit.actor.username}
    if file is not None:
        chosen = [f for f in outputs if f.path == file]
        if not chosen:
            raise NotFound(f"{file}: not an output file of turn {req.turn} of {req.id}")
        if chosen[0].id in mine:
            raise Refused(f"airlock.review: {unit.actor.username} already decided on {file} in this turn")
    else:
        chosen = [f for f in outputs if f.id not in mine]
    overrides = 0
    for f in chosen:
        override = decision == "approve" and f.status == "fail"
        if override and len(reason.strip()) < MIN_JUSTIFICATION:
            raise Refused(f"{f.path}: its automatic check failed; approving it is an override and needs a written "
                          f"justification (at least {MIN_JUSTIFICATION} characters)")
        overrides += override
        unit.session.add(OutputReview(request=req.id, turn=req.turn, checker=unit.actor.username, file_id=f.id,
                                      decision=decision, reason=reason.strip(), override=override, created_at=_now()))
    unit.session.flush()
    outcome = _consolidate(unit, req)
    unit.note(obj=f"output request {req.id}", reason=reason.strip()[:500], decision=decision, turn=req.turn,
              files=len(chosen), overrides=overrides, state=req.state)
    answer = _view(unit.session, req, unit.actor.username, "checker")
    answer["consolidated"] = outcome
    return answer


def _conflict(session: Session, req: OutputRequest) -> bool:
    return any(v is None for v in _consolidated(session, req, req.turn).values())


def _consolidate(unit: Unit, req: OutputRequest) -> str | None:
    done = _complete(unit.session, req)
    if len(done) < 2:
        return None
    per_file = _consolidated(unit.session, req, req.turn)
    if any(v is None for v in per_file.values()):
        return None  # a conflict: a third checker decides
    worst = max(per_file.values(), key=lambda d: SEVERITY[str(d)])
    req.state = {"approve": "approved", "changes": "changes", "reject": "rejected"}[str(worst)]
    req.decided_at = _now()
    files = {f.id: f for f in _files(unit.session, req)}
    reasons = []
    comments: dict[str, list[str]] = {}
    for r in _reviews(unit.session, req):
        if r.checker in done and r.decision != "approve":
            reasons.append(f"{files[r.file_id].path}: {r.reason}")
            comments.setdefault(files[r.file_id].group, []).append(r.reason)
    req.reasons = sorted(set(reasons))
    groups = dict(req.groups)
    for g, texts in comments.items():
        if g in groups:
            groups[g] = {**groups[g], "comment": "; ".join(sorted(set(texts)))}
    req.groups = groups
    if req.state == "approved":
        share = float((unit.hub.config.properties or {}).get(RECHECK_PROPERTY, 0.1))
        req.recheck = random.SystemRandom().random() < share
    return req.state


RECHECK_VERDICTS = ("confirmed", "concern")
RECHECKABLE = ("approved", "released", "recalled")


def _may_recheck(session: Session, req: OutputRequest, username: str, org: str | None) -> str | None:
    """Why ``username`` may not re-check ``req`` (None: they may): drawn for the sample, decided, not yet
    re-checked, and the checker independent of it — not one of its reviewers (any turn), not its author, not
    named on the permit, not of the project's organisation."""
    if not req.recheck:
        return f"request {req.id} was not drawn for a re-check"
    if req.state not in RECHECKABLE:
        return f"request {req.id} is {req.state}: only an approved request is re-checked"
    if _rechecks(session, req):
        return f"request {req.id} is already re-checked"
    permit = session.get(Permit, req.permit)
    named = {p.get("name") for p in (permit.document.get("people", []) if permit else [])}
    if username == req.author or username in named:
        return f"airlock.recheck: separation of duties, {username} is named on permit {req.permit}"
    if org is not None and org == req.org:
        return f"airlock.recheck: separation of duties, {username} is of the project's organisation"
    if username in _reviewers(session, req):
        return f"airlock.recheck: {username} reviewed {req.id}; a re-check is another checker's"
    return None


@service("airlock.recheck", resource=_recheck_resource)
def recheck(unit: Unit, request: str, verdict: str, reason: str) -> dict[str, Any]:
    """An independent checker's later re-check of an approved request drawn for the sample: ``confirmed``, or
    ``concern`` with its reason — a concern is told to the hub's operator (the outbox) and counted in the
    metrics. One re-check a request."""
    req = _request(unit.session, request)
    if verdict not in RECHECK_VERDICTS:
        raise BadInput(f"verdict: one of {', '.join(RECHECK_VERDICTS)}")
    if not reason or not reason.strip():
        raise BadInput("--reason: required")
    why = " ".join(reason.split())[:2000]
    refusal = _may_recheck(unit.session, req, unit.actor.username, unit.actor.org)
    if refusal is not None:
        raise Refused(refusal)
    now = _now()
    row = OutputRecheck(request=req.id, checker=unit.actor.username, verdict=verdict, reason=why, created_at=now)
    unit.session.add(row)
    unit.session.flush()
    told = None
    if verdict == "concern":
        told = unit.hub.config.operator
        outbox.queue(unit.session, dedupe=f"airlock-recheck-concern:{req.id}:{row.id}", recipient=told,
                     subject=f"Output request {req.id}: a re-check raised a concern",
                     body=f"The re-check of output request {req.id} ({req.state}) raised a concern: {why}\n"
                          f"Decide whether to recall it (guichet airlock recall {req.id} --reason ... [--suspend]).",
                     now=now)
    unit.note(obj=f"output request {req.id}", reason=why[:500], verdict=verdict)
    return {"request": req.id, "state": req.state, "verdict": verdict, "reason": why, "operator_told": told}


@service("airlock.release", resource=_request_resource)
def release(unit: Unit, request: str) -> dict[str, Any]:
    """Copy an approved request's output files (never supporting ones) to ``<home>/outputs/released/<request>/``,
    each checked against the checksum submitted and made safe (SVG and HTML sanitised), and record their
    cells in the differencing ledger. Answers ``{"files": [absolute paths]}``."""
    req = _request(unit.session, request)
    done = _complete(unit.session, req)
    if req.state != "approved" or len(done) < 2:
        raise Refused(f"request {req.id} is {req.state}: only a request approved by two checkers is released")
    home = unit.hub.config.home
    target = _released_dir(home, req.id)
    target.mkdir(parents=True, exist_ok=True)
    out: list[str] = []
    cells = 0
    for f in _files(unit.session, req):
        if f.supporting:
            continue
        source = _output(home, req.permit, f.path)
        if sha256_of(source) != f.sha256:
            raise Refused(f"{f.path} changed after it was submitted: submit it again")
        dest = target / f.path.replace("/", "__")
        safe.copy_safe(source, dest)
        f.released_path = str(dest)
        f.released_sha256 = sha256_of(dest)
        out.append(str(dest))
        found = ledger.output_cells(source)
        if found is not None:
            dims, own = found
            cells += ledger.record(unit.session, req.id, req.project, f.id, dims, ledger.to_hub(unit.hub, req.project, own)[0])
    req.state = "released"
    req.released_at = _now()
    req.released_by = unit.actor.username
    unit.note(obj=f"output request {req.id}", files=len(out), ledger_cells=cells)
    return {"request": req.id, "files": out}


@service("airlock.recall", resource=_request_resource)
def recall(unit: Unit, request: str, reason: str, suspend: bool = False) -> dict[str, Any]:
    """Withdraw a released request after an incident: its files leave the released folder and the registry,
    the recall is recorded with its reason, its cells leave the ledger's comparisons no more (they stay: what
    was out may have been copied), and the people who could have downloaded it are listed for notification."""
    req = _request(unit.session, request)
    if req.state != "released":
        raise Refused(f"request {req.id} is {req.state}: only a released request is recalled")
    if not reason or not reason.strip():
        raise BadInput("--reason: required")
    now = _now()
    suspended = _suspend_on_recall(unit, req, reason.strip(), now) if suspend else None
    for f in _files(unit.session, req):
        if f.released_path:
            Path(f.released_path).unlink(missing_ok=True)
            f.recalled_at, f.recall_reason = now, reason.strip()
    shutil.rmtree(_released_dir(unit.hub.config.home, req.id), ignore_errors=True)
    req.state = "recalled"
    permit = unit.session.get(Permit, req.permit)
    people = sorted({str(p.get("name")) for p in (permit.document.get("people", []) if permit else [])})
    downloaders = sorted({req.author, *people, *_downloaders(unit.session, req.id)})
    unit.note(obj=f"output request {req.id}", reason=reason.strip()[:500], suspend=suspend,
              permit_state=suspended)
    return {"request": req.id, "state": req.state, "notify": downloaders, "suspend_requested": suspend,
            "permit_state": suspended}


def _suspend_on_recall(unit: Unit, req: OutputRequest, reason: str, now: datetime) -> str:
    """``recall --suspend``: suspend the request's permit as ``permit.suspend`` would — the actor must hold that
    action on the permit (its roles and separation of duties: not the holder, not of its organisation), in the
    recall's transaction, with that action's own audit event. A permit already suspended or ended is left as it
    is. Answers the permit's state afterwards."""
    permit = _permit(unit.session, req.permit)
    decision = authorize(unit.actor, "permit.suspend", Resource("permit", permit.id, owner=permit.owner, org=permit.org))
    if not decision:
        raise Refused(f"--suspend: {decision.reason} (recall without it, and ask an operator or the authority to "
                      f"suspend permit {permit.id})")
    state = effective_state(unit.session, permit, now.date())
    if state in ("revoked", "expired") or open_suspension(unit.session, permit.id) is not None:
        return state
    why = f"output request {req.id} recalled: {reason}"[:2000]
    row = suspend_permit(unit.session, permit, unit.actor.username, why, now, source=f"output request {req.id}")
    append_event(unit.session, unit.actor, "permit.suspend", obj=f"permit:{permit.id}", reason=why[:500],
                 details={"suspension": row.id, "request": req.id})
    return "suspended"


def _downloaders(session: Session, request: str) -> set[str]:
    from guichet.store.models import AuditEvent

    return set(session.execute(select(AuditEvent.actor).where(AuditEvent.action == "airlock.download",
                                                              AuditEvent.object == f"output request {request}",
                                                              AuditEvent.outcome == "ok")).scalars())


def _public(session: Session, req: OutputRequest, today: date) -> bool:
    """Public when the researcher published it, or once the permit's results deadline has passed (EHDS Art 61:
    results are made public) unless the permit's output conditions say ``publish_results: false``."""
    if req.state != "released":
        return False
    if req.published:
        return True
    permit = session.get(Permit, req.permit)
    if permit is None or permit.results_due is None:
        return False
    conditions = (permit.document or {}).get("output_conditions") or {}
    return conditions.get("publish_results", True) is not False and today >= permit.results_due


@service("airlock.publish", resource=_request_resource)
def publish(unit: Unit, request: str) -> dict[str, Any]:
    """The author (or a person named on the permit) makes a released request public in the registry."""
    req = _request(unit.session, request)
    if _role_on(unit.session, req, unit.actor.username, frozenset({"researcher"})) != "author":
        raise NotFound(f"no output request {req.id}")
    if req.state != "released":
        raise Refused(f"request {req.id} is {req.state}: only a released request is published")
    req.published = True
    unit.note(obj=f"output request {req.id}")
    return {"request": req.id, "published": True}


@query("airlock.registry")
def registry(unit: Unit, today: date | None = None) -> list[dict[str, Any]]:
    """The public list of releases: title, date, each file's name, type and checksum, the number of checkers;
    recalled releases stay listed with the recall's reason, without their files."""
    day = today or date.today()
    out = []
    for req in unit.session.execute(select(OutputRequest).where(OutputRequest.state.in_(("released", "recalled")))
                                    .order_by(OutputRequest.id)).scalars():
        recalled = [f for f in _files(unit.session, req) if f.recalled_at is not None]
        if req.state == "released" and not _public(unit.session, req, day):
            continue
        if req.state == "recalled" and not (req.published or _was_due(unit.session, req, day)):
            continue
        checkers = len(_complete(unit.session, req))
        entry: dict[str, Any] = {"request": req.id, "permit": req.permit, "title": req.title,
                                 "date": req.released_at.date().isoformat() if req.released_at else None,
                                 "checkers": checkers, "state": req.state}
        if req.state == "recalled":
            entry["recall_reason"] = recalled[0].recall_reason if recalled else None
            entry["files"] = []
        else:
            entry["files"] = [{"name": Path(f.released_path or f.path).name, "type": Path(f.path).suffix.lstrip("."),
                               "sha256": f.released_sha256} for f in _files(unit.session, req) if not f.supporting]
        out.append(entry)
    return out


def _was_due(session: Session, req: OutputRequest, today: date) -> bool:
    permit = session.get(Permit, req.permit)
    return bool(permit is not None and permit.results_due is not None and today >= permit.results_due)


@query("airlock.download", resource=_request_resource)
def download(unit: Unit, request: str, name: str) -> Path:
    """A released file of a request (audited): for the project's people, checkers and operators, or anyone with
    an account once it is public. Served as an attachment under a sandboxing policy (``safe.SERVE_HEADERS``)."""
    req = _request(unit.session, request)
    if req.state != "released":
        raise NotFound(f"no released file {name[:80]} in {req.id}")
    if not _public(unit.session, req, date.today()):
        _role_on(unit.session, req, unit.actor.username, unit.actor.roles, unit.actor.org)
    return _released_file(unit, req, name)


@query("airlock.public_download", resource=_request_resource)
def public_download(unit: Unit, request: str, name: str) -> Path:
    """A released file made public (published by the researcher, or due at the results deadline), for anyone
    without an account; any other request or file answers "not found", whether it exists or not."""
    req = unit.session.get(OutputRequest, request) if isinstance(request, str) else None
    if req is None or req.state != "released" or not _public(unit.session, req, date.today()):
        raise NotFound(f"no public file {name[:80]} in {str(request)[:40]}")
    return _released_file(unit, req, name)


def _released_file(unit: Unit, req: OutputRequest, name: str) -> Path:
    """The released (not supporting, not recalled) file ``name`` of ``req``, checked against its recorded
    checksum; the access is noted in the audit event."""
    for f in _files(unit.session, req):
        if not f.supporting and f.released_path and Path(f.released_path).name == name and f.recalled_at is None:
            path = Path(f.released_path)
            if path.is_file() and sha256_of(path) == f.released_sha256:
                unit.note(obj=f"output request {req.id}", file=name)
                return path
    raise NotFound(f"no released file {name[:80]} in {req.id}")


@query("airlock.requests")
def waiting(unit: Unit) -> list[dict[str, Any]]:
    """The requests the caller may act on: a checker's waiting requests (those proposed to them first), then
    the sampled approved requests they may re-check (``"recheck": true``); an operator's; a researcher's own."""
    roles = unit.actor.roles
    me = unit.actor.username
    rows = list(unit.session.execute(select(OutputRequest).order_by(OutputRequest.id)).scalars())
    out = []
    for req in rows:
        try:
            role = _role_on(unit.session, req, me, roles, unit.actor.org)
        except NotFound:
            continue
        is_recheck = False
        if role == "checker":
            if req.state == "checked":
                if me in _complete(unit.session, req) or req.org == unit.actor.org:
                    continue
            elif _may_recheck(unit.session, req, me, unit.actor.org) is None:
                is_recheck = True
            else:
                continue
        out.append({"request": req.id, "permit": req.permit, "title": req.title, "state": req.state,
                    "turn": req.turn, "proposed_to_me": me in req.proposed and not is_recheck,
                    "recheck": is_recheck})
    out.sort(key=lambda x: (x["recheck"], not x["proposed_to_me"], x["request"]))
    return out


@query("airlock.metrics")
def metrics(unit: Unit) -> dict[str, Any]:
    """Turnaround, decisions and their reasons, files per request, overrides, the re-check sample and the
    re-checks' verdicts (concerns listed)."""
    reqs = list(unit.session.execute(select(OutputRequest)).scalars())
    files = list(unit.session.execute(select(OutputFile)).scalars())
    reviews = list(unit.session.execute(select(OutputReview)).scalars())
    rechecks = list(unit.session.execute(select(OutputRecheck)).scalars())
    turnaround = sorted((r.decided_at - r.submitted_at).total_seconds() / 3600 for r in reqs
                        if r.decided_at is not None and r.submitted_at is not None)
    per_request = Counter(f.request for f in files if not f.supporting)
    return {"requests": len(reqs), "states": dict(Counter(r.state for r in reqs)),
            "turnaround_hours_median": turnaround[len(turnaround) // 2] if turnaround else None,
            "files_per_request": round(sum(per_request.values()) / len(per_request), 2) if per_request else 0,
            "rejection_reasons": sorted({x for r in reqs if r.state in ("rejected", "changes") for x in r.reasons}),
            "overrides": sum(1 for r in reviews if r.override),
            "recheck_sample": sorted(r.id for r in reqs if r.recheck),
            "rechecks": dict(Counter(x.verdict for x in rechecks)),
            "recheck_concerns": sorted({x.request for x in rechecks if x.verdict == "concern"}),
            "recheck_pending": sorted({r.id for r in reqs if r.recheck and r.state in RECHECKABLE}
                                      - {x.request for x in rechecks}),
            "ledger_cells": int(unit.session.execute(select(func.count(LedgerCell.id))).scalar_one())}
