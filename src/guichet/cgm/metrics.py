"""The 2019 international consensus CGM metrics (Battelino et al., Diabetes Care 42:1593), computed as the R
package iglu computes them, so that a clinician can check any figure against iglu by hand.

- Percentages are shares of *readings* (iglu's below_percent, in_range_percent, above_percent): below 54 and
  70 are strict, 70–180 is inclusive at both ends, above 180 and 250 are strict.
- Active percentage (iglu's active_percent, automatic range): on a grid whose step is the rounded median time
  between readings, the grid points from the first reading to the last, less those inside gaps longer than
  one step, over all of them.
- GMI = 3.31 + 0.02392 × mean (mg/dL); CV = 100 × SD / mean with the sample SD; GRI = 3.0 × %<54 +
  2.4 × %54–69 + 1.6 × %>250 + 0.8 × %181–250, capped at 100 (Klonoff et al. 2023).
- Sufficiency: at least 14 days and 70 % active (the 2019 consensus).

Values are never rounded here: rounding is for display.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from guichet.cgm.readings import Recording, Subject, local_iso

SUFFICIENT_DAYS = 14.0
SUFFICIENT_ACTIVE_PERCENT = 70.0


@dataclass(frozen=True)
class SubjectMetrics:
    """One subject's metrics; the fields are the columns of the reference table (reference_metrics.csv)."""

    dataset: str
    id: str
    n_readings: int
    start: str
    end: str
    days: float
    active_percent: float
    mean_mgdl: float
    sd_mgdl: float | None
    cv_percent: float | None
    gmi_percent: float
    tbr_lt54: float
    tbr_lt70: float
    tir_70_180: float
    tar_gt180: float
    tar_gt250: float
    gri: float
    meets_14d_70pct: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def active_percent(subject: Subject) -> float:
    """iglu's active_percent (automatic range), in percent."""
    if subject.n < 2:
        return 100.0
    step = subject.step_min
    gaps = np.diff(subject.seconds) / 60.0
    theoretical = np.round(np.round((subject.seconds[-1] - subject.seconds[0]) / 60.0) / step) + 1
    long_gaps = gaps[np.round(gaps) > step]
    missing = np.round((long_gaps.sum() - long_gaps.size * step) / step)
    return float((theoretical - missing) / theoretical * 100.0)


def percent(mask: np.ndarray) -> float:
    return float(np.count_nonzero(mask) * 100.0 / mask.size)


def gri(below54: float, below70: float, above180: float, above250: float) -> float:
    """Glycaemia Risk Index from the four percentages (iglu's gri)."""
    return min(3.0 * below54 + 2.4 * (below70 - below54) + 1.6 * above250 + 0.8 * (above180 - above250), 100.0)


def subject_metrics(dataset: str, subject: Subject) -> SubjectMetrics:
    g = subject.glucose
    mean = float(np.mean(g))
    sd = float(np.std(g, ddof=1)) if subject.n > 1 else None
    below54, below70 = percent(g < 54), percent(g < 70)
    above180, above250 = percent(g > 180), percent(g > 250)
    days = float(subject.seconds[-1] - subject.seconds[0]) / 86400.0
    active = active_percent(subject)
    return SubjectMetrics(
        dataset=dataset, id=subject.id, n_readings=subject.n,
        start=local_iso(float(subject.local[0]), " "), end=local_iso(float(subject.local[-1]), " "),
        days=days, active_percent=active, mean_mgdl=mean, sd_mgdl=sd,
        cv_percent=None if sd is None or math.isclose(mean, 0.0) else 100.0 * sd / mean,
        gmi_percent=3.31 + 0.02392 * mean, tbr_lt54=below54, tbr_lt70=below70,
        tir_70_180=percent((g >= 70) & (g <= 180)), tar_gt180=above180, tar_gt250=above250,
        gri=gri(below54, below70, above180, above250),
        meets_14d_70pct=days >= SUFFICIENT_DAYS and active >= SUFFICIENT_ACTIVE_PERCENT,
    )


def recording_metrics(recording: Recording) -> list[SubjectMetrics]:
    return [subject_metrics(recording.dataset, s) for s in recording.subjects]
