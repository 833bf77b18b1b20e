"""ORM models of the permits package (migration 0013). ORM objects stay inside this package: services
answer the plain records of ``guichet.permits.model``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guichet.store.models import Base


class Attestation(Base):
    """A person's training attestation (accreditation): a named person on a permit needs a valid one."""

    __tablename__ = "training_attestations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    valid_until: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    attested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FeeEstimate(Base):
    """A fee estimate made for an application; the applicant accepts it (or withdraws) before a permit."""

    __tablename__ = "fee_estimates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application: Mapped[str] = mapped_column(String(64), index=True)
    org: Mapped[str] = mapped_column(String(200))
    org_kind: Mapped[str] = mapped_column(String(16))
    schedule: Mapped[str] = mapped_column(String(64))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    total_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(16), index=True)  # proposed accepted withdrawn superseded
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Invoice(Base):
    """An invoice: the accepted estimate when the permit is issued; metered compute later."""

    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # INV-YYYY-NNNN
    application: Mapped[str] = mapped_column(String(64), index=True)
    permit_id: Mapped[str | None] = mapped_column(String(24), index=True)
    estimate_id: Mapped[int | None] = mapped_column(Integer)
    org: Mapped[str] = mapped_column(String(200))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    total_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # issued paid cancelled
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Notification(Base):
    """The outbox: one message to one account, delivered as a file (development) or by SMTP. ``dedupe`` makes
    a scheduler that runs twice write a message once."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    channel: Mapped[str | None] = mapped_column(String(8))  # file smtp
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class JobRun(Base):
    """One run of the scheduler: the day it ran for and what each job changed."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    today: Mapped[date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(String(64))
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Permit(Base):
    """A data permit: its current document (the signed revisions are in ``permit_revisions``) and the dates
    the scheduler acts on."""

    __tablename__ = "permits"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # P-YYYY-NNNN
    application: Mapped[str] = mapped_column(String(64), unique=True)
    org: Mapped[str] = mapped_column(String(200), index=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)  # the applicant account
    state: Mapped[str] = mapped_column(String(16), index=True)  # active expired revoked
    revision: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    extended: Mapped[bool] = mapped_column(default=False)
    issued_by: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[date | None] = mapped_column(Date)  # expired or revoked on
    exclude_until: Mapped[date | None] = mapped_column(Date)  # Art 63: the holder's organisation excluded
    results_due: Mapped[date | None] = mapped_column(Date)  # 18 months after the end
    delete_by: Mapped[date | None] = mapped_column(Date)  # data deleted within 6 months of the end
    keys_shredded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PermitRevision(Base):
    """Each signed revision of a permit (issued, amended, extended, revoked), kept for ever."""

    __tablename__ = "permit_revisions"
    __table_args__ = (UniqueConstraint("permit_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    permit_id: Mapped[str] = mapped_column(String(24), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    key_id: Mapped[str] = mapped_column(String(32))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PermitAmendment(Base):
    """An amendment that widens a permit's scope (a person or a variable added): requested, then applied
    when the steps the configuration requires approved it. Narrowing ones apply at once and need no row."""

    __tablename__ = "permit_amendments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    permit_id: Mapped[str] = mapped_column(String(24), index=True)
    change: Mapped[str] = mapped_column(String(16))  # add_person add_variable
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # pending approved refused
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PermitAppeal(Base):
    """An appeal against a permit's end (its revocation, or its expiry), lodged by its holder: while one is
    pending, the scheduler does not shred the project's keys (migration 0014)."""

    __tablename__ = "permit_appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    permit_id: Mapped[str] = mapped_column(String(24), index=True)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending upheld dismissed
    lodged_by: Mapped[str] = mapped_column(String(64))
    lodged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision: Mapped[str | None] = mapped_column(Text)


class PermitSuspension(Base):
    """An explicit suspension of a permit, decided by an operator or the authority with its reason (after an
    output incident, say): while it is open (``reinstated_at`` null) the permit is ``suspended`` and nobody
    reaches its data. Reinstating closes it, with its own reason (migration 0018)."""

    __tablename__ = "permit_suspensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    permit_id: Mapped[str] = mapped_column(String(24), index=True)
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(200))  # what led to it: "output request R-2026-0001"
    suspended_by: Mapped[str] = mapped_column(String(64))
    suspended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reinstated_by: Mapped[str | None] = mapped_column(String(64))
    reinstated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reinstate_reason: Mapped[str | None] = mapped_column(Text)
