"""Quality's gate on the lake: a committed version is published only without a blocking failure.

Registered with ``guichet.lake.gates`` (listed in its ``GATE_MODULES``); the deposit asks the lake's gates,
never this module, so that neither stage imports the other.
"""

from __future__ import annotations

from guichet.actor import Actor
from guichet.hub import Hub
from guichet.lake.gates import GateVerdict, register_gate
from guichet.quality.services import run_quality


def check_version(hub: Hub, actor: Actor, dataset: str, version: int) -> GateVerdict:
    """Run (and store) a version's checks; hold it on a blocking failure."""
    if not bool(hub.config.properties.get("quality_gate", True)):
        return GateVerdict("quality", True, "quality gate turned off (quality_gate = false)")
    outcome, _label = run_quality(hub, actor, dataset=dataset, version=version)
    if outcome.blocking_failed:
        failed = [r.id for r in outcome.failed if r.severity == "blocking"]
        return GateVerdict("quality", False, f"blocking quality failure(s): {', '.join(failed[:10])}")
    return GateVerdict("quality", True, "no blocking quality failure")


register_gate("quality", check_version)
