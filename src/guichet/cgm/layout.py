"""What a CGM file's header says: which layout, which column holds what; and the columns of readings that
the two parsers (``parse`` row by row, ``parse_arrow`` whole columns) hand to ``read``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guichet.errors import BadInput

MISSING = frozenset({"", "na", "nan", "null", "none"})
CENSORED = {"low": -np.inf, "high": np.inf}  # Dexcom's words for a reading outside the sensor's range

ID_NAMES = ("id", "subject", "subject_id", "subjectid", "patient", "patient_id", "ptid")
TIME_NAMES = ("time", "timestamp", "datetime", "date_time", "displaytime", "device timestamp")
GLUCOSE_NAMES = ("gl", "glucose", "sensor glucose", "sensor_glucose", "glucose value", "cgm")


@dataclass(frozen=True)
class Columns:
    """Column positions in the header."""

    time: int
    glucose: int
    id: int | None = None
    group: int | None = None
    event: int | None = None  # Dexcom: only rows whose event type is EGV are readings
    glucose_name: str = ""
    group_name: str | None = None

    @property
    def used(self) -> list[int]:
        return sorted({i for i in (self.time, self.glucose, self.id, self.group, self.event) if i is not None})


@dataclass
class Rows:
    """The readings of a file as columns, in file order. Subjects and groups are codes into their names, in
    the order of first appearance (as iglu's unique()); group code -1 is no group."""

    subject_codes: np.ndarray
    subject_names: list[str]
    group_codes: np.ndarray
    group_names: list[str]
    seconds: np.ndarray  # instants, seconds since 1970
    local: np.ndarray  # the file's wall clock, seconds since 1970
    values: np.ndarray  # as written (mg/dL or mmol/L); -inf for "Low", +inf for "High"
    skipped: int


def codes(values: list[str], none: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Codes by first appearance; ``none`` (e.g. the empty string) gets -1."""
    index: dict[str, int] = {}
    out = [-1 if v == none else index.setdefault(v, len(index)) for v in values]
    return np.asarray(out, dtype=np.int64), list(index)


def delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _find(names: list[str], wanted: tuple[str, ...], prefix: bool = False) -> int | None:
    for want in wanted:
        for i, name in enumerate(names):
            if name == want or (prefix and name.startswith(want)):
                return i
    return None


def find_columns(path: Path, names: list[str], group_by: str | None) -> tuple[Columns, str]:
    """The columns and the layout ("long" or "dexcom-clarity") from the lower-cased header names."""
    event = _find(names, ("event type",))
    dexcom = event is not None and _find(names, ("glucose value",), prefix=True) is not None
    time = _find(names, ("timestamp",), prefix=True) if dexcom else _find(names, TIME_NAMES)
    glucose = _find(names, GLUCOSE_NAMES) if not dexcom else _find(names, ("glucose value",), prefix=True)
    if glucose is None:
        glucose = _find(names, ("glucose", "gl ", "gl("), prefix=True)
    if time is None or glucose is None:
        missing = " and no ".join(n for n, i in (("time", time), ("glucose", glucose)) if i is None)
        raise BadInput(f"{path.name} line 1: no {missing} column (expected id,time,gl or a Dexcom Clarity export)")
    group = None
    if group_by is not None:
        group = _find(names, (group_by.strip().lower(),))
        if group is None:
            raise BadInput(f"{path.name} line 1: --group-by: no column named {group_by!r}")
    elif not dexcom:
        group = _find(names, ("diagnosis",))
    columns = Columns(time=time, glucose=glucose, id=None if dexcom else _find(names, ID_NAMES), group=group,
                      event=event if dexcom else None, glucose_name=names[glucose],
                      group_name=names[group] if group is not None else None)
    return columns, "dexcom-clarity" if dexcom else "long"
