"""ORM models of the workspace package (migration 0015): the log of every session run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guichet.store.models import Base


class SessionRun(Base):
    """One query or script run in a permit's workspace session (or refused before it ran): who, when, the
    code's SHA-256 (never the code), rows returned, the exit, CPU seconds and peak memory — what the permit's
    fees meter and its people and operators read (``guichet workspace history``)."""

    __tablename__ = "workspace_session_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    permit_id: Mapped[str] = mapped_column(String(24), index=True)
    who: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # sql python
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    code_sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int | None] = mapped_column(Integer)
    exit: Mapped[int] = mapped_column(Integer)  # the command's exit: 0, or 2 refused / failed / killed
    outcome: Mapped[str] = mapped_column(String(16))  # ok refused failed killed
    cpu_s: Mapped[float] = mapped_column(Float)
    peak_kb: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)  # the one-line reason of a refusal or failure
