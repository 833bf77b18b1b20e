"""ORM models of the producers' channel. ORM objects stay inside this package."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from guichet.store.models import Base


class Upload(Base):
    """A producer's resumable upload of one delivery file, then its deposit and receipt."""

    __tablename__ = "catalogue_uploads"  # named when the catalogue held the producers' channel (migration 0007)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    producer: Mapped[str] = mapped_column(String(64), index=True)
    username: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(128))
    product_id: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(BigInteger)  # deliveries may pass 2 GiB
    sha256: Mapped[str] = mapped_column(String(64))
    chunk_size: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open received deposited failed cancelled
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # mode, identifiers, delimiter
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
