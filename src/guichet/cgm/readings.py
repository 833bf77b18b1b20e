"""The data model: one subject's CGM readings, sorted, in mg/dL, with the grid step they were taken on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

# iglu's factor (read_raw_data), and the one behind the consensus pairs 3.0/54, 3.9/70 and 10.0/180.
MGDL_PER_MMOL = 18.0
EPOCH = dt.datetime(1970, 1, 1)
DEFAULT_STEP_MIN = 5.0  # a subject with one reading has no step of its own: the common CGM period


@dataclass(frozen=True)
class Subject:
    """One subject's readings, sorted by time (then glucose, so that the order of rows never matters).

    ``seconds`` are instants (for durations); ``local`` the file's wall-clock times (for display), equal to
    ``seconds`` unless the file wrote UTC offsets.
    """

    id: str
    seconds: np.ndarray
    local: np.ndarray
    glucose: np.ndarray
    group: str | None = None
    step_min: float = field(init=False)

    def __post_init__(self) -> None:
        if not (len(self.seconds) == len(self.local) == len(self.glucose)):
            raise ValueError("seconds, local and glucose must have the same length")
        order = np.lexsort((self.glucose, self.seconds))
        for name in ("seconds", "local", "glucose"):
            array = np.asarray(getattr(self, name), dtype=np.float64)[order]
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        object.__setattr__(self, "step_min", grid_step(self.seconds))

    @property
    def n(self) -> int:
        return len(self.glucose)

    def local_time(self, i: int, sep: str = "T") -> str:
        """Reading ``i``'s time as written in the file: ISO 8601, no offset."""
        return local_iso(float(self.local[i]), sep)

    def observed_days(self) -> float:
        """Days of CGM data: each reading stands for one grid step (gaps are not counted)."""
        return self.n * self.step_min / 1440.0


def grid_step(seconds: np.ndarray) -> float:
    """The grid step in minutes as iglu infers it: the median time between readings, rounded (half to even,
    as R rounds); never below one minute, so that duplicated timestamps cannot make it zero."""
    if len(seconds) < 2:
        return DEFAULT_STEP_MIN
    return max(float(np.round(np.median(np.diff(seconds) / 60.0))), 1.0)


def local_iso(seconds: float, sep: str = "T") -> str:
    moment = EPOCH + dt.timedelta(seconds=seconds)
    return moment.isoformat(sep=sep, timespec="microseconds" if moment.microsecond else "seconds")


@dataclass(frozen=True)
class Recording:
    """What one file holds: its subjects and how it was read."""

    dataset: str
    layout: str
    unit: str
    unit_source: str
    subjects: tuple[Subject, ...]
    group_column: str | None = None
    skipped_rows: int = 0  # rows without a glucose value or a time (NA), as iglu drops them
    censored_low: int = 0  # "Low" readings (below the sensor's range), counted at its lower limit
    censored_high: int = 0  # "High" readings, counted at its upper limit

    def notes(self) -> list[str]:
        """What a reader should know about how the file was read (one line each, no values)."""
        out = []
        if self.unit_source == "values" and self.unit == "mmol/L":
            out.append(f"{self.dataset}: no unit in the header; every value is below 35, read as mmol/L (x 18)")
        if self.skipped_rows:
            out.append(f"{self.dataset}: {self.skipped_rows} row(s) without a glucose value or time were skipped")
        if self.censored_low or self.censored_high:
            out.append(f"{self.dataset}: {self.censored_low} 'Low' and {self.censored_high} 'High' reading(s) "
                       "counted at the sensor's limits (40 and 400 mg/dL)")
        return out
