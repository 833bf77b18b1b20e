"""Comparing two distributions of one feature (``guichet.quality.features``): pure, no I/O.

Two measures, each tested against the noise that sampling alone would give at these sizes, so that a small
delivery is not flagged for being small and a large one not for being large:

- **new mass**: the share of rows in categories that were absent (or under 0.5 %) before — a shape, a code, a
  magnitude or an order that the earlier version (nearly) never had — beyond what each could have held
  unseen in a sample that size. Sampling alone brings unseen categories with about the Good–Turing mass of
  the earlier version (categories seen once / rows), and rare ones with about their earlier share; the test
  allows that plus five standard deviations.
- **shift**: the total variation distance (half the sum of absolute differences of shares) over the earlier
  version's categories — a fifth of the rows moved between known categories (sex codes swapped, empty
  cells filled). Its sampling noise is bounded by ``sqrt(k (1/n0 + 1/n1)) / 2`` for ``k`` categories; the test
  allows three times that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

RARE = 0.005  # a category under this share of the earlier rows was rare
NEW_SHARE = 0.02  # new mass flagged from 2 % of the rows (and at least MIN_NEW_ROWS rows)
SHIFT_SHARE = 0.25  # a quarter of the rows moved between categories
# A month is compared with higher thresholds: a few hundred rows may be one person's, and what a broken
# extraction does to a month it does to most of its rows.
MONTH_NEW_SHARE, MONTH_SHIFT_SHARE = 0.2, 0.3
MIN_NEW_ROWS = 10
MIN_MONTH_ROWS = 200  # months with fewer rows (either side) are not compared
# A feature with more categories than this is not compared: rows come in clusters (a person's claims share
# a department, a birth year, a drug), so a new sample of people brings new departments and years in blocks
# of rows that no row-level noise model foresees; a code list that long is checked by its shape and by its
# nomenclature instead.
MAX_CATEGORIES = 20
OTHER = "…"  # the categories beyond the ones kept


@dataclass(frozen=True)
class Dist:
    """A feature's distribution: rows per category (the most frequent ones), rows in the others, how many
    categories there were in all and how many held one row."""

    counts: Mapping[str, int]
    other: int = 0
    distinct: int = 0
    singletons: int = 0

    @property
    def n(self) -> int:
        return sum(self.counts.values()) + self.other

    @property
    def complete(self) -> bool:
        return self.other == 0

    @property
    def categories(self) -> int:
        return max(self.distinct, len(self.counts) + (1 if self.other else 0))

    def share(self, category: str) -> float:
        return self.counts.get(category, 0) / self.n if self.n else 0.0

    def to_json(self) -> dict[str, object]:
        """Compact: the counts, and the other fields only when not zero (a profile keeps thousands)."""
        out: dict[str, object] = {"counts": dict(self.counts)}
        out.update({k: v for k, v in (("other", self.other), ("distinct", self.distinct),
                                      ("singletons", self.singletons)) if v})
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Dist:
        counts = raw.get("counts", {})
        return cls({str(k): int(v) for k, v in counts.items()} if isinstance(counts, dict) else {},
                   int(raw.get("other", 0) or 0), int(raw.get("distinct", 0) or 0),  # type: ignore[call-overload]
                   int(raw.get("singletons", 0) or 0))  # type: ignore[call-overload]


@dataclass(frozen=True)
class Finding:
    what: str  # "new" | "shift"
    mass: float  # share of rows concerned
    detail: str

    def text(self) -> str:
        return f"{self.detail}"


@dataclass
class NewMass:
    mass: float = 0.0
    categories: list[tuple[str, float, float]] = field(default_factory=list)  # (category, before, now)


def new_mass(before: Dist, now: Dist) -> NewMass:
    """Rows of ``now`` in categories absent or rare before, beyond what they could have held before: a
    category seen ``k`` times in ``n`` earlier rows is allowed ``(k + 4) / n`` (about the 98 % upper bound of a
    Poisson count; ``4 / 60`` when 60 earlier rows had none). A category absent from an incomplete earlier
    list may have been among its others: it is not counted."""
    out = NewMass()
    if not now.n or not before.n:
        return out
    for category, k in now.counts.items():
        q = k / now.n
        if category in before.counts:
            seen = before.counts[category]
        elif before.complete:
            seen = 0
        else:
            continue
        allowed = (seen + 4) / before.n
        if seen / before.n < RARE and q > allowed:
            out.mass += q - allowed
            out.categories.append((category, seen / before.n, q))
    out.categories.sort(key=lambda c: c[1] - c[2])
    return out


def expected_new(before: Dist) -> float:
    """What sampling alone brings into absent or rare categories: Good–Turing's unseen mass (categories
    seen once over rows) plus the earlier share of the rare ones."""
    if not before.n:
        return 0.0
    unseen = before.singletons / before.n if before.complete else 0.0
    rare = sum(k for k in before.counts.values() if k / before.n < RARE) / before.n
    return unseen + rare


def shift(before: Dist, now: Dist) -> tuple[float, float]:
    """(total variation distance over the earlier categories + the rest, its sampling noise bound x 3)."""
    if not now.n or not before.n:
        return 0.0, 1.0
    p = {c: k / before.n for c, k in before.counts.items()}
    q = {c: now.counts.get(c, 0) / now.n for c in before.counts}
    distance = 0.5 * (sum(abs(p[c] - q[c]) for c in p) + abs((1 - sum(p.values())) - (1 - sum(q.values()))))
    k = sum(1 for c in p if p[c] >= 0.01 or q[c] >= 0.01) + 1
    noise = 1.5 * math.sqrt(k * (1 / before.n + 1 / now.n))
    return distance, noise


def _fmt(share: float) -> str:
    return f"{100 * share:.1f} %" if share >= 0.001 else f"{100 * share:.2f} %"


def compare(before: Dist, now: Dist, *, new_share: float = NEW_SHARE,
            shift_share: float = SHIFT_SHARE) -> list[Finding]:
    """What changed between two distributions of one feature, beyond sampling noise."""
    out: list[Finding] = []
    new = new_mass(before, now)
    expected = expected_new(before)
    noise = expected + 5 * math.sqrt(max(expected, 1 / max(before.n, 1)) / max(now.n, 1))
    if new.mass >= new_share and new.mass * now.n >= MIN_NEW_ROWS and new.mass > noise:
        shown = ", ".join(f"{c!r} {_fmt(q)} (was {_fmt(p)})" for c, p, q in new.categories[:3])
        out.append(Finding("new", new.mass, f"{_fmt(new.mass)} of rows in values absent or rare before: {shown}"))
    distance, floor = shift(before, now)
    if distance >= shift_share and distance > floor:
        moved = sorted(before.counts, key=lambda c: -abs(before.share(c) - now.share(c)))[:2]
        shown = ", ".join(f"{c!r} {_fmt(before.share(c))} -> {_fmt(now.share(c))}" for c in moved)
        out.append(Finding("shift", distance, f"{_fmt(distance)} of rows moved between values: {shown}"))
    return out


def period_bound(months: Mapping[str, Dist], empty: str = "∅") -> bool:
    """Whether a feature's values belong to their month (an emission order number, a month index): most
    rows have a value that occurs in at most two months (a tenth of them when more), out of four or more.
    Such a column describes the period a delivery covers, not its rows: it is not compared."""
    if len(months) < 4:
        return False
    seen: dict[str, int] = {}
    for d in months.values():
        for c, k in d.counts.items():
            if k and c != empty:
                seen[c] = seen.get(c, 0) + 1
    limit = max(2, len(months) // 10)
    rows = sum(k for d in months.values() for c, k in d.counts.items() if c != empty)
    bound = sum(k for d in months.values() for c, k in d.counts.items() if c != empty and seen.get(c, 0) <= limit)
    return rows > 0 and bound >= 0.5 * rows


def _digits(category: str) -> bool:
    """A shape of a (short) value made of digits only: ``999``."""
    return bool(category) and set(category) == {"9"}


def variable_width_digits(d: Dist) -> bool:
    """Whether a text column holds numbers written at their own width (``6``, ``78``, ``1042``: two digit
    widths or more among its shapes): their width follows the numbers' size, which follows the delivery's.
    A fixed-width code has one (``028``), and losing or gaining a digit is then a new shape."""
    return sum(1 for c in d.counts if _digits(c)) >= 2


def as_digits(d: Dist) -> Dist:
    """The same distribution with every all-digit shape counted as one category, ``digits``."""
    counts: dict[str, int] = {}
    for c, k in d.counts.items():
        key = "digits" if _digits(c) else c
        counts[key] = counts.get(key, 0) + k
    return Dist(counts, d.other, len(counts) + (1 if d.other else 0), 0)


def merge(dists: list[Dist]) -> Dist:
    """The sum of several distributions over the same kept categories (the months of a version)."""
    counts: dict[str, int] = {}
    other = 0
    for d in dists:
        for c, k in d.counts.items():
            counts[c] = counts.get(c, 0) + k
        other += d.other
    return Dist(counts, other)
