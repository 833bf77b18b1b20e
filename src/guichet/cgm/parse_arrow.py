"""The whole-column parser, on PyArrow's CSV reader (C++, threaded, compact strings): about 16 times the
file's size in memory and 3 µs a row with Python strings, against a few times the file's size here.

It declines (returns None) rather than guess: on any row it cannot parse exactly as ``parse`` would — a
value or time it refuses, a time with a UTC offset, a ragged row, a line break inside quotes — and ``read``
then runs ``parse``, which either reads the file or names the line at fault. A property test checks that the
two agree wherever this one answers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from guichet.cgm.layout import MISSING, Columns, Rows

# The ISO shapes numpy accepts in ``parse``; anything else (offsets, Z, dates alone) goes row by row.
ISO_NAIVE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"
_MISSING = pa.array(sorted(MISSING))


def parse_columns(data: bytes, n_columns: int, delimiter: str, c: Columns, stem: str,
                  decimal_comma: bool) -> Rows | None:
    names = [f"c{i}" for i in range(n_columns)]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={names[i]: pa.string() for i in c.used}, include_columns=[names[i] for i in c.used],
                strings_can_be_null=False, quoted_strings_can_be_null=False))
        return _rows(table, names, c, stem, decimal_comma)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def _rows(table: pa.Table, names: list[str], c: Columns, stem: str, decimal_comma: bool) -> Rows | None:
    def column(i: int) -> pa.Array:
        return pc.utf8_trim_whitespace(table.column(names[i]).combine_chunks())

    time, raw = column(c.time), column(c.glucose)
    egv = pc.equal(pc.utf8_upper(column(c.event)), "EGV") if c.event is not None else None
    missing = pc.or_(pc.is_in(pc.utf8_lower(raw), value_set=_MISSING), pc.is_in(pc.utf8_lower(time), value_set=_MISSING))
    keep = pc.invert(missing) if egv is None else pc.and_(egv, pc.invert(missing))
    considered = len(time) if egv is None else pc.sum(egv).as_py() or 0
    time, raw = time.filter(keep), raw.filter(keep)
    if len(time) and not pc.all(pc.match_substring_regex(time, ISO_NAIVE)).as_py():
        return None
    local = pc.cast(pc.cast(time, pa.timestamp("us")), pa.int64()).to_numpy(zero_copy_only=False) / 1e6
    values = _values(raw, decimal_comma)
    if values is None:
        return None
    if c.id is not None:
        ids = column(c.id).filter(keep)
        if len(ids) and not pc.all(pc.not_equal(ids, "")).as_py():
            return None
        subject_codes, subject_names = _encode(ids)
    else:
        subject_codes, subject_names = np.zeros(len(time), dtype=np.int64), [stem]
    if c.group is not None:
        group_codes, group_names = _encode(column(c.group).filter(keep), none="")
    else:
        group_codes, group_names = np.full(len(time), -1, dtype=np.int64), []
    return Rows(subject_codes=subject_codes, subject_names=subject_names, group_codes=group_codes,
                group_names=group_names, seconds=local, local=local.copy(), values=values,
                skipped=int(considered) - len(time))


def _values(raw: pa.Array, decimal_comma: bool) -> np.ndarray | None:
    lowered = pc.utf8_lower(raw)
    low, high = pc.equal(lowered, "low"), pc.equal(lowered, "high")
    numbers = pc.if_else(pc.or_(low, high), "1", raw)
    if decimal_comma:
        numbers = pc.replace_substring(numbers, ",", ".")
    values = pc.cast(numbers, pa.float64()).to_numpy(zero_copy_only=False).copy()
    if not np.all(np.isfinite(values) & (values > 0)):
        return None
    values[low.to_numpy(zero_copy_only=False)] = -np.inf
    values[high.to_numpy(zero_copy_only=False)] = np.inf
    return values


def _encode(array: pa.Array, none: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes by first appearance; ``none`` gets -1 and no name."""
    encoded = array.dictionary_encode()
    names: list[str] = encoded.dictionary.to_pylist()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if none is None or none not in names:
        return codes, names
    gone = names.index(none)
    codes = np.where(codes == gone, -1, codes - (codes > gone))
    return codes, [n for n in names if n != none]
