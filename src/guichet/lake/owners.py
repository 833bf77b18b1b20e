"""Who a dataset belongs to, and the identifier columns it keeps.

A dataset belongs to the producer that first deposited it, or to the one an operator assigned it to
(``guichet lake assign``). Every route that writes a version — ``deposit run`` with or without a manifest,
the portal's uploads, an operator's deposit — goes through ``check_writer``: another producer is refused,
and an operator may deposit only in the owner's name (the audit event records who did). The identifier
columns (``psa``/``ano`` pseudonyms, quasi-identifiers) declared by the first deposit stay with the dataset:
a later delivery that omits them inherits them, and one that declares them otherwise is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.actor import Actor
from guichet.errors import BadInput, NotFound, Refused
from guichet.lake.producers import producers_of
from guichet.lake.tables import LakeDataset, Producer

WRITERS_BY_ROLE = frozenset({"operator", "system"})


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    producer: str
    identifiers: dict[str, dict[str, Any]] = field(default_factory=dict)
    assigned_by: str | None = None


def entry_in(session: Session, dataset: str) -> DatasetEntry | None:
    row = session.get(LakeDataset, dataset)
    if row is None:
        return None
    return DatasetEntry(row.name, row.producer, dict(row.identifiers or {}), row.assigned_by)


def writer_producer(session: Session, actor: Actor, dataset: str, named: str | None) -> str:
    """The producer a deposit to ``dataset`` is made for, checked against the dataset's owner and the actor.

    ``named`` is the producer the request names (``--producer``, the manifest's ``producer``), or None: then
    the dataset's owner for an operator, or the actor's organisation's only producer."""
    entry = entry_in(session, dataset)
    staff = bool(actor.roles & WRITERS_BY_ROLE)
    producer = named or (entry.producer if entry is not None and staff else _only_producer(session, actor))
    row = session.execute(select(Producer).where(Producer.name == producer)).scalar_one_or_none()
    if row is None:
        raise Refused(f"producer {producer} is not registered (guichet producer add {producer} --org ORG)")
    if not staff and actor.org != row.org:
        raise Refused(f"deposit: {actor.username} does not act for producer {producer}")
    if entry is not None and entry.producer != producer:
        raise Refused(f"dataset {dataset} belongs to another producer; {actor.username} may not deposit to it "
                      "(an operator can assign it: guichet lake assign)")
    return producer


def _only_producer(session: Session, actor: Actor) -> str:
    mine = sorted(producers_of(session, actor))
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise Refused(f"deposit: name the producer (--producer, or the manifest's producer); {actor.username}'s "
                      "organisation is not a registered producer")
    raise BadInput(f"deposit: {actor.username} acts for {', '.join(mine)}; name one (--producer)")


def merged_identifiers(entry: DatasetEntry | None, declared: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The roles a deposit applies: the dataset's known ones, plus what this deposit declares anew."""
    known = dict(entry.identifiers) if entry is not None else {}
    for column, role in declared.items():
        had = known.get(column)
        if had is not None and had.get("kind") != role.get("kind"):
            raise Refused(f"identifier {column}: the dataset declares it as {had.get('kind')}, this delivery as "
                          f"{role.get('kind')}; an operator must change the dataset's identifiers")
    return {**known, **declared}


def record(session: Session, dataset: str, producer: str, identifiers: dict[str, dict[str, Any]]) -> None:
    """Create the dataset's entry at its first deposit, or add newly declared identifier columns."""
    now = datetime.now(UTC)
    row = session.get(LakeDataset, dataset)
    if row is not None and row.producer != producer:
        raise Refused(f"dataset {dataset} belongs to another producer")
    if row is None:
        session.add(LakeDataset(name=dataset, producer=producer, identifiers=dict(identifiers), assigned_by=None,
                                created_at=now, updated_at=now))
    elif identifiers != dict(row.identifiers or {}):
        row.identifiers = {**dict(row.identifiers or {}), **identifiers}
        row.updated_at = now


def assign(session: Session, dataset: str, producer: str, by: str) -> DatasetEntry:
    """An operator gives a dataset to a producer (it then deposits its versions)."""
    if session.execute(select(Producer.id).where(Producer.name == producer)).first() is None:
        raise NotFound(f"producer {producer} is not registered")
    row = session.get(LakeDataset, dataset)
    now = datetime.now(UTC)
    if row is None:
        row = LakeDataset(name=dataset, producer=producer, identifiers={}, assigned_by=by, created_at=now,
                          updated_at=now)
        session.add(row)
    else:
        row.producer, row.assigned_by, row.updated_at = producer, by, now
    return DatasetEntry(row.name, row.producer, dict(row.identifiers or {}), row.assigned_by)


def owned_by(session: Session, producers: set[str]) -> set[str]:
    return set(session.execute(select(LakeDataset.name).where(LakeDataset.producer.in_(sorted(producers)))).scalars())
