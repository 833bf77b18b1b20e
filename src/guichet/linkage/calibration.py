"""Calibration of match probabilities on a labelled sample (pure).

Fellegi–Sunter probabilities assume independent comparisons, which quasi-identifiers are not (a birth
month and a birth year; a hospital death and a death date), so they are over-confident. Labelled pairs
(clerical-review decisions, or a labelled sample) give, per probability bin, the observed share of true
matches; a pool-adjacent-violators pass makes the map monotone. With too few labels the map is the
identity and the report says so. The reliability curve (predicted vs observed per bin) is in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

EDGES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0000001)
MIN_LABELS = 30


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    n: int
    predicted: float  # mean predicted probability
    observed: float  # share of true matches


@dataclass
class Calibration:
    labels: int = 0
    bins: list[Bin] = field(default_factory=list)
    calibrated: list[float] = field(default_factory=list)  # monotone value per bin (empty = identity)

    @property
    def active(self) -> bool:
        return bool(self.calibrated)

    def as_rows(self) -> list[tuple[float, float]]:
        """(upper edge, calibrated value) per bin, for a CASE expression."""
        return [(b.high, v) for b, v in zip(self.bins, self.calibrated, strict=True)] if self.active else []

    def apply(self, p: float) -> float:
        for high, value in self.as_rows():
            if p < high:
                return value
        return p

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "active": self.active,
                "curve": [{"low": b.low, "high": min(b.high, 1.0), "n": b.n, "predicted": round(b.predicted, 4),
                           "observed": round(b.observed, 4)} for b in self.bins],
                "calibrated": [round(v, 4) for v in self.calibrated]}


def reliability(pairs: list[tuple[float, bool]]) -> list[Bin]:
    bins = []
    for low, high in pairwise(EDGES):
        inside = [(p, y) for p, y in pairs if low <= p < high]
        if inside:
            bins.append(Bin(low, high, len(inside), sum(p for p, _ in inside) / len(inside),
                            sum(1 for _, y in inside if y) / len(inside)))
    return bins


def _pava(values: list[float], weights: list[int]) -> list[float]:
    # each block: (mean value, total weight, how many values it pools)
    blocks: list[tuple[float, float, int]] = [(v, float(w), 1) for v, w in zip(values, weights, strict=True)]
    i = 0
    while i < len(blocks) - 1:
        if blocks[i][0] > blocks[i + 1][0]:
            a, b = blocks[i], blocks[i + 1]
            w = a[1] + b[1]
            blocks[i] = ((a[0] * a[1] + b[0] * b[1]) / w, w, a[2] + b[2])
            del blocks[i + 1]
            i = max(i - 1, 0)
        else:
            i += 1
    out: list[float] = []
    for v, _, count in blocks:
        out.extend([v] * count)
    return out


def fit(pairs: list[tuple[float, bool]]) -> Calibration:
    bins = reliability(pairs)
    if len(pairs) < MIN_LABELS or not bins:
        return Calibration(labels=len(pairs), bins=bins)
    # smoothed towards the predicted value, so a thin bin does not jump to 0 or 1
    smoothed = [(b.observed * b.n + b.predicted * 2) / (b.n + 2) for b in bins]
    return Calibration(labels=len(pairs), bins=bins, calibrated=_pava(smoothed, [b.n for b in bins]))
