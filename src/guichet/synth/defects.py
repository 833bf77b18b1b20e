"""Defects: fixed codes, where each can go, and how it is made. Every one is recorded in the truth.

A row gets at most one defect. ``duplicate_row`` inserts a copy right after its original and records the
copy (the second occurrence). ``missing_flow_month`` is dataset-level (see ``generate``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

from guichet.synth import nir
from guichet.synth.population import SENTINEL
from guichet.synth.rows import Rows

DEFECT_CODES = (
    "invalid_nir_key", "impossible_date", "future_birth_year", "end_before_start", "code_not_in_nomenclature",
    "duplicate_row", "missing_required", "bad_return_code", "death_date_sentinel", "event_after_death",
    "missing_flow_month",
)
# Values that are in none of the real nomenclatures (tests check them against shared/data).
NOT_IN_NOMENCLATURE = {
    "DGN_PAL": "ZZZ9", "ASS_DGN": "ZZZ9", "MED_MTF_COD": "ZZZ9", "DCD_CIM_COD": "ZZZ9", "ECD_CIM_COD": "ZZZ9",
    "PHA_PRS_C13": "3400999999999", "PRS_NAT_REF": "9998", "BEN_RES_DPT": "0ZZ",
}
ISO, DMY = "iso", "dmy"
# table -> [(code, column, date format of the column or None)]
SPECS: dict[str, list[tuple[str, str, str | None]]] = {
    "IR_BEN_R": [("invalid_nir_key", "BEN_NIR_OUV", None), ("invalid_nir_key", "BEN_NIR", None),
                 ("impossible_date", "BEN_NAI_DTE", ISO), ("future_birth_year", "BEN_NAI_ANN", None),
                 ("code_not_in_nomenclature", "BEN_RES_DPT", None), ("duplicate_row", "", None),
                 ("missing_required", "BEN_SEX_COD", None), ("death_date_sentinel", "BEN_DCD_DTE", None)],
    "ER_PRS_F": [("invalid_nir_key", "BEN_NIR_OUV", None), ("impossible_date", "EXE_SOI_DTD", ISO),
                 ("end_before_start", "EXE_SOI_DTF", ISO), ("code_not_in_nomenclature", "PRS_NAT_REF", None),
                 ("duplicate_row", "", None), ("missing_required", "EXE_SOI_DTD", None),
                 ("event_after_death", "EXE_SOI_DTD", ISO)],
    "ER_PHA_F": [("code_not_in_nomenclature", "PHA_PRS_C13", None), ("duplicate_row", "", None),
                 ("missing_required", "ORG_CLE_NUM", None)],
    "IR_IMB_R": [("invalid_nir_key", "BEN_NIR_OUV", None), ("impossible_date", "IMB_ALD_DTD", ISO),
                 ("end_before_start", "IMB_ALD_DTF", ISO), ("code_not_in_nomenclature", "MED_MTF_COD", None),
                 ("duplicate_row", "", None), ("missing_required", "IMB_ALD_DTD", None)],
    "T_MCOaaB": [("code_not_in_nomenclature", "DGN_PAL", None), ("duplicate_row", "", None),
                 ("missing_required", "COD_SEX", None)],
    "T_MCOaaC": [("invalid_nir_key", "BEN_NIR_OUV", None), ("impossible_date", "ENT_DAT", DMY),
                 ("end_before_start", "SOR_DAT", DMY), ("bad_return_code", "NIR_RET", None),
                 ("missing_required", "ENT_DAT", None), ("event_after_death", "ENT_DAT", DMY)],
    "T_MCOaaD": [("code_not_in_nomenclature", "ASS_DGN", None), ("duplicate_row", "", None)],
    "KI_CCI_R": [("impossible_date", "BEN_DCD_DTE", ISO), ("future_birth_year", "BEN_NAI_ANN", None),
                 ("code_not_in_nomenclature", "DCD_CIM_COD", None), ("duplicate_row", "", None),
                 ("missing_required", "BEN_SEX_COD", None)],
    "KI_ECD_R": [("code_not_in_nomenclature", "ECD_CIM_COD", None), ("duplicate_row", "", None)],
}
# The start date each end date must not precede.
END_OF = {"EXE_SOI_DTF": "EXE_SOI_DTD", "IMB_ALD_DTF": "IMB_ALD_DTD", "SOR_DAT": "ENT_DAT"}
_FORMAT = {ISO: "%Y-%m-%d", DMY: "%d%m%Y"}


def inject(rng: np.random.Generator, rows: Rows, rate: float, end: dt.date) -> Rows:
    """Give about ``rate`` of the clean rows one defect of the table's kinds; return the rows with copies."""
    specs = SPECS[rows.table]
    if rate <= 0 or rows.n == 0 or not specs:
        return rows
    dirty = {r for r, _, _ in rows.defects}
    chosen = np.flatnonzero(rng.random(rows.n) < rate)
    first = rng.integers(0, len(specs), chosen.size)
    duplicates: list[int] = []
    for i, k in zip(chosen.tolist(), first.tolist(), strict=True):
        if i in dirty:
            continue
        for step in range(len(specs)):
            code, column, fmt = specs[(k + step) % len(specs)]
            if code == "duplicate_row":
                duplicates.append(i)
                break
            value = rows.cols[column][i] if column in rows.cols else None
            new = _make(code, column, fmt, value, rows, i, end, rng)
            if new is not None:
                rows.cols[column][i] = new
                rows.defects.append((i, column, code))
                if code == "event_after_death" and column == "EXE_SOI_DTD":
                    rows.cols["EXE_SOI_DTF"][i] = new
                if code == "event_after_death" and column == "ENT_DAT":
                    rows.cols["SOR_DAT"][i] = new
                break
    if not duplicates:
        return rows
    dup = np.array(sorted(duplicates))
    index = np.sort(np.concatenate([np.arange(rows.n), dup]), kind="stable")
    return _take(rows, index)


def _take(rows: Rows, index: np.ndarray) -> Rows:
    """Rows at ``index`` where a repeated index is a copy: the copy is recorded as ``duplicate_row``."""
    second = np.r_[False, index[1:] == index[:-1]]
    new_pos = np.flatnonzero(~second)  # index is sorted: the k-th original lands at new_pos[k]
    defects = [(int(new_pos[r]), c, d) for r, c, d in rows.defects]
    defects += [(int(pos), "", "duplicate_row") for pos in np.flatnonzero(second).tolist()]
    return Rows(rows.table, {k: v[index] for k, v in rows.cols.items()}, rows.person[index], rows.arrival[index],
                None if rows.year is None else rows.year[index], None if rows.death is None else rows.death[index],
                defects)


def _make(code: str, column: str, fmt: str | None, value: object, rows: Rows, i: int, end: dt.date,
          rng: np.random.Generator) -> str | None:
    """The defective value for row ``i``, or None when this defect does not apply to the row."""
    if value is None:
        return None
    text = str(value)
    maker = _MAKERS[code]
    return maker(text, column, fmt, rows, i, end, rng)


def _invalid_key(text: str, *_: object) -> str | None:
    return str(nir.corrupt_key(np.array([text]))[0]) if len(text) == 15 else None


def _impossible(text: str, _c: str, fmt: str | None, *_: object) -> str | None:
    if not text or fmt is None:
        return None
    year = text[:4] if fmt == ISO else text[4:]
    return f"{year}-02-30" if fmt == ISO else f"3002{year}"


def _future_year(text: str, _c: str, _f: object, _r: Rows, _i: int, end: dt.date,
                 rng: np.random.Generator) -> str | None:
    return str(end.year + 3 + int(rng.integers(0, 5))) if text else None


def _end_before_start(text: str, column: str, fmt: str | None, rows: Rows, i: int, _e: dt.date,
                      rng: np.random.Generator) -> str | None:
    start_text = str(rows.cols[END_OF[column]][i])
    if not start_text or fmt is None:
        return None
    start = dt.datetime.strptime(start_text, _FORMAT[fmt]).date()
    return (start - dt.timedelta(days=int(rng.integers(1, 31)))).strftime(_FORMAT[fmt])


def _not_in_nomenclature(text: str, column: str, *_: object) -> str | None:
    return NOT_IN_NOMENCLATURE[column]


def _missing(text: str, *_: object) -> str | None:
    return "" if text else None


def _bad_return(text: str, *_: object) -> str | None:
    return "1"


def _sentinel(text: str, *_: object) -> str | None:
    return SENTINEL if text and text != SENTINEL else None


def _after_death(text: str, _c: str, fmt: str | None, rows: Rows, i: int, end: dt.date,
                 rng: np.random.Generator) -> str | None:
    if rows.death is None or np.isnat(rows.death[i]) or fmt is None:
        return None
    death = dt.date.fromisoformat(str(rows.death[i]))
    room = (end - death).days
    if room < 2:
        return None
    return (death + dt.timedelta(days=int(rng.integers(2, min(room, 30) + 1)))).strftime(_FORMAT[fmt])


_MAKERS: dict[str, Callable[..., str | None]] = {
    "invalid_nir_key": _invalid_key, "impossible_date": _impossible, "future_birth_year": _future_year,
    "end_before_start": _end_before_start, "code_not_in_nomenclature": _not_in_nomenclature,
    "missing_required": _missing, "bad_return_code": _bad_return, "death_date_sentinel": _sentinel,
    "event_after_death": _after_death,
}
