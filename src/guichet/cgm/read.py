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
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    ids: list[str] = field(default_factory=list)
    groups: list[str | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    local: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    censored: list[int] = field(default_factory=list)  # -1 Low, +1 High, 0 a number
    skipped: int = 0


def read_recording(path: Path, unit: str | None = None, group_by: str | None = None) -> Recording:
    """Read ``path``; ``unit`` forces mg/dL or mmol/L (default: the header's, else the values')."""
    if unit is not None and unit not in UNITS:
        raise BadInput(f"--unit: expected one of {', '.join(UNITS)}")
    text = _text(path)
    delimiter = _delimiter(text.partition("\n")[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise BadInput(f"{path.name}: empty file (expected a header line)")
    names = [h.strip().lower() for h in header]
    columns, layout = _columns(path, names, group_by)
    rows = _rows(path, reader, columns, decimal_comma=delimiter != ",")
    if not rows.values:
        raise BadInput(f"{path.name}: no glucose reading found")
    found_unit, source = _unit(columns.glucose_name, rows.values, unit)
    return Recording(
        dataset=path.stem, layout=layout, unit=found_unit, unit_source=source,
        subjects=_subjects(path, rows, found_unit), group_column=columns.group_name,
        skipped_rows=rows.skipped, censored_low=rows.censored.count(-1), censored_high=rows.censored.count(1),
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
        missing = " and ".join(n for n, i in (("a time", time), ("a glucose", glucose)) if i is None)
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


def _rows(path: Path, reader: Iterator[list[str]], c: _Columns, decimal_comma: bool) -> _Rows:
    out = _Rows()
    line = 1
    for row in reader:
        line = reader.line_num  # type: ignore[attr-defined]
        if not row or all(not cell.strip() for cell in row):
            continue
        if c.event is not None and _cell(row, c.event).upper() != "EGV":
            continue  # Dexcom: the patient, device and alert-settings rows, calibrations, events
        raw_value = _cell(row, c.glucose)
        raw_time = _cell(row, c.time)
        if raw_value.lower() in MISSING or raw_time.lower() in MISSING:
            out.skipped += 1
            continue
        value, censored = _glucose(path, line, raw_value, decimal_comma)
        instant, local = _time(path, line, raw_time)
        subject = _cell(row, c.id) if c.id is not None else path.stem
        if not subject:
            raise BadInput(f"{path.name} line {line}, field id: empty subject id")
        out.ids.append(subject)
        out.groups.append(_cell(row, c.group) or None if c.group is not None else None)
        out.seconds.append(instant)
        out.local.append(local)
        out.values.append(value)
        out.censored.append(censored)
    return out


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _glucose(path: Path, line: int, raw: str, decimal_comma: bool) -> tuple[float, int]:
    lowered = raw.lower()
    if lowered == "low":
        return float("-inf"), -1
    if lowered == "high":
        return float("inf"), 1
    try:
        value = float(raw.replace(",", ".") if decimal_comma else raw)
    except ValueError:
        raise BadInput(f"{path.name} line {line}, field glucose: not a number") from None
    if not np.isfinite(value) or value <= 0:
        raise BadInput(f"{path.name} line {line}, field glucose: must be a positive number")
    return value, 0


def _time(path: Path, line: int, raw: str) -> tuple[float, float]:
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"{path.name} line {line}, field time: not an ISO 8601 date-time "
                       "(YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DDTHH:MM[:SS])") from None
    local = (moment.replace(tzinfo=None) - EPOCH).total_seconds()
    return (moment.timestamp() if moment.tzinfo is not None else local), local


def _unit(column_name: str, values: list[float], forced: str | None) -> tuple[str, str]:
    if forced is not None:
        return forced, "option"
    if "mmol" in column_name:
        return "mmol/L", "header"
    if "mg/dl" in column_name or "mgdl" in column_name:
        return "mg/dL", "header"
    finite = [v for v in values if np.isfinite(v)]
    return ("mmol/L" if finite and max(finite) <= MAX_MMOL else "mg/dL"), "values"


def _subjects(path: Path, rows: _Rows, unit: str) -> tuple[Subject, ...]:
    values = np.asarray(rows.values, dtype=np.float64)
    if unit == "mmol/L":
        # Rounded so that a file written as mg/dL / 18 reads back to its exact mg/dL values.
        values = np.round(values * MGDL_PER_MMOL, 9)
    values = np.where(values == -np.inf, SENSOR_LOW_MGDL, np.where(values == np.inf, SENSOR_HIGH_MGDL, values))
    implausible = np.flatnonzero(values > MAX_PLAUSIBLE_MGDL)
    if implausible.size:
        raise BadInput(f"{path.name}: {implausible.size} reading(s) above {MAX_PLAUSIBLE_MGDL:.0f} mg/dL "
                       f"read as {unit}: is the unit right? (--unit)")
    seconds = np.asarray(rows.seconds, dtype=np.float64)
    local = np.asarray(rows.local, dtype=np.float64)
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
