"""The state machine of a statistics request (pure: no database).

submitted → committee (where the hub's ``stats_committee`` property is true) → accepted | refused;
accepted → review | released (``stats_auto_release`` and every table passing) | refused (nothing releasable);
review → released | refused (the checker), or review again (the answer recomputed).
"""

from __future__ import annotations

from guichet.errors import Refused

STATES = ("submitted", "committee", "accepted", "refused", "review", "released")
# (state, step) -> the states it may lead to
TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("submitted", "assess"): ("committee", "accepted", "refused"),
    ("committee", "assess"): ("accepted", "refused"),
    ("accepted", "answer"): ("review", "released", "refused"),
    ("review", "answer"): ("review", "released", "refused"),
    ("review", "review"): ("released", "refused"),
}
FINAL = ("refused", "released")


def next_state(state: str, step: str, outcome: str) -> str:
    """The state ``step`` leads to from ``state`` with ``outcome`` (Refused when the step is not allowed there)."""
    allowed = TRANSITIONS.get((state, step))
    if allowed is None:
        raise Refused(f"a statistics request that is {state} cannot be {step}ed")
    if outcome not in allowed:
        raise Refused(f"a statistics request that is {state} cannot become {outcome}")
    return outcome
