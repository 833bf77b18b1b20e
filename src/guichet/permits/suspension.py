"""A permit's explicit suspension: an operator's or the authority's decision, with its reason, that closes
access to the permit's data until it is reinstated (``permits.state.effective_state`` answers ``suspended``
while one is open). The services ``permit.suspend`` and ``permit.reinstate`` call these; so does the
airlock's recall with ``--suspend``, in its own transaction (it authorizes ``permit.suspend`` first and
writes that action's audit event beside its own)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from guichet.errors import Refused
from guichet.permits import outbox
from guichet.permits.state import open_suspension
from guichet.permits.tables import Permit, PermitSuspension


def suspension_info(row: PermitSuspension | None) -> dict[str, Any] | None:
    if row is None:
        return None
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {"id": row.id, "permit": row.permit_id, "reason": row.reason, "source": row.source,
            "suspended_by": row.suspended_by, "suspended_at": iso(row.suspended_at),
            "reinstated_by": row.reinstated_by, "reinstated_at": iso(row.reinstated_at),
            "reinstate_reason": row.reinstate_reason}


def suspend_permit(session: Session, permit: Permit, by: str, reason: str, now: datetime,
                   source: str | None = None) -> PermitSuspension:
    """Open a suspension (refused when the permit has ended or is already suspended); the holder is told."""
    if permit.state in ("revoked", "expired") or permit.valid_until < now.date():
        raise Refused(f"permit {permit.id} has ended: there is nothing to suspend")
    if open_suspension(session, permit.id) is not None:
        raise Refused(f"permit {permit.id} is already suspended")
    row = PermitSuspension(permit_id=permit.id, reason=reason, source=source, suspended_by=by, suspended_at=now)
    session.add(row)
    session.flush()
    outbox.queue(session, dedupe=f"permit-suspended:{permit.id}:{row.id}", recipient=permit.owner,
                 subject=f"Permit {permit.id} suspended",
                 body=f"Permit {permit.id} is suspended: {reason} Nobody can reach its data until it is reinstated.",
                 now=now)
    return row


def reinstate_permit(session: Session, permit: Permit, by: str, reason: str, now: datetime) -> PermitSuspension:
    """Close the open suspension; the holder is told."""
    row = open_suspension(session, permit.id)
    if row is None:
        raise Refused(f"permit {permit.id} is not suspended by a decision: there is nothing to reinstate")
    row.reinstated_by, row.reinstated_at, row.reinstate_reason = by, now, reason
    session.flush()
    outbox.queue(session, dedupe=f"permit-reinstated:{permit.id}:{row.id}", recipient=permit.owner,
                 subject=f"Permit {permit.id} reinstated", body=f"Permit {permit.id} is reinstated: {reason}", now=now)
    return row
