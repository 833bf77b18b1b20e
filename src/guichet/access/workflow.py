"""The applications' state machine and its configuration: states, the transitions each step allows, the
durations of the steps and the holiday calendar (hub properties ``access_*``, docs/settings.md).

The default workflow is the SNDS procedure: completeness check by an operator -> scientific opinion ->
authority decision. A hub may leave out the completeness check or the opinion (``access_steps``); the
decision is always there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from guichet.access.clocks import Calendar, Duration, parse_duration
from guichet.errors import BadInput

STATES: tuple[str, ...] = ("draft", "submitted", "incomplete", "under_review", "revise", "opinion",
                           "authorised", "refused", "withdrawn", "lapsed")
FINAL: frozenset[str] = frozenset({"authorised", "refused", "withdrawn", "lapsed"})
# States where the applicant must answer (the running step's clock is stopped meanwhile).
WAITING_FOR_APPLICANT: frozenset[str] = frozenset({"incomplete", "revise"})
STEPS: tuple[str, ...] = ("completeness", "opinion", "decision")
DEFAULT_STEPS: tuple[str, ...] = STEPS
OUTCOMES: tuple[str, ...] = ("favourable", "unfavourable", "revise")
PANELS: dict[str, bool] = {"scientific": True, "citizens": False}  # panel -> its opinion is binding
SECTIONS: tuple[str, ...] = ("title", "investigator", "data_users", "purpose", "public_interest", "expected_benefit",
                             "data", "criteria", "identification", "safeguards", "duration_months", "resources",
                             "ethics", "optout_exception", "brought_datasets", "public_summary")

DEFAULT_DURATIONS: dict[str, str] = {
    "completeness": "7 working days",
    "opinion": "1 month",
    "decision": "2 months",
    "answer": "4 weeks",  # the applicant's time to complete or revise, then the application lapses
    "extension": "2 months",  # the one extension of the decision's due date
}


def today() -> date:
    """The date clocks count from (UTC). Tests move it."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Workflow:
    steps: tuple[str, ...]
    durations: dict[str, Duration]
    calendar: Calendar

    def first_state(self) -> str:
        """Where a submitted application goes."""
        if "completeness" in self.steps:
            return "submitted"
        return "under_review"

    def first_step(self) -> str:
        return "completeness" if "completeness" in self.steps else self.after_completeness()

    def after_completeness(self) -> str:
        return "opinion" if "opinion" in self.steps else "decision"

    def decision_state(self) -> str:
        """The state in which the authority decides."""
        return "opinion" if "opinion" in self.steps else "under_review"


def workflow(properties: Mapping[str, Any]) -> Workflow:
    """The workflow a hub's properties configure (defaults: docs/access.md)."""
    raw_steps = properties.get("access_steps", list(DEFAULT_STEPS))
    if not isinstance(raw_steps, list | tuple) or any(s not in STEPS for s in raw_steps) or "decision" not in raw_steps:
        raise BadInput(f"access_steps: a list of steps among {', '.join(STEPS)}, with decision")
    steps = tuple(s for s in STEPS if s in raw_steps)
    durations = {name: parse_duration(properties.get(f"access_{name}", text), f"access_{name}")
                 for name, text in DEFAULT_DURATIONS.items()}
    extra = properties.get("access_extra_holidays", [])
    try:
        extra_days = frozenset(date.fromisoformat(str(d)) for d in extra)
    except (TypeError, ValueError):
        raise BadInput("access_extra_holidays: a list of dates (YYYY-MM-DD)") from None
    return Workflow(steps, durations, Calendar(str(properties.get("access_holidays", "FR")), extra_days))


# (state, step) -> the state it leads to; what the property tests check every call against.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "answer"): "draft",
    ("draft", "submit"): "submitted|under_review",
    ("submitted", "complete"): "under_review",
    ("submitted", "incomplete"): "incomplete",
    ("incomplete", "answer"): "submitted",
    ("under_review", "favourable"): "opinion",
    ("under_review", "unfavourable"): "opinion",
    ("under_review", "revise"): "revise",
    ("revise", "answer"): "under_review",
    ("opinion", "authorise"): "authorised",
    ("opinion", "refuse"): "refused",
    ("under_review", "authorise"): "authorised",  # only in a workflow without the opinion step
    ("under_review", "refuse"): "refused",
    ("incomplete", "lapse"): "lapsed",
    ("revise", "lapse"): "lapsed",
    **{(s, "withdraw"): "withdrawn" for s in STATES if s not in FINAL},
}
