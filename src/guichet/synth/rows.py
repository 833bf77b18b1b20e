"""Rows of one table for one chunk, as column arrays, and the helpers that format them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

DAY = np.timedelta64(1, "D")
REFERENTIAL = -1  # arrival of referential rows (IR_BEN_R, IR_IMB_R): they go to every delivery


@dataclass
class Counters:
    """Running numbers that continue from chunk to chunk (claims, stays, certificates, people)."""

    dct_ord: int = 0
    rsa: int = 0
    cert: int = 0
    fict: int = 0
    outside_person: int = 0


@dataclass
class Rows:
    """One table's rows of a chunk: text columns, the truth person key and where each row goes."""

    table: str  # SNDS table name: ER_PRS_F, T_MCOaaB...
    cols: dict[str, np.ndarray]
    person: np.ndarray  # int64 person key per row
    arrival: np.ndarray  # flow-month index per row, or REFERENTIAL
    year: np.ndarray | None = None  # care year for per-year tables (PMSI)
    death: np.ndarray | None = None  # true death date of the row's person (datetime64[D], NaT alive)
    defects: list[tuple[int, str, str]] = field(default_factory=list)  # (row index, column, code)

    def __post_init__(self) -> None:
        self.cols = {k: v if v.dtype == object else v.astype(object) for k, v in
                     ((k, np.asarray(v)) for k, v in self.cols.items())}

    @property
    def n(self) -> int:
        return int(self.person.size)

    def take(self, index: np.ndarray) -> Rows:
        """The rows at ``index`` (in that order); defects follow their row."""
        inverse = np.full(self.n, -1, dtype=np.int64)
        inverse[index] = np.arange(index.size)
        defects = [(int(inverse[r]), c, d) for r, c, d in self.defects if inverse[r] >= 0]
        return Rows(self.table, {k: v[index] for k, v in self.cols.items()}, self.person[index],
                    self.arrival[index], None if self.year is None else self.year[index],
                    None if self.death is None else self.death[index], defects)


_LUT_FIRST = np.datetime64("1880-01-01", "D")
_LUT_DAYS = int((np.datetime64("2110-12-31", "D") - _LUT_FIRST) / DAY) + 1


@lru_cache(maxsize=1)
def _iso_lut() -> np.ndarray:
    days = _LUT_FIRST + np.arange(_LUT_DAYS).astype("timedelta64[D]")
    return np.array([*np.datetime_as_string(days, unit="D").tolist(), ""], dtype=object)


@lru_cache(maxsize=1)
def _dmy_lut() -> np.ndarray:
    return np.array([f"{s[8:10]}{s[5:7]}{s[0:4]}" if s else "" for s in _iso_lut().tolist()], dtype=object)


def _lut_index(days: np.ndarray) -> np.ndarray:
    d = days.astype("datetime64[D]")
    idx = (d - _LUT_FIRST).astype(np.int64)
    bad = np.isnat(d)
    if idx.size and (idx[~bad].min(initial=0) < 0 or idx[~bad].max(initial=0) >= _LUT_DAYS):
        raise ValueError("date outside 1880-2110")
    return np.where(bad, _LUT_DAYS, idx)


def iso(days: np.ndarray) -> np.ndarray:
    """YYYY-MM-DD (object strings), empty for NaT; a table lookup, ~20x faster than datetime_as_string."""
    return _iso_lut()[_lut_index(days)]


def ddmmyyyy(days: np.ndarray) -> np.ndarray:
    return _dmy_lut()[_lut_index(days)]


def year_of(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[Y]").astype(np.int64) + 1970


def month_of(days: np.ndarray) -> np.ndarray:
    """1-12."""
    return days.astype("datetime64[M]").astype(np.int64) % 12 + 1


def month_index(days: np.ndarray) -> np.ndarray:
    """year·12 + month − 1, as params.month_index."""
    m = days.astype("datetime64[M]").astype(np.int64)
    return m + 1970 * 12


def first_of_month(index: np.ndarray) -> np.ndarray:
    return (index - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]")


@lru_cache(maxsize=1)
def _int_lut() -> np.ndarray:
    return np.array([str(i) for i in range(100_000)], dtype=object)


@lru_cache(maxsize=1)
def _money_lut() -> np.ndarray:
    return np.array([f"{c // 100}.{c % 100:02d}" for c in range(100_000)], dtype=object)


def money(cents: np.ndarray) -> np.ndarray:
    """Amounts in cents as euros with two decimals ("26.50")."""
    c = cents.astype(np.int64)
    if c.size and c.min() >= 0 and c.max() < 100_000:
        return _money_lut()[c]
    return np.array([f"{v // 100}.{v % 100:02d}" for v in c.tolist()], dtype=object)


def text(values: np.ndarray) -> np.ndarray:
    """Integers as object strings."""
    v = values.astype(np.int64)
    if v.size and v.min() >= 0 and v.max() < 100_000:
        return _int_lut()[v]
    return np.array(list(map(str, v.tolist())), dtype=object)


def two(values: np.ndarray) -> np.ndarray:
    """Integers 0-99 as two digits."""
    return _two_lut()[values.astype(np.int64)]


def three(values: np.ndarray) -> np.ndarray:
    """Integers 0-999 as three digits (commune numbers)."""
    return _three_lut()[values.astype(np.int64)]


@lru_cache(maxsize=1)
def _three_lut() -> np.ndarray:
    return np.array([f"{i:03d}" for i in range(1000)], dtype=object)


@lru_cache(maxsize=1)
def _two_lut() -> np.ndarray:
    return np.array([f"{i:02d}" for i in range(100)], dtype=object)


def ranks_within(groups: np.ndarray) -> np.ndarray:
    """0-based rank of each element within its run of equal values (``groups`` sorted)."""
    n = groups.size
    if n == 0:
        return np.array([], dtype=np.int64)
    first = np.r_[True, groups[1:] != groups[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    return np.arange(n) - start


def pick(rng: np.random.Generator, choices: tuple[str, ...], n: int) -> np.ndarray:
    return np.array(choices, dtype=object)[rng.integers(0, len(choices), n)] if n else np.array([], dtype=object)
