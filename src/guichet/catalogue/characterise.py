"""Disclosure-safe characterisation of a product: what the public pages and the export may say.

Counts are rounded to the nearest 10 and suppressed below the source's minimum cell count (11 for SNDS
and PMSI data, the CASD rule); ages are given as the 5th-95th percentile range, never a minimum or a
maximum (one extreme person is one person), and only over at least ``threshold`` people.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_THRESHOLD = 11  # SNDS / PMSI minimum cell count


def round10(n: int) -> int:
    """Nearest multiple of 10, halves up (25 -> 30), never below 0."""
    return max(0, (n + 5) // 10 * 10)


def safe_count(n: int | None, threshold: int = DEFAULT_THRESHOLD) -> int | None:
    """The count as it may be published: None (suppressed) below ``threshold``, else rounded to 10."""
    if n is None or n < threshold:
        return None
    return round10(n)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: the value is one that occurs, rounded later)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


@dataclass(frozen=True)
class Characterisation:
    threshold: int
    records: int | None  # rounded, None when suppressed or unknown
    individuals: int | None
    age_p5: int | None
    age_p95: int | None
    period_start: str | None
    period_end: str | None
    versions: int
    suppressed: tuple[str, ...]  # which figures were withheld under the threshold

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "records": self.records, "individuals": self.individuals,
                "age_p5": self.age_p5, "age_p95": self.age_p95, "period_start": self.period_start,
                "period_end": self.period_end, "versions": self.versions, "suppressed": list(self.suppressed),
                "rounding": "nearest 10"}


def characterise(records: int | None, individuals: int | None = None, ages: Sequence[float] | None = None,
                 period: tuple[str | None, str | None] = (None, None), versions: int = 0,
                 threshold: int = DEFAULT_THRESHOLD) -> Characterisation:
    suppressed: list[str] = []
    safe_records = safe_count(records, threshold)
    if records is not None and safe_records is None:
        suppressed.append("records")
    safe_people = safe_count(individuals, threshold)
    if individuals is not None and safe_people is None:
        suppressed.append("individuals")
    p5 = p95 = None
    if ages:
        if len(ages) >= threshold:
            ordered = sorted(ages)
            p5, p95 = math.floor(percentile(ordered, 5)), math.ceil(percentile(ordered, 95))
        else:
            suppressed.append("ages")
    return Characterisation(threshold, safe_records, safe_people, p5, p95, period[0], period[1], versions,
                            tuple(suppressed))
