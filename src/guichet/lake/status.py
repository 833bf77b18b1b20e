"""A version's status, and the one function that changes it after it is written (gates, policy, operator
override, retraction).

``pending`` → ``published`` | ``held`` | ``rejected`` | ``rolled_back`` at the end of a deposit;
``held`` → ``published`` (fixed or overridden) or ``rejected``; ``published`` → ``held`` (retracted).
Every other change is refused: a rolled-back or rejected version never comes back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.errors import Conflict, NotFound
from guichet.lake.tables import DatasetVersion

ALLOWED = {
    ("pending", "published"), ("pending", "held"), ("pending", "rejected"), ("pending", "rolled_back"),
    ("held", "published"), ("held", "rejected"), ("published", "held"),
}


def change_status(session: Session, dataset: str, version: int, to: str, *, why: str,
                  expected: tuple[str, ...] | None = None) -> DatasetVersion:
    """Move a version to ``to`` (in the caller's transaction), recording why in its lineage."""
    row = session.execute(select(DatasetVersion).where(DatasetVersion.dataset == dataset,
                                                       DatasetVersion.version == version)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"dataset {dataset}: no version {version}")
    if expected is not None and row.status not in expected:
        raise Conflict(f"dataset {dataset} version {version} is {row.status}, not {' or '.join(expected)}")
    if (row.status, to) not in ALLOWED:
        raise Conflict(f"dataset {dataset} version {version}: {row.status} cannot become {to}")
    history = list((row.lineage or {}).get("status_history", []))
    history.append({"from": row.status, "to": to, "why": why})
    row.lineage = {**(row.lineage or {}), "status_history": history}
    row.status = to
    return row


def note_status(session: Session, dataset: str, version: int, why: str) -> None:
    """Record why a version keeps its status (a gate that held it), in its status history."""
    row = session.execute(select(DatasetVersion).where(DatasetVersion.dataset == dataset,
                                                       DatasetVersion.version == version)).scalar_one()
    history = [*(row.lineage or {}).get("status_history", []), {"from": row.status, "to": row.status, "why": why}]
    row.lineage = {**(row.lineage or {}), "status_history": history}
