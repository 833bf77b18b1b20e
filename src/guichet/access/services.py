"""Access applications: every step of the workflow is a service (permission checked, audited).

A step taken out of turn, by the wrong account or from the applicant's organisation raises ``Refused``
(or ``Hidden`` for an application the actor may not see): its transaction is rolled back, so nothing
changes but the audit trail, which records the refusal with its reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib import import_module
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.access import clocks
from guichet.access.contents import problems, sections_changed
from guichet.access.model import (
    ApplicationInfo,
    ApplicationSummary,
    HistoryEntry,
    NoteInfo,
    OpinionInfo,
    PanelMemberInfo,
    RevisionDiff,
    SectionChange,
)
from guichet.access.tables import (
    Application,
    ApplicationEvent,
    ApplicationRevision,
    ClockStop,
    Opinion,
    Panel,
    PanelMember,
    ReviewNote,
)
from guichet.access.workflow import FINAL, OUTCOMES, PANELS, SECTIONS, WAITING_FOR_APPLICANT, Workflow, today, workflow
from guichet.accounts.model import DEFAULT_ORG_KIND
from guichet.audit.guard import looks_like_identifier
from guichet.errors import BadInput, Hidden, NotFound, Refused
from guichet.governance import Resource, Unit, query, service
from guichet.store.models import Organisation, User

# Modules of packages above this one that may refuse a submission (an organisation excluded from access after
# a revoked permit, EHDS Art 63): each exposes ``submission_refusal(session, org, day) -> str | None``.
# Imported lazily, by name: the access package sits below them.
SUBMISSION_RULES: tuple[str, ...] = ("guichet.permits.exclusions",)
REVIEWER_ROLES = frozenset({"operator", "committee", "authority", "auditor", "system"})
MAX_REASON = 5000


def _now() -> datetime:
    return datetime.now(UTC)


def _d(value: date | datetime | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value


def _app_resource(session: Session, application_id: int, **_: object) -> Resource:
    app = session.get(Application, application_id) if isinstance(application_id, int) else None
    if app is None:
        return Resource("application", str(application_id))
    prior = {e.actor for e in session.execute(select(ApplicationEvent).where(
        ApplicationEvent.application_id == app.id, ApplicationEvent.action.in_(("check", "opinion")))).scalars()}
    prior |= {o.given_by for o in session.execute(select(Opinion).where(Opinion.application_id == app.id)).scalars()}
    return Resource("application", str(app.id), owner=app.applicant, org=app.org, prior_actors=frozenset(prior))


def _flow(unit: Unit, app: Application | None = None) -> Workflow:
    """The hub's workflow; for an application, with the steps fixed when it was created."""
    flow = workflow(unit.hub.config.properties)
    return Workflow(tuple(app.steps), flow.durations, flow.calendar) if app is not None else flow


def _load(unit: Unit, application_id: int) -> Application:
    """The application, if the actor may see it: an applicant sees only their own, reviewers every one
    that was submitted (a draft is its applicant's alone)."""
    app = unit.session.get(Application, application_id)
    if app is None:
        raise NotFound(f"no application {application_id}")
    mine = app.applicant == unit.actor.username
    if not mine and (app.state == "draft" or not (unit.actor.roles & REVIEWER_ROLES)):
        raise Hidden(f"no application {application_id}",
                     f"{unit.action}: {unit.actor.username} may not see application {application_id}")
    return app


def _own(unit: Unit, application_id: int) -> Application:
    app = _load(unit, application_id)
    if app.applicant != unit.actor.username:
        raise Hidden(f"no application {application_id}",
                     f"{unit.action}: only the applicant acts on their application {application_id}")
    return app


def _reason(reason: str | None, what: str = "--reason") -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise BadInput(f"{what}: every decision carries a reason")
    if len(text) > MAX_REASON:
        raise BadInput(f"{what}: at most {MAX_REASON} characters")
    return text


def _out_of_turn(app: Application, step: str, allowed: str) -> Refused:
    return Refused(f"application {app.id} is {app.state}: it cannot be {step} now; only {allowed} can be")


def _move(unit: Unit, app: Application, action: str, to_state: str, reason: str | None = None) -> None:
    frm = app.state
    app.state = to_state
    app.updated_at = _now()
    unit.session.add(ApplicationEvent(application_id=app.id, at=app.updated_at, actor=unit.actor.username,
                                      action=action, from_state=frm, to_state=to_state, reason=reason,
                                      due=app.answer_due if to_state in WAITING_FOR_APPLICANT else app.due,
                                      revision=app.revision))
    unit.note(obj=f"application:{app.id}", reason=reason, step=action, from_state=frm, to_state=to_state,
              due=(app.due.isoformat() if app.due else None))


def _start_step(unit: Unit, app: Application, step: str) -> None:
    flow = _flow(unit)
    start = today()
    app.step_started = start
    app.due = clocks.due_date(start, flow.durations[step], flow.calendar)
    app.answer_due = None


def _stops(session: Session, app: Application, step: str) -> list[clocks.Stop]:
    rows = session.execute(select(ClockStop).where(ClockStop.application_id == app.id, ClockStop.step == step)
                           .order_by(ClockStop.id)).scalars()
    return [(r.stopped, r.resumed) for r in rows]


def _current_step(app: Application) -> str | None:
    """The step whose clock runs (or is stopped)."""
    if app.state in ("submitted", "incomplete"):
        return "completeness"
    if app.state == "under_review":
        return "opinion" if "opinion" in app.steps else "decision"
    return {"revise": "opinion", "opinion": "decision"}.get(app.state)


def _stop_clock(unit: Unit, app: Application, step: str, reason: str) -> None:
    flow = _flow(unit)
    stopped = today()
    unit.session.add(ClockStop(application_id=app.id, step=step, stopped=stopped, resumed=None, reason=reason))
    app.due = None
    answer = clocks.due_date(stopped, flow.durations["answer"], flow.calendar)
    app.answer_due = answer


def _resume_clock(unit: Unit, app: Application, step: str) -> None:
    flow = _flow(unit)
    open_stop = unit.session.execute(select(ClockStop).where(ClockStop.application_id == app.id, ClockStop.step == step,
                                                             ClockStop.resumed.is_(None))).scalar_one_or_none()
    if open_stop is not None:
        open_stop.resumed = max(today(), open_stop.stopped)
    unit.session.flush()
    start = _d(app.step_started) or today()
    app.due = clocks.due_date(start, flow.durations[step], flow.calendar, _stops(unit.session, app, step))
    if app.extended and step == "decision" and app.due is not None:
        app.due = clocks.extend(app.due, flow.durations["extension"], flow.calendar)
    app.answer_due = None


def _guard_content(value: Any, where: str = "application") -> None:
    """The text guard of every service, over an application, except the criteria's code lists: a CIP13 code
    (13 digits from 3400...) has the shape of a NIR, and code lists are checked by the criteria language."""
    if isinstance(value, str):
        kind = looks_like_identifier(value)
        if kind is not None:
            raise Refused(f"{where}: refused, it looks like it contains {kind}; describe the case without identifiers")
    elif isinstance(value, dict):
        for k, v in value.items():
            if not (k == "codes" and where.startswith("application.criteria") and isinstance(v, list)
                    and all(isinstance(c, str) and c.isalnum() and len(c) <= 20 for c in v)):
                _guard_content(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _guard_content(v, f"{where}[{i}]")


def _check_content(unit: Unit, content: Any, submitting: bool = False, draft: bool = False) -> dict[str, Any]:
    if not isinstance(content, dict):
        raise BadInput("application: a JSON object (see examples/application.json)")
    _guard_content(content)
    found = problems(unit.hub, unit.session, content, submitting=submitting, draft=draft)
    if found:
        shown = "; ".join(str(p) for p in found[:10])
        more = f" (and {len(found) - 10} more)" if len(found) > 10 else ""
        raise BadInput(f"application: {len(found)} problem{'s' if len(found) > 1 else ''}: {shown}{more}")
    return content


def _add_revision(unit: Unit, app: Application, content: dict[str, Any], why: str) -> int:
    app.revision = (app.revision or 0) + 1
    unit.session.add(ApplicationRevision(application_id=app.id, number=app.revision, content=content,
                                         author=unit.actor.username, why=why, created_at=_now()))
    return app.revision


# --- the applicant's steps --------------------------------------------------------------------------------

@service("application.create", unguarded=("content",))
def create(unit: Unit, content: dict[str, Any]) -> ApplicationSummary:
    """A draft application of the actor's account and organisation, with its first revision."""
    content = _check_content(unit, content, draft=True)
    org = unit.session.execute(select(Organisation).join(User, User.org_id == Organisation.id)
                               .where(User.username == unit.actor.username)).scalar_one_or_none()
    now = _now()
    app = Application(title=content["title"], applicant=unit.actor.username,
                      org=org.name if org else (unit.actor.org or "(none)"),
                      org_kind=(org.kind if org else DEFAULT_ORG_KIND), state="draft",
                      steps=list(_flow(unit).steps), revision=0, extended=False, created_at=now, updated_at=now)
    unit.session.add(app)
    unit.session.flush()
    _add_revision(unit, app, content, "draft")
    unit.session.add(ApplicationEvent(application_id=app.id, at=now, actor=unit.actor.username, action="create",
                                      from_state=None, to_state="draft", reason=None, due=None, revision=1))
    unit.note(obj=f"application:{app.id}", step="create", to_state="draft", org_kind=app.org_kind)
    return _summary(app)


@service("application.submit", resource=_app_resource)
def submit(unit: Unit, application_id: int) -> ApplicationSummary:
    app = _own(unit, application_id)
    if app.state != "draft":
        raise _out_of_turn(app, "submitted", "a draft")
    for rule in SUBMISSION_RULES:
        why = import_module(rule).submission_refusal(unit.session, app.org, today())
        if why:
            raise Refused(why)
    current = _revision(unit.session, app, app.revision)
    _check_content(unit, current.content, submitting=True)  # the catalogue and the lake, as they are now
    flow = _flow(unit, app)
    _start_step(unit, app, flow.first_step())
    _move(unit, app, "submit", flow.first_state())
    return _summary(app)


@service("application.withdraw", resource=_app_resource)
def withdraw(unit: Unit, application_id: int, reason: str | None = None) -> ApplicationSummary:
    app = _own(unit, application_id)
    if app.state in FINAL:
        raise _out_of_turn(app, "withdrawn", "an application not yet decided")
    app.due = app.answer_due = None
    _move(unit, app, "withdraw", "withdrawn", " ".join((reason or "").split()) or None)
    return _summary(app)


@service("application.answer", resource=_app_resource, unguarded=("content",))
def answer(unit: Unit, application_id: int, content: dict[str, Any]) -> ApplicationSummary:
    """A new revision: edits a draft, or answers the questions of an incomplete application or a request to
    revise it (the stopped clock runs again)."""
    app = _own(unit, application_id)
    if app.state not in ("draft", *WAITING_FOR_APPLICANT):
        raise _out_of_turn(app, "answered", "a draft, an incomplete application or one to revise")
    if app.state in WAITING_FOR_APPLICANT and app.answer_due is not None and today() > app.answer_due:
        raise Refused(f"application {app.id}: the time to answer ended on {app.answer_due.isoformat()}; it lapses")
    content = _check_content(unit, content, submitting=app.state != "draft", draft=app.state == "draft")
    before = _revision(unit.session, app, app.revision).content
    number = _add_revision(unit, app, content, "answer" if app.state != "draft" else "draft")
    app.title = content["title"]
    unit.note(revision=number, sections=[s for s, _c in sections_changed(before, content)])
    if app.state == "draft":
        app.updated_at = _now()
        unit.note(obj=f"application:{app.id}", step="answer", to_state="draft")
        return _summary(app)
    flow = _flow(unit, app)
    if app.state == "incomplete":
        _resume_clock(unit, app, "completeness")
        _move(unit, app, "answer", "submitted")
    else:
        _resume_clock(unit, app, flow.after_completeness())
        _move(unit, app, "answer", "under_review")
    return _summary(app)


# --- the reviewers' steps ---------------------------------------------------------------------------------

@service("application.check", resource=_app_resource)
def check(unit: Unit, application_id: int, complete: bool, reason: str) -> ApplicationSummary:
    """The operator's completeness check: complete -> the next step's clock starts; incomplete -> questions
    to the applicant (the reason), the clock stops until they answer."""
    app = _load(unit, application_id)
    why = _reason(reason)
    if app.state != "submitted":
        raise _out_of_turn(app, "checked", "a submitted application")
    if complete:
        flow = _flow(unit, app)
        _start_step(unit, app, flow.after_completeness())
        _move(unit, app, "check", "under_review", why)
    else:
        _stop_clock(unit, app, "completeness", why)
        _move(unit, app, "check", "incomplete", why)
    return _summary(app)


def _panel_members(session: Session, panel: str) -> dict[str, str]:
    """username -> organisation of the panel's members."""
    rows = session.execute(select(PanelMember.username, Organisation.name)
                           .join(User, User.username == PanelMember.username)
                           .join(Organisation, Organisation.id == User.org_id)
                           .where(PanelMember.panel == panel)).all()
    return {u: o for u, o in rows}


@service("application.opinion", resource=_app_resource)
def opinion(unit: Unit, application_id: int, outcome: str, reason: str, panel: str = "scientific",
            rapporteur: str | None = None, present: list[str] | None = None, vote: dict[str, int] | None = None,
            conflicts: list[dict[str, str]] | None = None) -> ApplicationSummary:
    """A panel's opinion. The scientific panel's (binding) moves the application: favourable or unfavourable
    -> the authority's decision clock starts; revise -> the applicant revises (the clock stops). The citizens'
    panel's is recorded and published with the decision, and moves nothing."""
    app = _load(unit, application_id)
    why = _reason(reason)
    if panel not in PANELS:
        raise BadInput(f"--panel: one of {', '.join(PANELS)}")
    if outcome not in OUTCOMES:
        raise BadInput(f"opinion: one of {', '.join(OUTCOMES)}")
    members = _panel_members(unit.session, panel)
    me = unit.actor.username
    if me not in members:
        raise Refused(f"application.opinion: {me} is not a member of the {panel} panel")
    binding = PANELS[panel]
    if binding:
        if "opinion" not in app.steps:
            raise Refused(f"application {app.id}: this hub's workflow has no scientific opinion step")
        if app.state != "under_review":
            raise _out_of_turn(app, "given a scientific opinion", "an application under review")
    else:
        if app.state not in ("under_review", "revise", "opinion"):
            raise _out_of_turn(app, "given the citizens' opinion", "an application under review or awaiting its decision")
        if outcome == "revise":
            raise BadInput("the citizens' panel gives a favourable or unfavourable opinion (it cannot ask for a revision)")
        given = unit.session.execute(select(Opinion).where(Opinion.application_id == app.id, Opinion.panel == panel,
                                                           Opinion.revision == app.revision)).first()
        if given is not None:
            raise Refused(f"application {app.id}: the {panel} panel already gave its opinion on revision {app.revision}")
    present_list = sorted(set(present or [me]) | {me})
    rapporteur = rapporteur or me
    conflict_list = [{"member": str(c.get("member", "")), "declaration": " ".join(str(c.get("declaration", "")).split())}
                     for c in (conflicts or [])]
    conflicted = {c["member"] for c in conflict_list}
    for who in [*present_list, *conflicted]:
        if who not in members:
            raise BadInput(f"opinion: {who!r} is not a member of the {panel} panel")
    if rapporteur not in present_list or rapporteur in conflicted:
        raise BadInput("--rapporteur: a member present and without a declared conflict")
    if conflicted & set(present_list):
        raise BadInput("opinion: a member who declared a conflict takes no part (not among the members present)")
    if any(not c["declaration"] for c in conflict_list):
        raise BadInput("--conflict: each declaration says what the conflict is")
    same_org = sorted(w for w in present_list if members[w] == app.org)
    if same_org:
        raise Refused(f"application.opinion: separation of duties, {', '.join(same_org)} belong to the applicant's "
                      "organisation and must declare a conflict instead of taking part")
    voting = len(present_list)
    counts = dict(vote) if vote else {"for": voting, "against": 0, "abstain": 0}
    if set(counts) - {"for", "against", "abstain"} or any(not isinstance(v, int) or v < 0 for v in counts.values()):
        raise BadInput("--vote: FOR,AGAINST,ABSTAIN counts")
    counts = {k: int(counts.get(k, 0)) for k in ("for", "against", "abstain")}
    if sum(counts.values()) != voting:
        raise BadInput(f"--vote: the votes ({sum(counts.values())}) must be those of the members present ({voting})")
    unit.session.add(Opinion(application_id=app.id, revision=app.revision, panel=panel, binding=binding,
                             outcome=outcome, reason=why, rapporteur=rapporteur, present=present_list, vote=counts,
                             conflicts=conflict_list, given_by=me, given_at=_now()))
    unit.note(obj=f"application:{app.id}", reason=why, panel=panel, outcome=outcome, binding=binding,
              present=len(present_list), conflicts=len(conflict_list), vote=counts)
    if not binding:
        app.updated_at = _now()
        return _summary(app)
    if outcome == "revise":
        _stop_clock(unit, app, "opinion", why)
        _move(unit, app, "opinion", "revise", why)
    else:
        app.opinion = outcome
        _start_step(unit, app, "decision")
        _move(unit, app, "opinion", "opinion", why)
    return _summary(app)


@service("application.decide", resource=_app_resource)
def decide(unit: Unit, application_id: int, authorise: bool, reason: str) -> ApplicationSummary:
    """The authority's decision, after the scientific opinion (an unfavourable one allows only a refusal)."""
    app = _load(unit, application_id)
    why = _reason(reason)
    waiting = "opinion" if "opinion" in app.steps else "under_review"
    if app.state != waiting:
        need = "a scientific opinion" if waiting == "opinion" else "an application under review"
        raise _out_of_turn(app, "decided", need)
    if authorise and "opinion" in app.steps and app.opinion != "favourable":
        raise Refused(f"application {app.id}: the scientific opinion is {app.opinion}; the authority may only refuse")
    app.decision = "authorised" if authorise else "refused"
    app.decision_reason = why
    app.due = app.answer_due = None
    _move(unit, app, "decide", app.decision, why)
    return _summary(app)


@service("application.extend", resource=_app_resource)
def extend(unit: Unit, application_id: int, reason: str) -> ApplicationSummary:
    """Extend the decision's due date once (by ``access_extension``), with a reason."""
    app = _load(unit, application_id)
    why = _reason(reason)
    if app.state != ("opinion" if "opinion" in app.steps else "under_review") or app.due is None:
        raise _out_of_turn(app, "extended", "an application awaiting the authority's decision")
    if app.extended:
        raise Refused(f"application {app.id}: the decision's due date was already extended once")
    flow = _flow(unit)
    app.due = clocks.extend(app.due, flow.durations["extension"], flow.calendar)
    app.extended, app.extension_reason = True, why
    _move(unit, app, "extend", app.state, why)
    return _summary(app)


@service("application.note", resource=_app_resource)
def note(unit: Unit, application_id: int, section: str, text: str, to_applicant: bool = False) -> NoteInfo:
    """A reviewer's note on a section of the current revision: private to the reviewers, or addressed to the
    applicant."""
    app = _load(unit, application_id)
    if section not in SECTIONS:
        raise BadInput(f"--section: one of {', '.join(SECTIONS)}")
    body = " ".join(text.split())
    if not body or len(body) > MAX_REASON:
        raise BadInput(f"--text: between 1 and {MAX_REASON} characters")
    if app.state in FINAL:
        raise _out_of_turn(app, "annotated", "an application not yet decided")
    row = ReviewNote(application_id=app.id, revision=app.revision, section=section,
                     audience="applicant" if to_applicant else "reviewers", author=unit.actor.username, text=body,
                     created_at=_now())
    unit.session.add(row)
    unit.note(obj=f"application:{app.id}", section=section, audience=row.audience)
    return _note_info(row)


@service("application.lapse")
def lapse(unit: Unit) -> list[int]:
    """Lapse every application whose applicant did not answer in time (incomplete or to revise)."""
    day = today()
    lapsed = []
    rows = unit.session.execute(select(Application).where(Application.state.in_(sorted(WAITING_FOR_APPLICANT)))
                                .order_by(Application.id)).scalars()
    for app in rows:
        if app.answer_due is not None and day > app.answer_due:
            answer_due = app.answer_due
            app.answer_due = app.due = None
            _move(unit, app, "lapse", "lapsed", f"no answer by {answer_due.isoformat()}")
            lapsed.append(app.id)
    unit.note(obj="applications", lapsed=lapsed, reason=None)
    return lapsed


# --- reading ----------------------------------------------------------------------------------------------

def _summary(app: Application) -> ApplicationSummary:
    return ApplicationSummary(app.id, app.title, app.applicant, app.org, app.org_kind, app.state, app.revision,
                              _d(app.due), _d(app.answer_due), app.updated_at)


def _revision(session: Session, app: Application, number: int) -> ApplicationRevision:
    rev = session.execute(select(ApplicationRevision).where(ApplicationRevision.application_id == app.id,
                                                            ApplicationRevision.number == number)).scalar_one_or_none()
    if rev is None:
        raise NotFound(f"application {app.id} has no revision {number}")
    return rev


def _note_info(n: ReviewNote) -> NoteInfo:
    return NoteInfo(n.revision, n.section, n.audience, n.author, n.text, n.created_at)


def _info(unit: Unit, app: Application) -> ApplicationInfo:
    s = unit.session
    applicant_view = app.applicant == unit.actor.username and not (unit.actor.roles & REVIEWER_ROLES)
    history = tuple(HistoryEntry(e.at, e.actor, e.action, e.from_state, e.to_state, e.reason, _d(e.due), e.revision)
                    for e in s.execute(select(ApplicationEvent).where(ApplicationEvent.application_id == app.id)
                                       .order_by(ApplicationEvent.id)).scalars())
    opinions = tuple(OpinionInfo(o.panel, o.binding, o.outcome, o.reason, o.revision, o.rapporteur, tuple(o.present),
                                 dict(o.vote), tuple(o.conflicts), o.given_by, o.given_at)
                     for o in s.execute(select(Opinion).where(Opinion.application_id == app.id)
                                        .order_by(Opinion.id)).scalars())
    notes_q = select(ReviewNote).where(ReviewNote.application_id == app.id)
    if applicant_view:
        notes_q = notes_q.where(ReviewNote.audience == "applicant")
    notes = tuple(_note_info(n) for n in s.execute(notes_q.order_by(ReviewNote.id)).scalars())
    step = _current_step(app)
    content = _revision(s, app, app.revision).content
    base = _summary(app)
    return ApplicationInfo(**{k: getattr(base, k) for k in base.__dataclass_fields__},
                           steps=tuple(app.steps), step=step, clock_stopped=app.state in WAITING_FOR_APPLICANT,
                           opinion=app.opinion, decision=app.decision, decision_reason=app.decision_reason,
                           extended=app.extended, extension_reason=app.extension_reason, content=content,
                           history=history, opinions=opinions, notes=notes)


@query("application.show", resource=_app_resource)
def show(unit: Unit, application_id: int) -> ApplicationInfo:
    app = _load(unit, application_id)
    unit.note(obj=f"application:{app.id}")
    return _info(unit, app)


@query("application.list")
def list_applications(unit: Unit, state: str | None = None, mine: bool = False) -> list[ApplicationSummary]:
    """Applications: an applicant's own; for reviewers every submitted one (drafts stay their applicant's)."""
    q = select(Application).order_by(Application.id)
    if state is not None:
        q = q.where(Application.state == state)
    if mine or not (unit.actor.roles & REVIEWER_ROLES):
        q = q.where(Application.applicant == unit.actor.username)
    else:
        q = q.where((Application.state != "draft") | (Application.applicant == unit.actor.username))
    return [_summary(a) for a in unit.session.execute(q).scalars()]


@query("application.diff", resource=_app_resource)
def diff(unit: Unit, application_id: int, from_revision: int | None = None,
         to_revision: int | None = None) -> RevisionDiff:
    """What changed between two revisions (default: the previous one and the current one), per section."""
    app = _load(unit, application_id)
    to_n = to_revision if to_revision is not None else app.revision
    from_n = from_revision if from_revision is not None else max(1, to_n - 1)
    before = _revision(unit.session, app, from_n).content
    after = _revision(unit.session, app, to_n).content
    changes = tuple(SectionChange(sec, kind, before.get(sec), after.get(sec))
                    for sec, kind in sections_changed(before, after))
    return RevisionDiff(app.id, from_n, to_n, changes)


# --- panels -----------------------------------------------------------------------------------------------

def _panel_name(panel: str) -> str:
    if panel not in PANELS:
        raise BadInput(f"panel: one of {', '.join(PANELS)}")
    return panel


@service("panel.add")
def add_member(unit: Unit, panel: str, username: str) -> PanelMemberInfo:
    """Record an account (role ``committee``) as a member of a panel."""
    name = _panel_name(panel)
    user = unit.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no account named {username!r}")
    if "committee" not in {r.role for r in user.roles}:
        raise BadInput(f"{username}: a panel member holds the role committee")
    if unit.session.get(Panel, name) is None:
        unit.session.add(Panel(name=name, binding=PANELS[name], created_at=_now()))
        unit.session.flush()
    if unit.session.get(PanelMember, (name, username)) is not None:
        raise BadInput(f"{username} is already a member of the {name} panel")
    row = PanelMember(panel=name, username=username, added_by=unit.actor.username, added_at=_now())
    unit.session.add(row)
    unit.note(obj=f"panel:{name}", member=username)
    return PanelMemberInfo(name, PANELS[name], username, user.organisation.name, row.added_by, row.added_at)


@service("panel.remove")
def remove_member(unit: Unit, panel: str, username: str) -> None:
    name = _panel_name(panel)
    row = unit.session.get(PanelMember, (name, username))
    if row is None:
        raise NotFound(f"{username} is not a member of the {name} panel")
    unit.session.delete(row)
    unit.note(obj=f"panel:{name}", member=username)


@query("panel.list")
def list_members(unit: Unit, panel: str | None = None) -> list[PanelMemberInfo]:
    q = (select(PanelMember, Organisation.name).join(User, User.username == PanelMember.username)
         .join(Organisation, Organisation.id == User.org_id).order_by(PanelMember.panel, PanelMember.username))
    if panel is not None:
        q = q.where(PanelMember.panel == _panel_name(panel))
    return [PanelMemberInfo(m.panel, PANELS[m.panel], m.username, org, m.added_by, m.added_at)
            for m, org in unit.session.execute(q).all()]
