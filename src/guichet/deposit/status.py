"""A version's status, and the one function that changes it after the deposit (quality gate, policy,
operator override, retraction).

``pending`` → ``published`` | ``held`` | ``rejected`` | ``rolled_back`` at the end of a deposit;
``held`` → ``published`` (fixed or overridden) or ``rejected``; ``published`` → ``held`` (retracted).
Every other change is refused: a rolled-back or rejected version never comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.deposit.tables import DatasetVersion
from guichet.errors import Conflict, NotFound

ALLOWED = {
    ("pending", "published"), ("pending", "held"), ("pending", "rejected"), ("pending", "rolled_back"),
    ("held", "published"), ("held", "rejected"), ("published", "held"),
}
DEFAULT_ACTION = "held"


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


@dataclass(frozen=True)
class QuarantinePolicy:
    """The hub's maximum quarantine rate for a dataset (none by default) and what exceeding it does."""

    max_rate: float | None = None
    action: str = DEFAULT_ACTION  # held (an operator may publish it) | rejected (deposit again)

    def verdict(self, rows_in: int, rows_quarantined: int) -> str | None:
        """``held`` or ``rejected`` when the rate is exceeded, else None."""
        if self.max_rate is None or rows_in == 0:
            return None
        return self.action if rows_quarantined / rows_in > self.max_rate else None


def quarantine_policy(properties: dict[str, Any], dataset: str) -> QuarantinePolicy:
    """From ``guichet.toml``'s ``[properties]``: ``max_quarantine_rate`` is a share (0.05) for every
    dataset, or a table of them by dataset (``"*"`` for the others); ``quarantine_rate_action`` is
    ``held`` (default) or ``rejected``."""
    raw = properties.get("max_quarantine_rate")
    if isinstance(raw, dict):
        raw = raw.get(dataset, raw.get("*"))
    action = str(properties.get("quarantine_rate_action", DEFAULT_ACTION))
    if action not in ("held", "rejected"):
        raise Conflict(f"guichet.toml: quarantine_rate_action must be held or rejected, not {action!r}")
    if raw is None:
        return QuarantinePolicy(None, action)
    rate = float(raw)
    if not 0 <= rate <= 1:
        raise Conflict(f"guichet.toml: max_quarantine_rate for {dataset} must be between 0 and 1")
    return QuarantinePolicy(rate, action)
