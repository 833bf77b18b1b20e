"""Flags on the subjects a pooled score says least about: data that do not meet the consensus sufficiency
rule, subjects without any episode (their sensitivity is undefined), and subjects in the tails of the
file's own distribution (outside Tukey's fences, Q1 - 1.5 IQR and Q3 + 1.5 IQR) on a descriptor that bears on
the alerts — how much data, how much hypoglycaemia, how variable, how many false alerts.

A flag says where the pooled figure may not carry over; it removes nobody from the scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from guichet.cgm.metrics import SUFFICIENT_ACTIVE_PERCENT, SUFFICIENT_DAYS, SubjectMetrics
from guichet.cgm.scoring import Scores

MIN_SUBJECTS_FOR_TAILS = 5
FENCE = 1.5


@dataclass(frozen=True)
class Flag:
    flag: str  # insufficient | no-episodes | atypical
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"flag": self.flag, "reason": self.reason}


# Which tail of each descriptor makes a subject atypical: less data is, more data is not.
SIDES = {"active_percent": "low", "days_of_data": "low", "tbr_lt70": "both", "mean_mgdl": "both",
         "cv_percent": "both", "false_alerts_per_day": "high"}


def descriptors(metrics: SubjectMetrics, scores: Scores) -> dict[str, float]:
    out = {"active_percent": metrics.active_percent, "days_of_data": scores.patient_days,
           "tbr_lt70": metrics.tbr_lt70, "mean_mgdl": metrics.mean_mgdl}
    if metrics.cv_percent is not None:
        out["cv_percent"] = metrics.cv_percent
    if scores.false_alerts_per_day is not None:
        out["false_alerts_per_day"] = scores.false_alerts_per_day
    return out


def fences(values: Sequence[float]) -> tuple[float, float]:
    q1, q3 = np.percentile(np.asarray(values, dtype=np.float64), [25, 75])
    return float(q1 - FENCE * (q3 - q1)), float(q3 + FENCE * (q3 - q1))


def subject_flags(metrics: Mapping[str, SubjectMetrics], scores: Mapping[str, Scores]) -> dict[str, list[Flag]]:
    """Flags by subject id; ``metrics`` and ``scores`` have the same keys."""
    flags: dict[str, list[Flag]] = {sid: [] for sid in metrics}
    for sid, m in metrics.items():
        if not m.meets_14d_70pct:
            flags[sid].append(Flag("insufficient", f"{m.days:.1f} days at {m.active_percent:.1f} % active; the "
                                   f"consensus asks for >= {SUFFICIENT_DAYS:g} days at >= {SUFFICIENT_ACTIVE_PERCENT:g} %"))
        if scores[sid].episodes == 0:
            flags[sid].append(Flag("no-episodes", "no consensus episode: sensitivity and lead time are undefined"))
    if len(metrics) < MIN_SUBJECTS_FOR_TAILS:
        return flags
    table = {sid: descriptors(m, scores[sid]) for sid, m in metrics.items()}
    for name in sorted({k for d in table.values() for k in d}):
        values = {sid: d[name] for sid, d in table.items() if name in d}
        if len(values) < MIN_SUBJECTS_FOR_TAILS:
            continue
        low, high = fences(list(values.values()))
        for sid, v in values.items():
            if (v < low and SIDES[name] != "high") or (v > high and SIDES[name] != "low"):
                side, fence = ("below", low) if v < low else ("above", high)
                flags[sid].append(Flag("atypical", f"{name} {v:.3g} is {side} the file's fence {fence:.3g} "
                                       "(Tukey, 1.5 IQR)"))
    return flags
