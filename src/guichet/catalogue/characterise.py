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

# The SNDS / PMSI minimum cell count: the CASD rule (and the SNDS's own publication rule) forbids any figure
# about fewer than 11 people. Used when neither the product (``disclosure_threshold``) nor the hub set one.
DEFAULT_THRESHOLD = 11


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
    departements: int | None = None  # territory: how many départements (a count of places, not of people)
    dataset: str | None = None  # set on a table's characterisation
    version: int | None = None
    source: str = "metadata"  # "data": measured on the published files; "metadata": row counts only
    tables: tuple[Characterisation, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "threshold": self.threshold, "records": self.records, "individuals": self.individuals,
            "age_p5": self.age_p5, "age_p95": self.age_p95, "period_start": self.period_start,
            "period_end": self.period_end, "departements": self.departements, "versions": self.versions,
            "suppressed": list(self.suppressed), "rounding": "nearest 10", "source": self.source}
        if self.dataset is not None:
            out.update(dataset=self.dataset, version=self.version)
        else:
            out["tables"] = [t.to_dict() for t in self.tables]
        return out


def month(day: str | None) -> str | None:
    """A coverage bound as a month (YYYY-MM): the first or last event is one person's; its day is not needed."""
    return day[:7] if day else None


def characterise(records: int | None, individuals: int | None = None, ages: Sequence[float] | None = None,
                 period: tuple[str | None, str | None] = (None, None), versions: int = 0,
                 threshold: int = DEFAULT_THRESHOLD, *, age_range: tuple[int, int, int] | None = None,
                 departements: int | None = None, source: str = "metadata") -> Characterisation:
    """What may be published. ``ages`` are individual ages, or ``age_range`` is (p5, p95, people with an age)
    measured by the engine; the population (people, else records) decides whether the period and the
    territory may be shown: below ``threshold`` nothing about it is published but the fact it was withheld."""
    suppressed: list[str] = []
    safe_records = safe_count(records, threshold)
    if records is not None and safe_records is None:
        suppressed.append("records")
    safe_people = safe_count(individuals, threshold)
    if individuals is not None and safe_people is None:
        suppressed.append("individuals")
    p5 = p95 = None
    if ages:
        ordered = sorted(ages)
        age_range = (math.floor(percentile(ordered, 5)), math.ceil(percentile(ordered, 95)), len(ordered))
    if age_range is not None and age_range[2] > 0:
        if age_range[2] >= threshold:
            p5, p95 = int(age_range[0]), int(age_range[1])
        else:
            suppressed.append("ages")
    population = individuals if individuals is not None else records
    small = population is None or population < threshold
    start, end = (month(period[0]), month(period[1])) if not small else (None, None)
    if small and (period[0] or period[1]):
        suppressed.append("period")
    shown_deps = departements if not small else None
    if small and departements is not None:
        suppressed.append("departements")
    return Characterisation(threshold, safe_records, safe_people, p5, p95, start, end, versions,
                            tuple(suppressed), shown_deps, source=source)
