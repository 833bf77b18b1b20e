"""The row-by-row parser: the reference behaviour, and the one that names the line at fault. ``read`` uses it
when the whole-column parser (``parse_arrow``) declines a file: an error to report, UTC offsets, ragged rows,
line breaks inside quotes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guichet.cgm.layout import CENSORED, MISSING, Columns, Rows, codes
from guichet.cgm.readings import EPOCH
from guichet.errors import BadInput

TIME_RULE = "not an ISO 8601 date-time (YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DDTHH:MM[:SS])"


@dataclass(frozen=True)
class Source:
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


def parse_rows(src: Source, c: Columns, decimal_comma: bool) -> Rows:
    """Whole columns of Python strings (numpy parses the numbers and ISO times); row by row only to name the
    line at fault, or for times that carry a UTC offset."""
    table = list(csv.reader(io.StringIO(src.text, newline=""), delimiter=src.delimiter))
    width = max(c.used) + 1
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
    subject_codes, subject_names = codes(ids)
    group_codes, group_names = codes([r[c.group].strip() for r in rows] if c.group is not None else
                                     [""] * len(rows), none="")
    seconds, local = _times(src, at, times)
    return Rows(subject_codes=subject_codes, subject_names=subject_names, group_codes=group_codes,
                group_names=group_names, seconds=seconds, local=local, values=_values(src, at, raw, decimal_comma),
                skipped=len(present) - len(keep))


def _values(src: Source, at: list[int], raw: list[str], decimal_comma: bool) -> np.ndarray:
    lowered = [v.lower() for v in raw]
    numbers = [v.replace(",", ".") if decimal_comma else v for v, low in zip(raw, lowered, strict=True)
               if low not in CENSORED]
    try:
        parsed = np.asarray(numbers, dtype=np.float64)
    except ValueError:
        parsed = None
    if parsed is None or not np.all(np.isfinite(parsed) & (parsed > 0)):
        for k, (v, low) in enumerate(zip(raw, lowered, strict=True)):
            if low in CENSORED:
                continue
            try:
                value = float(v.replace(",", ".") if decimal_comma else v)
            except ValueError:
                raise src.bad(at[k], "glucose", "not a number") from None
            if not np.isfinite(value) or value <= 0:
                raise src.bad(at[k], "glucose", "must be a positive number")
    out = np.empty(len(raw), dtype=np.float64)
    is_number = np.asarray([low not in CENSORED for low in lowered], dtype=bool)
    out[is_number] = parsed if parsed is not None else []
    out[~is_number] = [CENSORED[low] for low in lowered if low in CENSORED]
    return out


def _times(src: Source, at: list[int], times: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since 1970 (instants, and the file's wall clock). A time must say the hour: YYYY-MM-DD HH:MM at
    least, with a space or a T."""
    if all(len(t) >= 16 and t[10] in " T" for t in times):
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


def _time(src: Source, row: int, raw: str) -> tuple[float, float]:
    try:
        if len(raw) < 16 or raw[10] not in " T":
            raise ValueError(raw)
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise src.bad(row, "time", TIME_RULE) from None
    local = (moment.replace(tzinfo=None) - EPOCH).total_seconds()
    return (moment.timestamp() if moment.tzinfo is not None else local), local
