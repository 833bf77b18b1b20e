"""Quality ("mise en qualité"): checks on every deposit, across tables and over time; reports producers can
read; a quality label (EHDS Art 78); publication held on blocking failures.

``gate(hub, actor, dataset, version)`` is what the deposit pipeline calls before publishing: it runs and
stores the version's checks and answers ``.blocking_failed``; a version with a blocking failure is then
left ``held`` until fixed or overridden (``guichet quality override``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import guichet.governance  # noqa: F401 - first: the audit and governance packages import each other
from guichet.governance.actors import Actor
from guichet.hub import Hub
from guichet.quality.model import Check, CheckResult, RunOutcome


@dataclass(frozen=True)
class GateResult:
    dataset: str
    version: int
    blocking_failed: bool
    outcome: RunOutcome
    label: dict[str, Any]

    @property
    def status(self) -> str:
        return "held" if self.blocking_failed else "published"


def gate(hub: Hub, actor: Actor, dataset: str, version: int) -> GateResult:
    """Run (and store) a version's checks; the caller holds the version when ``blocking_failed``."""
    from guichet.quality.services import run_quality

    outcome, label = run_quality(hub, actor, dataset=dataset, version=version)
    return GateResult(dataset, outcome.version, outcome.blocking_failed, outcome, label)


__all__ = ["Check", "CheckResult", "GateResult", "RunOutcome", "gate"]
