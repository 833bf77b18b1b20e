"""Feasibility counts: how many persons a criteria selects, shown so that small groups cannot be learnt.

The method (``docs/access.md``, "Feasibility counts"):

1. the exact count of distinct persons (``criteria.count_persons``, on the published data);
2. below ``THRESHOLD`` (11) the answer is "fewer than 11", with no number;
3. otherwise noise is added: a discrete Laplace (two-sided geometric) variable of scale ``scale`` (a hub
   property, default 5), drawn from a generator *seeded* by HMAC-SHA256 of the criteria's canonical form
   under a key derived from the hub's secret — the same criteria always get the same noise, so repeating a
   question teaches nothing, and no one without the hub's secret can predict or remove it;
4. the noisy count is rounded *up* to the next multiple of ``ROUND`` (10); a noisy count below the
   threshold is also shown as "fewer than 11";
5. each account has a daily budget of counts (a hub property, default 50), counted from the audit trail.

Pure functions here (noise, rounding, suppression, the budget's arithmetic); the governed entry point is
``feasibility_services.feasibility``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guichet.errors import BadInput

ACTION = "application.feasibility"
THRESHOLD = 11  # counts below this are never shown
ROUND = 10  # shown counts are multiples of this, rounded up
DEFAULT_SCALE = 5.0  # the discrete Laplace's scale b: P(noise = k) ∝ exp(-|k| / b)
DEFAULT_BUDGET = 50  # counts per account per day (UTC)
CLAMP = 20  # noise never exceeds CLAMP scales (probability exp(-20) ≈ 2e-9 per side: no effect but a bound)
SUPPRESSED = f"fewer than {THRESHOLD}"
BUDGET_PROPERTY = "feasibility_daily_budget"
SCALE_PROPERTY = "feasibility_noise_scale"
_CONTEXT = b"guichet/access/feasibility-noise/v1"


@dataclass(frozen=True)
class Feasibility:
    """What an applicant is shown: ``persons`` (a multiple of 10, or None when fewer than 11) and the text."""

    persons: int | None
    shown: str

    def to_dict(self) -> dict[str, Any]:
        return {"persons": self.persons, "shown": self.shown}


def noise_key(hub_secret: bytes) -> bytes:
    """The noise's own key, derived from the hub's secret (never the secret itself)."""
    return hmac.new(hub_secret, _CONTEXT, hashlib.sha256).digest()


def noise_seed(key: bytes, canonical_text: str) -> bytes:
    """HMAC-SHA256 of the canonical form: the same criteria give the same seed, under this hub's key only."""
    return hmac.new(key, canonical_text.encode("utf-8"), hashlib.sha256).digest()


def _uniform(seed: bytes, part: int) -> float:
    """A uniform number in (0, 1) from 8 bytes of the seed (never 0 nor 1)."""
    value = int.from_bytes(seed[8 * part: 8 * part + 8], "big")
    return (value + 0.5) / 2.0 ** 64


def discrete_laplace(seed: bytes, scale: float) -> int:
    """A two-sided geometric variable (the difference of two geometric ones) of scale ``scale``:
    P(X = k) = (1 − a) / (1 + a) · a^|k| with a = exp(−1/scale); drawn by inversion from the seed."""
    if scale <= 0:
        return 0
    a = math.exp(-1.0 / scale)
    draws = [math.floor(math.log(_uniform(seed, i)) / math.log(a)) for i in (0, 1)]
    limit = int(CLAMP * scale)
    return max(-limit, min(limit, draws[0] - draws[1]))


def round_up(value: int) -> int:
    """The next multiple of ``ROUND`` at or above ``value``."""
    return -(-value // ROUND) * ROUND


def perturb(true_count: int, seed: bytes, scale: float = DEFAULT_SCALE) -> Feasibility:
    """What is shown for an exact count: suppressed below the threshold, else noisy and rounded up."""
    if true_count < THRESHOLD:
        return Feasibility(None, SUPPRESSED)
    noisy = true_count + discrete_laplace(seed, scale)
    if noisy < THRESHOLD:
        return Feasibility(None, SUPPRESSED)
    shown = round_up(noisy)
    return Feasibility(shown, f"about {shown:,} persons (noisy, rounded up to a multiple of {ROUND})")


def settings(properties: dict[str, Any]) -> tuple[int, float]:
    """(daily budget, noise scale) from the hub's properties, checked."""
    try:
        budget = int(properties.get(BUDGET_PROPERTY, DEFAULT_BUDGET))
        scale = float(properties.get(SCALE_PROPERTY, DEFAULT_SCALE))
    except (TypeError, ValueError):
        raise BadInput(f"hub properties {BUDGET_PROPERTY} and {SCALE_PROPERTY} must be numbers") from None
    if budget < 0 or not 0 <= scale <= 1000:
        raise BadInput(f"hub properties: {BUDGET_PROPERTY} ≥ 0 and {SCALE_PROPERTY} between 0 and 1000")
    return budget, scale


def midnight_utc(now: dt.datetime | None = None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def used_today(session: Session, username: str, now: dt.datetime | None = None) -> int:
    """The counts ``username`` was given since midnight UTC: the audit trail's successful events of the
    action (refusals do not use the budget)."""
    from guichet.store.models import AuditEvent

    since = midnight_utc(now).isoformat(timespec="microseconds")
    return int(session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == ACTION, AuditEvent.actor == username, AuditEvent.outcome == "ok",
        AuditEvent.at >= since)).scalar_one())
