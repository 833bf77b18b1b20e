"""ORM models of linkage's metadata (migration 0006): person-index versions, merge/split events, the
clerical-review queue. Pseudonyms and person ids of pairs live in the encrypted files, never in audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from guichet.store.models import Base


class LinkageRun(Base):
    __tablename__ = "linkage_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    origin: Mapped[str] = mapped_column(String(400))
    persons: Mapped[int] = mapped_column(Integer)
    next_number: Mapped[int] = mapped_column(Integer)
    folder: Mapped[str] = mapped_column(String(400))
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LinkageEvent(Base):
    __tablename__ = "linkage_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[str] = mapped_column(String(16), index=True)
    other: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewPair(Base):
    __tablename__ = "linkage_review"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, index=True)
    cert_table: Mapped[str] = mapped_column(String(200))
    cert_row: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[str] = mapped_column(String(16))
    probability: Mapped[float] = mapped_column(Float)
    calibrated: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(String(400))
    why: Mapped[str | None] = mapped_column(String(16))  # band (uncertain) | calibration (sample of a bin)


Index("ix_linkage_review_pair", ReviewPair.cert_table, ReviewPair.cert_row, ReviewPair.person_id)
