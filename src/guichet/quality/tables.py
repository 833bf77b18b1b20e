"""ORM models of the quality stage (created by migration 0005). ORM objects stay inside this package."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guichet.store.models import Base


class QualityRun(Base):
    """One run of a dataset version's checks, with the aggregates the report and the label need."""

    __tablename__ = "quality_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    rows: Mapped[int] = mapped_column(Integer)
    blocking_failed: Mapped[bool] = mapped_column(Boolean)
    checks: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    label: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QualityResult(Base):
    __tablename__ = "quality_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("quality_runs.id"), index=True)
    check_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    subcategory: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[float] = mapped_column(Float)
    rows_checked: Mapped[int] = mapped_column(Integer)
    rows_failing: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    seconds: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text)
    failing_rows: Mapped[list[int]] = mapped_column(JSON, default=list)  # producer's and operators' view only


class QualityOverride(Base):
    """An operator's decision to publish a held version despite blocking failures, with its reason."""

    __tablename__ = "quality_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    failed_checks: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
