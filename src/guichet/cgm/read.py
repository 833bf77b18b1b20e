"""Read a CGM file into subjects: long files (``id,time,gl`` as iglu writes them, with any extra column such
as the Hall data's ``diagnosis``) and Dexcom Clarity exports, in mg/dL or mmol/L.

Bad input stops with one line naming the file, line and field, never the value (a shifted column could put a
name where a time belongs). Missing values (``NA``, empty) are skipped as iglu skips them, and counted.
"Low" and "High" (a reading outside the sensor's range) are kept at the range's limits rather than dropped:
dropping them would hide exactly the hypoglycaemia the metrics are about.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from guichet.cgm.layout import Rows, delimiter, find_columns
from guichet.cgm.parse import Source, parse_rows
from guichet.cgm.parse_arrow import parse_columns
from guichet.cgm.readings import MGDL_PER_MMOL, Recording, Subject
from guichet.errors import BadInput

SENSOR_LOW_MGDL = 40.0
SENSOR_HIGH_MGDL = 400.0
MAX_MMOL = 35.0  # no mg/dL file has every reading below this; no mmol/L reading reaches it
MAX_PLAUSIBLE_MGDL = 1000.0
UNITS = ("mg/dL", "mmol/L")
BOM = b"\xef\xbb\xbf"


def read_recording(path: Path, unit: str | None = None, group_by: str | None = None) -> Recording:
    """Read ``path``; ``unit`` forces mg/dL or mmol/L (default: the header's, else the values')."""
    if unit is not None and unit not in UNITS:
        raise BadInput(f"--unit: expected one of {', '.join(UNITS)}")
    data = _bytes(path)
    _text(path, data)  # decoded to check it is UTF-8, then dropped: the column parser reads the bytes
    end = data.find(b"\n")
    first_line = (data if end < 0 else data[:end]).decode("utf-8")
    sep = delimiter(first_line)
    header = next(csv.reader(io.StringIO(first_line, newline=""), delimiter=sep), [])
    if not any(h.strip() for h in header):
        raise BadInput(f"{path.name}: empty file (expected a header line)")
    columns, layout = find_columns(path, [h.strip().lower() for h in header], group_by)
    rows = parse_columns(data, len(header), sep, columns, path.stem, decimal_comma=sep != ",")
    if rows is None:
        rows = parse_rows(Source(path, _text(path, data), sep), columns, decimal_comma=sep != ",")
    if not rows.values.size:
        raise BadInput(f"{path.name}: no glucose reading found")
    found_unit, source = _unit(columns.glucose_name, rows.values, unit)
    return Recording(
        dataset=path.stem, layout=layout, unit=found_unit, unit_source=source,
        subjects=_subjects(path, rows, found_unit), group_column=columns.group_name,
        skipped_rows=rows.skipped, censored_low=int(np.count_nonzero(rows.values == -np.inf)),
        censored_high=int(np.count_nonzero(rows.values == np.inf)),
    )


def _bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a folder, not a CGM file") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror})") from None
    return data[len(BOM):] if data.startswith(BOM) else data


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path.name}: not UTF-8 text (byte {exc.start})") from None


def _unit(column_name: str, values: np.ndarray, forced: str | None) -> tuple[str, str]:
    if forced is not None:
        return forced, "option"
    if "mmol" in column_name:
        return "mmol/L", "header"
    if "mg/dl" in column_name or "mgdl" in column_name:
        return "mg/dL", "header"
    finite = values[np.isfinite(values)]
    return ("mmol/L" if finite.size and finite.max() <= MAX_MMOL else "mg/dL"), "values"


def _subjects(path: Path, rows: Rows, unit: str) -> tuple[Subject, ...]:
    values = rows.values
    if unit == "mmol/L":
        # Rounded so that a file written as mg/dL / 18 reads back to its exact mg/dL values.
        values = np.round(values * MGDL_PER_MMOL, 9)
    values = np.where(values == -np.inf, SENSOR_LOW_MGDL, np.where(values == np.inf, SENSOR_HIGH_MGDL, values))
    implausible = np.flatnonzero(values > MAX_PLAUSIBLE_MGDL)
    if implausible.size:
        raise BadInput(f"{path.name}: {implausible.size} reading(s) above {MAX_PLAUSIBLE_MGDL:.0f} mg/dL "
                       f"read as {unit}: is the unit right? (--unit)")
    # One pass: rows grouped by subject code (codes follow the order of first appearance).
    order = np.argsort(rows.subject_codes, kind="stable")
    counts = np.bincount(rows.subject_codes, minlength=len(rows.subject_names))
    subjects = []
    for code, idx in enumerate(np.split(order, np.cumsum(counts)[:-1])):
        groups = np.unique(rows.group_codes[idx])
        groups = groups[groups >= 0]
        if groups.size > 1:
            raise BadInput(f"{path.name}: the group column changes within one subject (one value per subject)")
        subjects.append(Subject(id=rows.subject_names[code], seconds=rows.seconds[idx], local=rows.local[idx],
                                glucose=values[idx], group=rows.group_names[groups[0]] if groups.size else None))
    return tuple(subjects)
