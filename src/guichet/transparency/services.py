"""Complaints (EHDS Art 81): lodged by anyone (a reference number in answer), listed and moved along by the
operators. Their free text passes the identifier guard of every service: a NIR (or a pseudonym, a key) typed
into a complaint is refused with a message that says so, and is stored nowhere — neither in the table nor
in the audit trail (docs/transparency.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from guichet.airlock import figures as airlock
from guichet.custodian.optout import RateLimiter
from guichet.errors import BadInput, Conflict, NotFound
from guichet.governance import Resource, Unit, query, service
from guichet.transparency import report as reports
from guichet.transparency.tables import Complaint

TOPICS = ("optout", "access", "registry", "results", "security", "other")
STATUSES = ("received", "in_progress", "answered", "closed")
CHANNELS = ("web", "counter", "post")
MAX_TEXT = 4000
MAX_CONTACT = 200
_NUMBERING_ATTEMPTS = 100
# The public complaint form's limit: a bucket of its own in the shared table (guichet.custodian.optout).
COMPLAINT_LIMITER = RateLimiter("complaint", limit=5)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ComplaintInfo:
    reference: str
    received: str
    channel: str
    topic: str
    text: str
    contact: str | None
    status: str
    answer: str | None
    handled_by: str | None
    updated: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _info(c: Complaint) -> ComplaintInfo:
    return ComplaintInfo(c.reference, c.received_at.date().isoformat(), c.channel, c.topic, c.text, c.contact,
                         c.status, c.answer, c.handled_by, c.updated_at.replace(microsecond=0).isoformat())


@service("complaint.submit")
def submit_complaint(unit: Unit, topic: str, text: str, contact: str | None = None,
                     channel: str = "web") -> str:
    """Lodge a complaint; answers its reference (C-YYYY-NNNN). An operator may enter one received at a
    counter or by post (``channel``)."""
    if topic not in TOPICS:
        raise BadInput(f"--topic: one of {', '.join(TOPICS)}")
    if channel not in CHANNELS or (channel != "web" and not unit.actor.has("operator")):
        raise BadInput(f"--channel: one of {', '.join(CHANNELS)} (counter and post for operators)")
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise BadInput(f"--text: the complaint is empty or longer than {MAX_TEXT} characters")
    contact = (contact or "").strip() or None
    if contact is not None and len(contact) > MAX_CONTACT:
        raise BadInput(f"--contact: at most {MAX_CONTACT} characters")
    now = _now()
    year = now.year
    # The next number of the year; two complaints lodged at the same instant (PostgreSQL runs them side by
    # side) may pick the same one: the unique reference refuses the second inside a savepoint, which takes
    # the next free one — at least one more than it tried, and more than the highest it can now see. Neither
    # complaint is lost.
    tried = 0
    for _attempt in range(_NUMBERING_ATTEMPTS):
        last = unit.session.execute(select(Complaint.reference).where(Complaint.reference.like(f"C-{year}-%"))
                                    .order_by(func.length(Complaint.reference).desc(), Complaint.reference.desc())
                                    .limit(1)).scalar_one_or_none()
        tried = max(tried + 1, (int(last.rsplit("-", 1)[1]) if last else 0) + 1)
        reference = f"C-{year}-{tried:04d}"
        try:
            with unit.session.begin_nested():
                unit.session.add(Complaint(reference=reference, received_at=now, channel=channel, topic=topic,
                                           text=text, contact=contact, status="received", updated_at=now))
        except IntegrityError:
            continue
        unit.note(obj=f"complaint:{reference}", topic=topic, channel=channel)
        return reference
    raise Conflict("complaint: the hub is receiving too many complaints at once; try again in a moment")


@query("complaint.list")
def list_complaints(unit: Unit, status: str | None = None) -> list[ComplaintInfo]:
    q = select(Complaint).order_by(Complaint.id.desc())
    if status is not None:
        q = q.where(Complaint.status == status)
    return [_info(c) for c in unit.session.execute(q).scalars()]


def _complaint(_session: Any, reference: str, **_: Any) -> Resource:
    return Resource("complaint", reference)


@service("complaint.update", resource=_complaint)
def update_complaint(unit: Unit, reference: str, status: str, answer: str | None = None) -> ComplaintInfo:
    if status not in STATUSES:
        raise BadInput(f"--status: one of {', '.join(STATUSES)}")
    row = unit.session.execute(select(Complaint).where(Complaint.reference == reference)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"complaint {reference}: not found")
    answer = (answer or "").strip() or None
    if answer is not None and len(answer) > MAX_TEXT:
        raise BadInput(f"--answer: at most {MAX_TEXT} characters")
    row.status, row.handled_by, row.updated_at = status, unit.actor.username, _now()
    if answer is not None:
        row.answer = answer
    unit.note(status=status)
    return _info(row)


@query("report.activity")
def activity_report(unit: Unit, year: int, today: date | None = None) -> dict[str, Any]:
    """The activity report of ``year`` (public): see ``guichet.transparency.report``."""
    if not 2000 <= year <= 2100:
        raise BadInput("--period: a year, YYYY")
    return reports.activity(unit.hub, unit.session, year, today)


@query("results.overdue")
def overdue_results(unit: Unit, today: date | None = None) -> list[dict[str, Any]]:
    """Projects whose results are overdue (public): permits past their results deadline with no published
    release."""
    return reports.overdue_results(unit.session, today or _now().date())


@query("results.published")
def published_results(unit: Unit, today: date | None = None) -> dict[str, list[dict[str, Any]]]:
    """Each permit's published releases (title, date, file types, download addresses) and recalls with their
    reason (public), as the airlock's registry shows them."""
    return airlock.public_releases(unit.session, today or _now().date())
