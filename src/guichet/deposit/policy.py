"""The hub's quarantine-rate policy: what a deposit whose share of quarantined rows is too high becomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guichet.errors import Conflict

DEFAULT_ACTION = "held"


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
