"""Accreditation: a named person on a permit must hold a valid training attestation. An expired attestation
suspends that person's access only (the permit and the other people's access go on)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guichet.permits.tables import Attestation


def attested_until(session: Session, username: str) -> date | None:
    """The last day of the person's latest-ending training attestation (None when they never had one)."""
    value = session.execute(select(func.max(Attestation.valid_until)).where(Attestation.username == username)).scalar()
    return value


def attestation_valid(session: Session, username: str, on: date) -> bool:
    """Does the person hold a training attestation valid on ``on`` (its last day included)?"""
    until = attested_until(session, username)
    return until is not None and on <= until
