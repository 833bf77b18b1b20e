"""Alert rules. Each is causal: the decision at a reading uses that reading and earlier ones only, so the
alerts are those a device would have raised in real time (a property test truncates the future and checks
that no past alert changes). Each alert keeps the readings it looked at and the numbers it computed.

- ``trend`` (the default): glucose is still at or above 70 mg/dL, and the least-squares line through the
  last 20 minutes falls below 70 within the next 20 minutes.
- ``level``: glucose enters 70–79 mg/dL, the "low" alert most receivers ship with (set at 80 mg/dL in the
  Dexcom export of the shared data).
- ``consensus``: the episode definition itself, raised as soon as 15 minutes below 70 mg/dL are seen. It is
  the negative control of the scoring: it fires at or after every episode's start, so it must score nothing.

All three stay silent for 30 minutes after an alert, and the two predictive ones while a reading below 70
mg/dL lies in the last 15 minutes (the person is already low: that is the low alarm's business).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from guichet.cgm.episodes import MAX_GAP_MIN, START_MIN, steps, steps_needed
from guichet.cgm.readings import Subject

LOW_MGDL = 70.0
# A 20-minute window holds 21 readings of a one-minute sensor; more means duplicated or garbled times, and
# the cap keeps the work linear in the readings whatever the file.
MAX_WINDOW_READINGS = 64


@dataclass(frozen=True)
class Alert:
    subject: str
    index: int  # the reading at which the rule fired
    rule: str
    inputs: dict[str, Any]
    window: tuple[int, int]  # first and last index of the readings the rule looked at

    def seconds(self, subject: Subject) -> float:
        return float(subject.seconds[self.index])


class Rule(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...  # "rule" or "model"

    def definition(self) -> str: ...

    def parameters(self) -> dict[str, float]: ...

    def scan(self, subject: Subject) -> list[Alert]: ...


class _Quiet:
    """The silences every rule shares: after an alert, and (for predictive rules) while recently low."""

    def __init__(self, subject: Subject, refractory_min: float, recent_low_min: float | None) -> None:
        self.subject, self.refractory_min, self.recent_low_min = subject, refractory_min, recent_low_min
        self._lows = np.concatenate([[0], np.cumsum(subject.glucose < LOW_MGDL)])  # lows before each index

    def silent(self, i: int, last_alert: float | None) -> bool:
        now = self.subject.seconds[i]
        if last_alert is not None and now - last_alert < self.refractory_min * 60.0:
            return True
        if self.recent_low_min is None:
            return False
        lo = int(np.searchsorted(self.subject.seconds, now - self.recent_low_min * 60.0, side="left"))
        return bool(self._lows[i + 1] - self._lows[lo] > 0)


def window_start(subject: Subject, i: int, minutes: float) -> int:
    return int(np.searchsorted(subject.seconds, subject.seconds[i] - minutes * 60.0, side="left"))


def window_slopes(subject: Subject, window_min: float, budget: int = 1 << 21) -> tuple[np.ndarray, np.ndarray]:
    """For every reading i: the first index of its window (readings within ``window_min`` before it, itself
    included, at most the last MAX_WINDOW_READINGS) and the least-squares slope (mg/dL per minute) through the
    window, NaN for a single reading.

    Computed for all readings at once on a (readings × window length) array, in chunks of about ``budget``
    cells; times are taken relative to each window's last reading, so precision does not depend on the date.
    """
    seconds, glucose = subject.seconds, subject.glucose
    index = np.arange(subject.n)
    lo = np.maximum(np.searchsorted(seconds, seconds - window_min * 60.0, side="left"), index - MAX_WINDOW_READINGS + 1)
    slopes = np.full(subject.n, np.nan)
    chunk = max(budget // MAX_WINDOW_READINGS, 1)
    for first in range(0, subject.n, chunk):
        rows = index[first:first + chunk]
        width = int((rows - lo[rows]).max()) + 1
        idx = rows[:, None] - np.arange(width)[None, :]
        valid = idx >= lo[rows][:, None]
        idx = np.where(valid, idx, rows[:, None])
        t = np.where(valid, (seconds[idx] - seconds[rows][:, None]) / 60.0, 0.0)
        g = np.where(valid, glucose[idx], 0.0)
        count = valid.sum(axis=1)
        tc = np.where(valid, t - (t.sum(axis=1) / count)[:, None], 0.0)
        gc = np.where(valid, g - (g.sum(axis=1) / count)[:, None], 0.0)
        den = (tc * tc).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            slopes[rows] = np.where(den > 0, (tc * gc).sum(axis=1) / den, np.nan)
    return lo, slopes


@dataclass(frozen=True)
class TrendRule:
    window_min: float = 20.0
    min_readings: int = 3
    min_span_min: float = 10.0
    projection_min: float = 20.0  # Dexcom's "urgent low soon" looks 20 minutes ahead
    threshold_mgdl: float = LOW_MGDL
    refractory_min: float = 30.0
    recent_low_min: float = 15.0
    name: str = "trend"
    kind: str = "rule"

    def definition(self) -> str:
        return (f"At a reading >= {self.threshold_mgdl:g} mg/dL with no reading below {LOW_MGDL:g} in the last "
                f"{self.recent_low_min:g} min: the least-squares line through the readings of the last "
                f"{self.window_min:g} min (at least {self.min_readings}, spanning >= {self.min_span_min:g} min) falls "
                f"and is below {self.threshold_mgdl:g} mg/dL {self.projection_min:g} min ahead. "
                f"Silent for {self.refractory_min:g} min after an alert.")

    def parameters(self) -> dict[str, float]:
        return {"window_min": self.window_min, "min_readings": self.min_readings, "min_span_min": self.min_span_min,
                "projection_min": self.projection_min, "threshold_mgdl": self.threshold_mgdl,
                "refractory_min": self.refractory_min, "recent_low_min": self.recent_low_min}

    def scan(self, subject: Subject) -> list[Alert]:
        quiet = _Quiet(subject, self.refractory_min, self.recent_low_min)
        alerts: list[Alert] = []
        last: float | None = None
        lo_all, slopes = window_slopes(subject, self.window_min)
        g_all = subject.glucose
        span = (subject.seconds - subject.seconds[lo_all]) / 60.0
        with np.errstate(invalid="ignore"):
            fires = ((g_all >= self.threshold_mgdl) & (np.arange(subject.n) - lo_all + 1 >= self.min_readings)
                     & (span >= self.min_span_min) & (slopes < 0)
                     & (g_all + slopes * self.projection_min < self.threshold_mgdl))
        for i in np.flatnonzero(fires).tolist():
            if quiet.silent(i, last):
                continue
            lo, g, slope = int(lo_all[i]), float(g_all[i]), float(slopes[i])
            projected = g + slope * self.projection_min
            inputs = {"glucose_mgdl": g, "slope_mgdl_per_min": slope, "projected_mgdl": projected,
                      "projection_min": self.projection_min, "threshold_mgdl": self.threshold_mgdl,
                      "readings": i - lo + 1, "window_min": self.window_min}
            alerts.append(Alert(subject.id, i, self.name, inputs, (lo, i)))
            last = float(subject.seconds[i])
        return alerts


@dataclass(frozen=True)
class LevelRule:
    alert_mgdl: float = 80.0
    window_min: float = 15.0
    refractory_min: float = 30.0
    recent_low_min: float = 15.0
    name: str = "level"
    kind: str = "rule"

    def definition(self) -> str:
        return (f"A reading from {LOW_MGDL:g} up to (not including) {self.alert_mgdl:g} mg/dL, with no reading below "
                f"{LOW_MGDL:g} in the last {self.recent_low_min:g} min. Silent for {self.refractory_min:g} min "
                "after an alert.")

    def parameters(self) -> dict[str, float]:
        return {"alert_mgdl": self.alert_mgdl, "refractory_min": self.refractory_min,
                "recent_low_min": self.recent_low_min}

    def scan(self, subject: Subject) -> list[Alert]:
        quiet = _Quiet(subject, self.refractory_min, self.recent_low_min)
        alerts: list[Alert] = []
        last: float | None = None
        for i in np.flatnonzero((subject.glucose >= LOW_MGDL) & (subject.glucose < self.alert_mgdl)).tolist():
            if quiet.silent(i, last):
                continue
            inputs = {"glucose_mgdl": float(subject.glucose[i]), "alert_mgdl": self.alert_mgdl}
            alerts.append(Alert(subject.id, i, self.name, inputs, (window_start(subject, i, self.window_min), i)))
            last = float(subject.seconds[i])
        return alerts


@dataclass(frozen=True)
class ConsensusRule:
    """The level 1 episode's start criterion, checked in real time: the negative control."""

    threshold_mgdl: float = LOW_MGDL
    refractory_min: float = 30.0
    name: str = "consensus"
    kind: str = "rule"

    def definition(self) -> str:
        return (f"{START_MIN:g} consecutive minutes below {self.threshold_mgdl:g} mg/dL have just been seen (the "
                "consensus start criterion of a level 1 episode). Negative control: it cannot fire before an "
                f"episode begins. Silent for {self.refractory_min:g} min after an alert.")

    def parameters(self) -> dict[str, float]:
        return {"threshold_mgdl": self.threshold_mgdl, "refractory_min": self.refractory_min}

    def scan(self, subject: Subject) -> list[Alert]:
        quiet = _Quiet(subject, self.refractory_min, None)
        need = steps_needed(subject.step_min, START_MIN)
        alerts: list[Alert] = []
        last: float | None = None
        run_first: int | None = None
        for i in range(subject.n):
            gap = i > 0 and subject.seconds[i] - subject.seconds[i - 1] > MAX_GAP_MIN * 60.0
            if subject.glucose[i] >= self.threshold_mgdl:
                run_first = None
                continue
            run_first = i if run_first is None or gap else run_first
            just_met = steps(subject, run_first, i) >= need and (
                i == run_first or steps(subject, run_first, i - 1) < need)  # one alert per run, when met
            if not just_met or quiet.silent(i, last):
                continue
            inputs = {"glucose_mgdl": float(subject.glucose[i]), "threshold_mgdl": self.threshold_mgdl,
                      "minutes_below": steps(subject, run_first, i) * subject.step_min}
            alerts.append(Alert(subject.id, i, self.name, inputs, (run_first, i)))
            last = float(subject.seconds[i])
        return alerts


RULES: dict[str, Rule] = {"trend": TrendRule(), "level": LevelRule(), "consensus": ConsensusRule()}
