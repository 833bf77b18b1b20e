"""The access package's tables: applications, their numbered revisions, the state history with its due
dates, clock stops, reviewers' notes, panels' opinions, and the panels with their members.

A revision holds the full JSON of the application as the applicant submitted or answered it; nothing is
ever rewritten: a new answer is a new revision, a transition a new history row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guichet.store.models import Base


class Application(Base):
    __tablename__ = "access_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    applicant: Mapped[str] = mapped_column(String(64), index=True)  # the account's username
    org: Mapped[str] = mapped_column(String(200))  # the applicant account's organisation, at creation
    org_kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    steps: Mapped[list[str]] = mapped_column(JSON)  # the workflow's steps, fixed at creation
    revision: Mapped[int] = mapped_column(Integer)  # the current revision's number
    opinion: Mapped[str | None] = mapped_column(String(16))  # the binding (scientific) opinion's outcome
    decision: Mapped[str | None] = mapped_column(String(16))  # authorised | refused
    decision_reason: Mapped[str | None] = mapped_column(Text)
    step_started: Mapped[date | None] = mapped_column(Date)  # when the running step's clock started
    due: Mapped[date | None] = mapped_column(Date)  # the running step's due date (clock stops included)
    answer_due: Mapped[date | None] = mapped_column(Date)  # incomplete / revise: the applicant's deadline
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApplicationRevision(Base):
    __tablename__ = "access_revisions"
    __table_args__ = (UniqueConstraint("application_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("access_applications.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(64))
    why: Mapped[str] = mapped_column(String(16))  # draft | answer
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApplicationEvent(Base):
    """One transition of an application's state (the history shown to everyone involved)."""

    __tablename__ = "access_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("access_applications.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    due: Mapped[date | None] = mapped_column(Date)  # the due date set by this transition
    revision: Mapped[int] = mapped_column(Integer)


class ClockStop(Base):
    """The running step's clock stopped while the applicant answers questions (incomplete, revise)."""

    __tablename__ = "access_clock_stops"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("access_applications.id"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    stopped: Mapped[date] = mapped_column(Date)
    resumed: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)


class ReviewNote(Base):
    """A reviewer's note on one section of one revision: private to the reviewers or addressed to the
    applicant."""

    __tablename__ = "access_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("access_applications.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(16))  # reviewers | applicant
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Opinion(Base):
    """A panel's opinion on one revision: outcome, reason, rapporteur, members present, vote, and the
    conflict-of-interest declarations of the members who did not take part."""

    __tablename__ = "access_opinions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("access_applications.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    panel: Mapped[str] = mapped_column(String(16))  # scientific | citizens
    binding: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(16))  # favourable | unfavourable | revise
    reason: Mapped[str] = mapped_column(Text)
    rapporteur: Mapped[str] = mapped_column(String(64))
    present: Mapped[list[str]] = mapped_column(JSON)
    vote: Mapped[dict[str, int]] = mapped_column(JSON)  # {"for": n, "against": n, "abstain": n}
    conflicts: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{"member", "declaration"}]
    given_by: Mapped[str] = mapped_column(String(64))
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Panel(Base):
    __tablename__ = "access_panels"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)  # scientific | citizens
    binding: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PanelMember(Base):
    __tablename__ = "access_panel_members"

    panel: Mapped[str] = mapped_column(ForeignKey("access_panels.name"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
