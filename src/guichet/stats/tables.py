"""ORM models of statistics requests (migration 0020): the request with its specification, its state and
clocks, the assessment and review decisions, and the answer (files, checks, ledger flags). ORM objects stay
inside this package."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guichet.store.models import Base


class StatsRequest(Base):
    """A statistics request: ``spec`` the validated specification; ``answer`` what the computation wrote
    (each table's file, its automatic check without values, the cells withheld and why, the ledger's flags)."""

    __tablename__ = "stats_requests"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # S-YYYY-NNNN
    requester: Mapped[str] = mapped_column(String(64), index=True)
    org: Mapped[str | None] = mapped_column(String(200))  # the requester's organisation
    title: Mapped[str] = mapped_column(String(300))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # submitted committee accepted refused review released
    state: Mapped[str] = mapped_column(String(16), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    assessment_due: Mapped[date] = mapped_column(Date)
    answer_due: Mapped[date | None] = mapped_column(Date)
    assessed_by: Mapped[str | None] = mapped_column(String(64))
    assessed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    committee_by: Mapped[str | None] = mapped_column(String(64))
    answered_by: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)  # the last decision's reason (a refusal's justification)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
