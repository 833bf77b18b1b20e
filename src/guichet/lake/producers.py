"""Registered producers as the lake knows them: who may write and read which datasets."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.actor import Actor
from guichet.lake.tables import Producer

STAFF = frozenset({"operator", "auditor", "system"})


def producers_of(session: Session, actor: Actor) -> set[str]:
    """The registered producers an account acts for (those of its organisation)."""
    if not actor.org:
        return set()
    return set(session.execute(select(Producer.name).where(Producer.org == actor.org)).scalars())
