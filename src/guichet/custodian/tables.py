"""ORM models of the custodian's tables in the hub's metadata store (migration 0002).

The hub stores wrapped data keys (never a key), and the opt-out register (hub pseudonyms, never a NIR).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guichet.store.models import Base


class WrappedDataKey(Base):
    __tablename__ = "data_keys"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(80), index=False)
    wrapped: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


Index("ix_data_keys_purpose", WrappedDataKey.purpose)


class OptOut(Base):
    __tablename__ = "optouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(40))
    recorded_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(16))
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    # "objection" (Art 71: left out of extracts) or "no-findings" (Arts 58, 61: not to be informed of
    # significant findings); both held the same way, hub pseudonyms only (migration 0016)
    kind: Mapped[str] = mapped_column(String(16), default="objection", server_default="objection")


class OptOutPseudonym(Base):
    __tablename__ = "optout_pseudonyms"

    optout_id: Mapped[int] = mapped_column(ForeignKey("optouts.id"), primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(17), primary_key=True)


Index("ix_optout_pseudonyms_pseudonym", OptOutPseudonym.pseudonym)


class RateHit(Base):
    """One call of a rate-limited public form (migration 0016): shared by every worker, so that the limit
    holds however many processes serve the portal. ``client`` is a keyed hash of the client's address,
    never the address; rows older than the window are deleted as calls come."""

    __tablename__ = "rate_hits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(32))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


Index("ix_rate_hits_bucket_client", RateHit.bucket, RateHit.client)
