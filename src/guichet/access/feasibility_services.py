"""The feasibility count as a governed service (action ``application.feasibility``).

Stable signature (the application's CLI, API and pages call it)::

    feasibility(hub, actor, *, criteria: dict, application: str | int | None = None) -> Feasibility

``criteria`` is a criteria document (``access/schemas/criteria.schema.json``); ``application`` the id of the
application it belongs to, when there is one (it only names the audit event's object: whether ``actor`` may
count for that application is the caller's rule). Answers ``Feasibility(persons, shown)`` —
``persons`` a multiple of 10 or None ("fewer than 11"). Raises ``BadInput`` (invalid criteria: every problem
with its JSON path), ``Refused`` (no role, or the account's daily budget is spent: audited), ``NotFound``
(no person index yet). Every count is audited (kind ``read_personal``) with the criteria's fingerprint and
what was shown — never the exact count.
"""

from __future__ import annotations

from typing import Any

from guichet.access.criteria import canonical, count_persons, fingerprint, require_valid
from guichet.access.feasibility import Feasibility, noise_key, noise_seed, perturb, settings, used_today
from guichet.errors import Refused
from guichet.governance import Unit, query

__all__ = ["Feasibility", "feasibility"]


@query("application.feasibility")
def feasibility(unit: Unit, *, criteria: dict[str, Any], application: str | int | None = None) -> Feasibility:
    """How many persons ``criteria`` selects on the published data: noisy, rounded up to a multiple of 10,
    "fewer than 11" below 11; within the account's daily budget."""
    budget, scale = settings(unit.hub.config.properties)
    used = used_today(unit.session, unit.actor.username)
    unit.note(obj=f"application:{application}" if application else "criteria")
    if used >= budget:
        raise Refused(f"feasibility: the daily budget of {budget} counts is spent for this account; "
                      "it renews at midnight UTC")
    require_valid(unit.hub, criteria)
    text = canonical(criteria)
    result = perturb(count_persons(unit.hub, criteria), noise_seed(noise_key(unit.hub.secret_key()), text), scale)
    unit.note(criteria=fingerprint(text), shown=result.persons if result.persons is not None else "suppressed",
              budget_left=budget - used - 1)
    unit.at_audit.append(lambda session: _within_budget(session, unit.actor.username, budget))
    return result


def _within_budget(session: Any, username: str, budget: int) -> None:
    """Counted again under the audit chain's lock: of counts asked side by side, those past the budget are
    withheld (and audited as refused)."""
    if used_today(session, username) >= budget:
        raise Refused(f"feasibility: the daily budget of {budget} counts is spent for this account; "
                      "it renews at midnight UTC")
