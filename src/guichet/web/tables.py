"""The web portal's tables: server-side session records and login attempts (for rate limiting).

A session cookie carries a random session secret, signed; only its SHA-256 is stored here, so a copy of
the database does not let anyone sign in. Login attempts store a keyed hash of the client address, never
the address itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from guichet.store.models import Base


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the session secret
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    __tablename__ = "web_login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client: Mapped[str] = mapped_column(String(64))  # HMAC of the client address with the hub's key
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stage: Mapped[str] = mapped_column(String(16))  # "password" | "totp"
    succeeded: Mapped[bool] = mapped_column(Boolean)


Index("ix_web_login_attempts_client_at", LoginAttempt.client, LoginAttempt.at)


def revoke_user_sessions(session: Session, user_id: int, now: datetime) -> int:
    """End every open portal session of an account (called when the account is disabled)."""
    rows = session.execute(select(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None)))
    count = 0
    for row in rows.scalars():
        row.revoked_at = now
        count += 1
    return count
