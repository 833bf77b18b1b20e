"""Appending to the audit log inside the caller's transaction, serialised on every database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.actor import Actor
from guichet.audit.chain import GENESIS, EventFields, canonical_json, event_hash
from guichet.audit.guard import check_details, check_free_text
from guichet.store.models import AuditEvent, AuditHead


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def lock_head(session: Session) -> AuditHead:
    """Lock the chain's head for this write transaction (appends are serialised by it); answers it."""
    # SQLite write transactions already hold the database's write lock (BEGIN IMMEDIATE);
    # on PostgreSQL the row lock serialises appends across processes.
    stmt = select(AuditHead).where(AuditHead.id == 1)
    if session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    head = session.execute(stmt).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def append_event(
    session: Session,
    actor: Actor,
    action: str,
    *,
    obj: str | None = None,
    outcome: str = "ok",
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> EventFields:
    """Add one event to the chain in ``session``'s transaction; it is durable when that commits."""
    check_free_text(reason)
    check_details(details or {})
    head = lock_head(session)
    fields = EventFields(
        seq=head.seq + 1,
        event_id=str(uuid.uuid4()),
        at=utc_now_iso(),
        actor=actor.username,
        token_id=actor.token_id,
        os_user=actor.os_user,
        channel=actor.channel,
        action=action,
        object=obj,
        outcome=outcome,
        reason=reason,
        details=canonical_json(dict(details or {})),
    )
    digest = event_hash(head.hash, fields)
    session.add(AuditEvent(**fields.to_dict(), prev_hash=head.hash, hash=digest))
    head.seq, head.hash = fields.seq, digest
    session.flush()
    return fields


def row_fields(row: AuditEvent) -> EventFields:
    return EventFields(
        seq=row.seq,
        event_id=row.event_id,
        at=row.at,
        actor=row.actor,
        token_id=row.token_id,
        os_user=row.os_user,
        channel=row.channel,
        action=row.action,
        object=row.object,
        outcome=row.outcome,
        reason=row.reason,
        details=row.details,
    )


def read_events(session: Session, after_seq: int = 0, batch: int = 5000) -> Iterator[AuditEvent]:
    """Events in ``seq`` order, streamed in batches (the log may be long)."""
    last = after_seq
    while True:
        rows = list(
            session.execute(select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)).scalars()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
