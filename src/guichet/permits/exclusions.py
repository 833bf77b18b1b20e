"""EHDS Art 63: an organisation whose permit was revoked may be excluded from access for up to 5 years. The
exclusion is enforced on its later applications (``guichet.access`` asks ``submission_refusal`` when one is
submitted), estimates and permits."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guichet.permits.tables import Permit


def excluded_until(session: Session, org: str, today: date) -> date | None:
    """The last day of the organisation's exclusion when it is excluded on ``today``, else None."""
    value = session.execute(select(func.max(Permit.exclude_until)).where(Permit.org == org)).scalar()
    return value if value is not None and value >= today else None


def exclusion_message(org: str, until: date) -> str:
    return (f"the organisation {org} is excluded from access until {until:%Y-%m-%d} (a revoked permit, "
            "EHDS Art 63)")


def submission_refusal(session: Session, org: str, today: date) -> str | None:
    """Why an application of ``org`` may not be submitted on ``today`` (None: it may)."""
    until = excluded_until(session, org, today)
    return exclusion_message(org, until) if until is not None else None
