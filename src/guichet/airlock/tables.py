"""ORM models of the airlock's output requests (migration 0017): requests with their turns, the files of each
turn with their checksums and automatic verdicts, the checkers' reviews, releases and recalls, and the
hub-wide differencing ledger. ORM objects stay inside this package."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guichet.store.models import Base


class OutputRequest(Base):
    """A researcher's request to take files out of a permit's workspace. ``groups`` maps each file group to
    its context, controls and the checkers' comment of the last turn."""

    __tablename__ = "airlock_requests"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # R-YYYY-NNNN
    permit: Mapped[str] = mapped_column(String(24), index=True)
    project: Mapped[str] = mapped_column(String(64), index=True)
    org: Mapped[str] = mapped_column(String(200))  # the permit's organisation
    author: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16), index=True)  # checked approved changes rejected released recalled
    turn: Mapped[int] = mapped_column(Integer)
    groups: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    proposed: Mapped[list[str]] = mapped_column(JSON, default=list)  # checkers proposed at random
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)  # the consolidated decision's reasons
    recheck: Mapped[bool] = mapped_column(Boolean, default=False)  # drawn for a later re-check
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str | None] = mapped_column(String(64))


class OutputFile(Base):
    """A file of one turn of a request: its path in ``outputs/``, its group, whether it is an output (released
    when approved) or supporting (never released), its checksum and size, and the automatic verdicts."""

    __tablename__ = "airlock_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request: Mapped[str] = mapped_column(String(24), index=True)
    turn: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1000))
    group: Mapped[str] = mapped_column(String(80))
    supporting: Mapped[bool] = mapped_column(Boolean, default=False)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # the automatic check: pass review fail
    check: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the check's answer, without values
    ledger: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # differencing flags (own cells only)
    released_path: Mapped[str | None] = mapped_column(String(1000))
    released_sha256: Mapped[str | None] = mapped_column(String(64))
    recalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recall_reason: Mapped[str | None] = mapped_column(Text)


class OutputReview(Base):
    """One checker's decision on one file of one turn (``file`` null: the request as a whole is not used; every
    file gets its row). ``override`` marks an approval of a file whose automatic check failed: the reason is
    then the written justification, kept."""

    __tablename__ = "airlock_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request: Mapped[str] = mapped_column(String(24), index=True)
    turn: Mapped[int] = mapped_column(Integer)
    checker: Mapped[str] = mapped_column(String(64), index=True)
    file_id: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))  # approve reject changes
    reason: Mapped[str] = mapped_column(Text)
    override: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerCell(Base):
    """A released cell in the hub-wide differencing ledger: the hub persons behind it, as a sorted array of
    64-bit person keys (``persons``, little-endian), whatever the project. Never shown to a project."""

    __tablename__ = "airlock_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request: Mapped[str] = mapped_column(String(24), index=True)
    project: Mapped[str] = mapped_column(String(64), index=True)
    file_id: Mapped[int] = mapped_column(Integer)
    cell: Mapped[int] = mapped_column(Integer)  # index into the sidecar's cells
    dims: Mapped[str] = mapped_column(String(400), index=True)  # the table's dimensions, sorted, joined by '|'
    label: Mapped[str] = mapped_column(String(400))  # the cell's key along its dimensions and statistic
    count: Mapped[int] = mapped_column(Integer, index=True)  # the ledger's size windows (migration 0019)
    persons: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recalled: Mapped[bool] = mapped_column(Boolean, default=False)


class OutputRecheck(Base):
    """A later re-check of an approved request drawn for the sample (``OutputRequest.recheck``): an independent
    checker's verdict, ``confirmed`` or ``concern`` with a reason (migration 0018). A concern tells the
    operator."""

    __tablename__ = "airlock_rechecks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request: Mapped[str] = mapped_column(String(24), index=True)
    checker: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))  # confirmed concern
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
