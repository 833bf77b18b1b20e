"""A permit's state and who may reach its data, on a day: what extracts, sessions and the airlock ask."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.errors import NotFound
from guichet.permits.accreditation import attestation_valid
from guichet.permits.tables import Permit, PermitAppeal, PermitSuspension

STATES = ("pending", "active", "suspended", "expired", "revoked")


def effective_state(session: Session, permit: Permit, today: date) -> str:
    """The permit's state on ``today``: ``revoked``; ``expired`` (past its last day); ``suspended`` by a decision
    (``open_suspension``); ``pending`` (issued, not in force before its first day, ``valid_from``);
    ``suspended`` (none of its named people holds a valid training attestation); else ``active``. Only
    ``active`` opens access to the data."""
    if permit.state == "revoked":
        return "revoked"
    if permit.state == "expired" or permit.valid_until < today:
        return "expired"
    if open_suspension(session, permit.id) is not None:
        return "suspended"
    if not in_force(permit, today):  # past its last day was answered above: before its first day
        return "pending"
    if not any(attestation_valid(session, p["name"], today) for p in permit.document.get("people", [])):
        return "suspended"
    return "active"


def open_suspension(session: Session, permit_id: str) -> PermitSuspension | None:
    """The permit's explicit suspension still in force (an operator's or the authority's decision), if any."""
    return session.execute(select(PermitSuspension).where(PermitSuspension.permit_id == permit_id,
                                                          PermitSuspension.reinstated_at.is_(None))
                           .order_by(PermitSuspension.id)).scalars().first()


def in_force(permit: Permit, today: date) -> bool:
    """Is the permit within its validity on ``today`` (from its first day to its last, whatever its state)?"""
    return permit.valid_from <= today <= permit.valid_until


def person_has_access(session: Session, permit: Permit, username: str, today: date) -> bool:
    """May this person reach the permit's data today? Named, the permit active (in force: not ``pending``,
    nor suspended, expired or revoked), their attestation valid."""
    named = any(p.get("name") == username for p in permit.document.get("people", []))
    return named and effective_state(session, permit, today) == "active" and attestation_valid(session, username, today)


def permit_scope(session: Session, permit_id: str, today: date) -> dict[str, Any]:
    """What a permit grants on a day — extracts, sessions and the airlock read this and nothing else: its
    current document, its state and the people whose access is open."""
    permit = session.get(Permit, permit_id)
    if permit is None:
        raise NotFound(f"no permit {permit_id}")
    state = effective_state(session, permit, today)
    people = [p["name"] for p in permit.document.get("people", []) if person_has_access(session, permit, p["name"], today)]
    return {"permit": permit.id, "state": state, "document": dict(permit.document), "people": people}


def appeal_holds_keys(session: Session, permit_id: str) -> bool:
    """Does an appeal keep this permit's keys? One pending, or one upheld (the keys stay while the authority
    acts on the decision: reinstating a permit is not built yet)."""
    return session.execute(select(PermitAppeal.id).where(PermitAppeal.permit_id == permit_id,
                                                         PermitAppeal.state.in_(("pending", "upheld")))
                           ).first() is not None


def pending_appeal(session: Session, permit_id: str) -> bool:
    return session.execute(select(PermitAppeal.id).where(PermitAppeal.permit_id == permit_id,
                                                         PermitAppeal.state == "pending")).first() is not None
