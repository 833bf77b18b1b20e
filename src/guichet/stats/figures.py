"""Statistics requests' figures for the activity report (EHDS Art 59(1)(a): the health data requests
submitted; Art 59(1)(c): those approved), read from this package's table."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.stats.tables import StatsRequest

IN_PROGRESS = ("submitted", "committee", "accepted", "review")


def _day(value: datetime) -> date:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()


def period_figures(session: Session, start: date, end: date) -> dict[str, Any]:
    """``received``: requests whose reception falls in [start, end]; ``released``: answers released in it;
    ``refused``: requests received in it that are refused (at assessment, with nothing releasable, or by the
    checker); ``in_progress_now``: requests not yet decided or answered today."""
    rows = list(session.execute(select(StatsRequest)).scalars())
    within = [r for r in rows if start <= _day(r.received_at) <= end]
    return {"offered": True, "received": len(within),
            "released": sum(1 for r in rows if r.released_at is not None and start <= _day(r.released_at) <= end),
            "refused": sum(1 for r in within if r.state == "refused"),
            "in_progress_now": sum(1 for r in rows if r.state in IN_PROGRESS)}
