"""Hypoglycaemia episodes as the 2023 international consensus defines CGM events (Battelino et al., Lancet
Diabetes Endocrinol 11:42), read the way iglu's episode_calculation reads them:

- a level 1 (level 2) episode begins with at least 15 consecutive minutes below 70 (54) mg/dL, and ends with
  at least 15 consecutive minutes at or above 70 (54) mg/dL; shorter returns above the threshold stay inside
  the episode. A level 2 episode therefore always lies inside a level 1 episode.
- a reading stands for one grid step (the rounded median time between readings, as in ``metrics``): three
  readings five minutes apart are 15 minutes. A run's length in steps is round(span / step) + 1, so the
  jitter of real timestamps (4:59, 5:01) neither makes nor breaks an episode.
- readings more than 45 minutes apart (iglu's largest interpolated gap) split the curve: no run and no episode
  crosses such a gap. An episode cut by a gap or by the end of the data ends at its last low reading, with
  ``ended`` false; one that begins at the first reading after a gap has ``onset_seen`` false (it may have
  begun unobserved, and no alert could have preceded it with data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from guichet.cgm.readings import Subject

LEVELS: dict[int, float] = {1: 70.0, 2: 54.0}
START_MIN = 15.0
END_MIN = 15.0
MAX_GAP_MIN = 45.0


@dataclass(frozen=True)
class Episode:
    subject: str
    level: int
    threshold_mgdl: float
    start: int  # index of the episode's first reading
    end: int  # index of its last reading (inclusive)
    ended: bool
    onset_seen: bool

    def to_dict(self, subject: Subject) -> dict[str, Any]:
        g = subject.glucose[self.start:self.end + 1]
        return {
            "id": self.subject, "level": self.level, "threshold_mgdl": self.threshold_mgdl,
            "start": subject.local_time(self.start), "end": subject.local_time(self.end),
            "duration_min": duration_min(subject, self.start, self.end),
            "nadir_mgdl": float(g.min()), "ended": self.ended, "onset_seen": self.onset_seen,
        }


@dataclass(frozen=True)
class Run:
    """Consecutive readings on one side of a threshold, inside one segment."""

    first: int
    last: int
    low: bool


def duration_min(subject: Subject, first: int, last: int) -> float:
    return steps(subject, first, last) * subject.step_min


def steps(subject: Subject, first: int, last: int) -> int:
    return int(np.round((subject.seconds[last] - subject.seconds[first]) / 60.0 / subject.step_min)) + 1


def steps_needed(step_min: float, minutes: float) -> int:
    return max(math.ceil(minutes / step_min - 1e-9), 1)


def segments(subject: Subject, max_gap_min: float = MAX_GAP_MIN) -> list[tuple[int, int]]:
    """(first, last) index pairs of the stretches without a gap longer than ``max_gap_min``."""
    if subject.n == 0:
        return []
    breaks = np.flatnonzero(np.diff(subject.seconds) > max_gap_min * 60.0)
    starts = [0, *(breaks + 1).tolist()]
    ends = [*breaks.tolist(), subject.n - 1]
    return list(zip(starts, ends, strict=True))


def runs(low: np.ndarray, first: int, last: int) -> list[Run]:
    """The runs of equal ``low`` values between ``first`` and ``last`` (inclusive)."""
    part = low[first:last + 1]
    change = np.flatnonzero(part[1:] != part[:-1]) + 1
    starts = [0, *change.tolist()]
    ends = [*(change - 1).tolist(), len(part) - 1]
    return [Run(first + s, first + e, bool(part[s])) for s, e in zip(starts, ends, strict=True)]


def level_episodes(subject: Subject, level: int) -> list[Episode]:
    threshold = LEVELS[level]
    low = subject.glucose < threshold
    start_steps = steps_needed(subject.step_min, START_MIN)
    end_steps = steps_needed(subject.step_min, END_MIN)
    found: list[Episode] = []
    for first, last in segments(subject):
        seg_runs = runs(low, first, last)
        i = 0
        while i < len(seg_runs):
            run = seg_runs[i]
            if not (run.low and steps(subject, run.first, run.last) >= start_steps):
                i += 1
                continue
            j = i + 1
            while j < len(seg_runs) and not (not seg_runs[j].low
                                             and steps(subject, seg_runs[j].first, seg_runs[j].last) >= end_steps):
                j += 1
            ended = j < len(seg_runs)
            end = seg_runs[j - 1].last if seg_runs[j - 1].low else seg_runs[j - 2].last
            found.append(Episode(subject.id, level, threshold, run.first, end, ended, onset_seen=i > 0))
            i = j
    return found


def episodes(subject: Subject, levels: tuple[int, ...] = (1, 2)) -> list[Episode]:
    """The subject's episodes of the given levels, by start time (level 1 first at equal starts)."""
    found = [e for level in levels for e in level_episodes(subject, level)]
    return sorted(found, key=lambda e: (e.start, e.level))
