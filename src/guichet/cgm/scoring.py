"""Scores of an alert rule against the consensus episodes, computed so that only prediction counts.

For a horizon H (30 minutes unless told otherwise):

- an alert *predicts* an episode of the same subject when it fires in [start - H, start): strictly before
  the episode's first reading, and outside every level 1 episode of that subject (an alert raised while the
  person is already hypoglycaemic predicts nothing, not even the next episode or a level 2 episode inside the
  current one). An alert at or after the start has no lead time, so a rule that is the episode definition
  scores zero;
- sensitivity = episodes with at least one predicting alert / episodes;
- PPV = alerts that predict at least one episode / alerts;
- false alerts per patient-day = alerts that predict no episode / days of CGM data (readings × grid step,
  so that a 423-day span with 6 days of readings counts 6 days);
- lead time of a predicted episode = its start - its earliest predicting alert; the median over predicted
  episodes.

Episodes whose onset was not observed (right after a gap or at the start of the data) stay in the
denominator: leaving them out would flatter the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from guichet.cgm.episodes import Episode
from guichet.cgm.readings import Subject
from guichet.cgm.rules import Alert

DEFAULT_HORIZON_MIN = 30.0


@dataclass(frozen=True)
class Scores:
    episodes: int = 0
    predicted: int = 0
    alerts: int = 0
    true_alerts: int = 0
    patient_days: float = 0.0
    lead_times_min: tuple[float, ...] = field(default=())

    @property
    def sensitivity(self) -> float | None:
        return self.predicted / self.episodes if self.episodes else None

    @property
    def ppv(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None

    @property
    def false_alerts_per_day(self) -> float | None:
        return (self.alerts - self.true_alerts) / self.patient_days if self.patient_days > 0 else None

    @property
    def median_lead_time_min(self) -> float | None:
        return float(np.median(self.lead_times_min)) if self.lead_times_min else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensitivity": self.sensitivity, "ppv": self.ppv, "false_alerts_per_day": self.false_alerts_per_day,
            "median_lead_time_min": self.median_lead_time_min, "episodes": self.episodes,
            "predicted_episodes": self.predicted, "alerts": self.alerts, "true_alerts": self.true_alerts,
            "patient_days": self.patient_days,
        }

    @staticmethod
    def pooled(parts: Iterable[Scores]) -> Scores:
        parts = list(parts)
        return Scores(
            episodes=sum(p.episodes for p in parts), predicted=sum(p.predicted for p in parts),
            alerts=sum(p.alerts for p in parts), true_alerts=sum(p.true_alerts for p in parts),
            patient_days=sum(p.patient_days for p in parts),
            lead_times_min=tuple(t for p in parts for t in p.lead_times_min),
        )


def predictions(subject: Subject, alerts: Sequence[Alert], hypoglycaemia: Sequence[Episode]) -> np.ndarray:
    """The times of the alerts that may count as predictions: those fired outside every episode given."""
    times = np.sort(np.asarray([a.seconds(subject) for a in alerts], dtype=np.float64))
    inside = np.zeros(times.shape, dtype=bool)
    for e in hypoglycaemia:
        inside |= (times >= subject.seconds[e.start]) & (times <= subject.seconds[e.end])
    return times[~inside]


def score_subject(subject: Subject, alerts: Sequence[Alert], targets: Sequence[Episode],
                  hypoglycaemia: Sequence[Episode], horizon_min: float = DEFAULT_HORIZON_MIN) -> Scores:
    """Score one subject's alerts against ``targets``; ``hypoglycaemia`` are the subject's level 1 episodes,
    inside which an alert predicts nothing."""
    horizon = horizon_min * 60.0
    eligible = predictions(subject, alerts, hypoglycaemia)
    starts = np.asarray([subject.seconds[e.start] for e in targets], dtype=np.float64)
    leads: list[float] = []
    for start in starts:
        lo = np.searchsorted(eligible, start - horizon, side="left")
        hi = np.searchsorted(eligible, start, side="left")  # strictly before the start
        if hi > lo:
            leads.append(float(start - eligible[lo]) / 60.0)
    return Scores(episodes=len(starts), predicted=len(leads), alerts=len(alerts),
                  true_alerts=_predicting(eligible, starts, horizon),
                  patient_days=subject.observed_days(), lead_times_min=tuple(leads))


def _predicting(alert_times: np.ndarray, starts: np.ndarray, horizon: float) -> int:
    """How many alerts have an episode start in (t, t + horizon]."""
    if not starts.size:
        return 0
    ordered = np.sort(starts)
    following = np.searchsorted(ordered, alert_times, side="right")  # the first start after each alert
    has_next = following < ordered.size
    gap = ordered[np.minimum(following, ordered.size - 1)] - alert_times
    return int(np.count_nonzero(has_next & (gap <= horizon)))
