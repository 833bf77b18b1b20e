"""Read a CGM file into subjects: long files (``id,time,gl`` as iglu writes them, with any extra column such
as the Hall data's ``diagnosis``) and Dexcom Clarity exports, in mg/dL or mmol/L.

Bad input stops with one line naming the file, line and field, never the value (a shifted column could put a
name where a time belongs). Missing values (``NA``, empty) are skipped as iglu skips them, and counted.
"Low" and "High" (a reading outside the sensor's range) are kept at the range's limits rather than dropped:
dropping them would hide exactly the hypoglycaemia the metrics are about.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guichet.cgm.readings import EPOCH, MGDL_PER_MMOL, Recording, Subject
from guichet.errors import BadInput

MISSING = frozenset({"", "na", "nan", "null", "none"})
SENSOR_LOW_MGDL = 40.0
SENSOR_HIGH_MGDL = 400.0
MAX_MMOL = 35.0  # no mg/dL file has every reading below this; no mmol/L reading reaches it
MAX_PLAUSIBLE_MGDL = 1000.0
UNITS = ("mg/dL", "mmol/L")

ID_NAMES = ("id", "subject", "subject_id", "subjectid", "patient", "patient_id", "ptid")
TIME_NAMES = ("time", "timestamp", "datetime", "date_time", "displaytime", "device timestamp")
GLUCOSE_NAMES = ("gl", "glucose", "sensor glucose", "sensor_glucose", "glucose value", "cgm")


@dataclass
class _Columns:
    time: int
    glucose: int
    id: int | None = None
    group: int | None = None
    event: int | None = None  # Dexcom: only rows whose event type is EGV are readings
    glucose_name: str = ""
    group_name: str | None = None


@dataclass
class _Rows:
    """The readings of a file as columns, in file order (``local`` and ``seconds`` in seconds since 1970)."""

    ids: list[str]
    groups: list[str | None]
    seconds: np.ndarray
    local: np.ndarray
    values: np.ndarray  # as written (mg/dL or mmol/L); -inf for "Low", +inf for "High"
    skipped: int


def read_recording(path: Path, unit: str | None = None, group_by: str | None = None) -> Recording:
    """Read ``path``; ``unit`` forces mg/dL or mmol/L (default: the header's, else the values')."""
    if unit is not None and unit not in UNITS:
        raise BadInput(f"--unit: expected one of {', '.join(UNITS)}")
    text = _text(path)
    delimiter = _delimiter(text.partition("\n")[0])
    table = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not table or not any(h.strip() for h in table[0]):
        raise BadInput(f"{path.name}: empty file (expected a header line)")
    columns, layout = _columns(path, [h.strip().lower() for h in table[0]], group_by)
    rows = _rows(_Source(path, text, delimiter), table, columns, decimal_comma=delimiter != ",")
    if not rows.values.size:
        raise BadInput(f"{path.name}: no glucose reading found")
    found_unit, source = _unit(columns.glucose_name, rows.values, unit)
    return Recording(
        dataset=path.stem, layout=layout, unit=found_unit, unit_source=source,
        subjects=_subjects(path, rows, found_unit), group_column=columns.group_name,
        skipped_rows=rows.skipped, censored_low=int(np.count_nonzero(rows.values == -np.inf)),
        censored_high=int(np.count_nonzero(rows.values == np.inf)),
    )


def _text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a folder, not a CGM file") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path.name}: not UTF-8 text (byte {exc.start})") from None


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _find(names: list[str], wanted: tuple[str, ...], prefix: bool = False) -> int | None:
    for want in wanted:
        for i, name in enumerate(names):
            if name == want or (prefix and name.startswith(want)):
                return i
    return None


def _columns(path: Path, names: list[str], group_by: str | None) -> tuple[_Columns, str]:
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
    columns = _Columns(time=time, glucose=glucose, id=None if dexcom else _find(names, ID_NAMES), group=group,
                       event=event if dexcom else None, glucose_name=names[glucose],
                       group_name=names[group] if group is not None else None)
    return columns, "dexcom-clarity" if dexcom else "long"


@dataclass(frozen=True)
class _Source:
    """The file, kept to find the line of a bad row (a quoted cell may span lines)."""

    path: Path
    text: str
    delimiter: str

    def line(self, row: int) -> int:
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        for _ in range(row + 1):
            next(reader)
        return reader.line_num

    def bad(self, row: int, field: str, rule: str) -> BadInput:
        return BadInput(f"{self.path.name} line {self.line(row)}, field {field}: {rule}")


def _rows(src: _Source, table: list[list[str]], c: _Columns, decimal_comma: bool) -> _Rows:
    """Whole columns at once (numpy parses the numbers and ISO times); a row-by-row pass only to name the
    line at fault, or for times that carry a UTC offset."""
    width = max(i for i in (c.time, c.glucose, c.id, c.group, c.event) if i is not None) + 1
    # A blank line is [] or [""]; a line of empty cells passes and is skipped below as a missing value.
    at = [k for k in range(1, len(table)) if len(table[k]) > 1 or (table[k] and table[k][0].strip())]
    if c.event is not None:  # Dexcom: the patient, device and alert-settings rows, calibrations, events
        at = [k for k in at if len(table[k]) > c.event and table[k][c.event].strip().upper() == "EGV"]
    rows = [table[k] if len(table[k]) >= width else table[k] + [""] * (width - len(table[k])) for k in at]
    times = [r[c.time].strip() for r in rows]
    raw = [r[c.glucose].strip() for r in rows]
    present = [v.lower() not in MISSING and t.lower() not in MISSING for v, t in zip(raw, times, strict=True)]
    keep = [k for k, p in enumerate(present) if p]
    at, rows = [at[k] for k in keep], [rows[k] for k in keep]
    times, raw = [times[k] for k in keep], [raw[k] for k in keep]
    ids = [r[c.id].strip() for r in rows] if c.id is not None else [src.path.stem] * len(rows)
    empty = next((k for k, sid in enumerate(ids) if not sid), None)
    if empty is not None:
        raise src.bad(at[empty], "id", "empty subject id")
    seconds, local = _times(src, at, times)
    return _Rows(ids=ids, groups=[(r[c.group].strip() or None) for r in rows] if c.group is not None else
                 [None] * len(rows), seconds=seconds, local=local, values=_values(src, at, raw, decimal_comma),
                 skipped=len(present) - len(keep))


def _values(src: _Source, at: list[int], raw: list[str], decimal_comma: bool) -> np.ndarray:
    lowered = [v.lower() for v in raw]
    censored = {"low": -np.inf, "high": np.inf}
    numbers = [v.replace(",", ".") if decimal_comma else v for v, low in zip(raw, lowered, strict=True)
               if low not in censored]
    try:
        parsed = np.asarray(numbers, dtype=np.float64)
    except ValueError:
        parsed = None
    if parsed is None or not np.all(np.isfinite(parsed) & (parsed > 0)):
        for k, (v, low) in enumerate(zip(raw, lowered, strict=True)):
            if low in censored:
                continue
            try:
                value = float(v.replace(",", ".") if decimal_comma else v)
            except ValueError:
                raise src.bad(at[k], "glucose", "not a number") from None
            if not np.isfinite(value) or value <= 0:
                raise src.bad(at[k], "glucose", "must be a positive number")
    out = np.empty(len(raw), dtype=np.float64)
    is_number = np.asarray([low not in censored for low in lowered], dtype=bool)
    out[is_number] = parsed if parsed is not None else []
    out[~is_number] = [censored[low] for low in lowered if low in censored]
    return out


def _times(src: _Source, at: list[int], times: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since 1970 (instants, and the file's wall clock). A time must say the hour: YYYY-MM-DD HH:MM at
    least, with a space or a T."""
    shaped = all(len(t) >= 16 and t[10] in " T" for t in times)
    if shaped:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # numpy only warns on a UTC offset: those go row by row
                stamps = np.asarray(times, dtype="datetime64[us]")
            local = (stamps - np.datetime64(0, "us")).astype(np.int64) / 1e6
            return local, local.copy()
        except (ValueError, Warning):
            pass
    seconds, local = np.empty(len(times)), np.empty(len(times))
    for k, raw in enumerate(times):
        seconds[k], local[k] = _time(src, at[k], raw)
    return seconds, local


def _time(src: _Source, row: int, raw: str) -> tuple[float, float]:
    try:
        if len(raw) < 16 or raw[10] not in " T":
            raise ValueError(raw)
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise src.bad(row, "time", "not an ISO 8601 date-time (YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DDTHH:MM[:SS])"
                      ) from None
    local = (moment.replace(tzinfo=None) - EPOCH).total_seconds()
    return (moment.timestamp() if moment.tzinfo is not None else local), local


def _unit(column_name: str, values: np.ndarray, forced: str | None) -> tuple[str, str]:
    if forced is not None:
        return forced, "option"
    if "mmol" in column_name:
        return "mmol/L", "header"
    if "mg/dl" in column_name or "mgdl" in column_name:
        return "mg/dL", "header"
    finite = values[np.isfinite(values)]
    return ("mmol/L" if finite.size and finite.max() <= MAX_MMOL else "mg/dL"), "values"


def _subjects(path: Path, rows: _Rows, unit: str) -> tuple[Subject, ...]:
    values = rows.values
    if unit == "mmol/L":
        # Rounded so that a file written as mg/dL / 18 reads back to its exact mg/dL values.
        values = np.round(values * MGDL_PER_MMOL, 9)
    values = np.where(values == -np.inf, SENSOR_LOW_MGDL, np.where(values == np.inf, SENSOR_HIGH_MGDL, values))
    implausible = np.flatnonzero(values > MAX_PLAUSIBLE_MGDL)
    if implausible.size:
        raise BadInput(f"{path.name}: {implausible.size} reading(s) above {MAX_PLAUSIBLE_MGDL:.0f} mg/dL "
                       f"read as {unit}: is the unit right? (--unit)")
    seconds, local = rows.seconds, rows.local
    groups = np.asarray(rows.groups, dtype=object)
    # One pass: rows grouped by subject, subjects in the file's order of first appearance (iglu's unique()).
    _, first, inverse = np.unique(np.asarray(rows.ids, dtype=object), return_index=True, return_inverse=True)
    by_subject = np.split(np.argsort(inverse, kind="stable"), np.cumsum(np.bincount(inverse))[:-1])
    subjects = []
    for k in np.argsort(first, kind="stable"):
        idx = by_subject[k]
        present = {g for g in groups[idx] if g is not None}
        if len(present) > 1:
            raise BadInput(f"{path.name}: the group column changes within one subject (one value per subject)")
        subjects.append(Subject(id=rows.ids[idx[0]], seconds=seconds[idx], local=local[idx], glucose=values[idx],
                                group=next(iter(present)) if present else None))
    return tuple(subjects)
