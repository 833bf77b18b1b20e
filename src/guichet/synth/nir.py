"""Synthetic NIRs: the real layout and control key, in a space no real person can hold.

A NIR is sex (1) · birth year (2) · birth month (2) · birth département (2) · commune (3) · order (3) ·
control key (2). The key is 97 − (the 13 digits mod 97), with Corsica's 2A read as 19 and 2B as 18.

**The synthetic space**: the order number — the rank of the birth certificate in the month and commune,
which INSEE numbers from 001 to 999 — is always ``000``. No real NIR has order ``000``, so no synthetic
NIR can be a real person's, while it still passes the control-key check. The 3-digit "commune" carries a
counter that keeps synthetic NIRs unique (999 people per sex, birth month and département).

**Fictitious NIRs** (``BEN_CDI_NIR`` ≠ ``00`` in ``IR_NIR_V``) are written ``S 55 55 55 CCC NNN`` + key,
where CCC is the 3-digit département of the paying fund and NNN a counter: anonymous care (IVG, STI...).
"""

from __future__ import annotations

import numpy as np

SYNTHETIC_ORDER = "000"
FICTITIOUS_PREFIX = "555555"
_CORSICA = {"2A": "19", "2B": "18"}


def control_key(first13: str) -> int:
    """The NIR control key of 13 characters (2A/2B accepted)."""
    digits = first13[:5] + _CORSICA.get(first13[5:7], first13[5:7]) + first13[7:]
    return 97 - int(digits) % 97


def is_valid(nir: str) -> bool:
    """True for 15 characters whose last two digits are the control key of the first 13."""
    if len(nir) != 15 or not nir[13:].isdigit():
        return False
    body = nir[:5] + _CORSICA.get(nir[5:7], nir[5:7]) + nir[7:13]
    return body.isdigit() and control_key(nir[:13]) == int(nir[13:])


def is_synthetic(nir: str) -> bool:
    """True for a NIR of the synthetic space (order 000) or a fictitious NIR."""
    return nir[10:13] == SYNTHETIC_ORDER or nir[1:7] == FICTITIOUS_PREFIX


def keys(first13: np.ndarray) -> np.ndarray:
    """Vectorised control keys of an array of 13-character strings (2A/2B accepted)."""
    s = first13.astype("U13")
    dpt = np.char.replace(np.char.replace(_slice(s, 5, 7), "2A", "19"), "2B", "18")
    digits = np.char.add(np.char.add(_slice(s, 0, 5), dpt), _slice(s, 7, 13))
    # int64 holds 13 digits; mod 97 in two halves avoids any overflow concern.
    hi = _slice(digits, 0, 7).astype(np.int64)
    lo = _slice(digits, 7, 13).astype(np.int64)
    return 97 - (hi * 1_000_000 + lo) % 97


def with_keys(first13: np.ndarray) -> np.ndarray:
    return np.char.add(first13.astype("U13"), np.char.zfill(keys(first13).astype("U2"), 2))


def _slice(a: np.ndarray, start: int, stop: int) -> np.ndarray:
    return a.view("U1").reshape(a.size, -1)[:, start:stop].copy().view(f"U{stop - start}").reshape(a.shape)


class NirAllocator:
    """Hands out unique synthetic NIRs across chunks: a counter per (sex, year, month, département)."""

    def __init__(self, departements: tuple[str, ...]) -> None:
        self._dpts = departements
        self._counts = np.zeros((2, 100, 12, len(departements)), dtype=np.int32)

    def allocate(self, sex: np.ndarray, birth: np.ndarray, dpt_index: np.ndarray) -> np.ndarray:
        """NIRs (15 chars) for people born on ``birth`` (datetime64[D]) in département ``dpt_index``."""
        n = sex.size
        if n == 0:
            return np.array([], dtype="U15")
        year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
        month = birth.astype("datetime64[M]").astype(np.int64) % 12
        if "02A" in self._dpts and "02B" in self._dpts:
            # Before 1976 Corsica was one département (20): both halves share one counter.
            corsica_b = self._dpts.index("02B")
            dpt_index = np.where((year < 1976) & (dpt_index == corsica_b), self._dpts.index("02A"), dpt_index)
        cells = np.ravel_multi_index((sex - 1, year % 100, month, dpt_index), self._counts.shape)
        flat = self._counts.reshape(-1)
        order = np.argsort(cells, kind="stable")
        sorted_cells = cells[order]
        first = np.r_[True, sorted_cells[1:] != sorted_cells[:-1]]
        group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - group_start
        counter = flat[cells] + rank + 1
        np.add.at(flat, cells, 1)
        if counter.max() > 999:
            from guichet.errors import Unavailable

            raise Unavailable("synthetic NIR space exhausted for a birth cell; use fewer --persons")
        # Spread the counter over 001-999 so that communes look varied (389 is prime to 999).
        commune = (counter * 389) % 999 + 1
        dpt = np.array(self._dpts)[dpt_index]
        code = np.char.zfill(np.char.replace(np.char.replace(dpt, "02A", "2A"), "02B", "2B"), 3)
        code2 = _slice(code, 1, 3)
        # Before 1976 Corsica was département 20.
        code2 = np.where((year < 1976) & np.isin(code2, ["2A", "2B"]), "20", code2)
        body = _concat(sex.astype("U1"), np.char.zfill((year % 100).astype("U2"), 2),
                       np.char.zfill((month + 1).astype("U2"), 2), code2,
                       np.char.zfill(commune.astype("U3"), 3), np.full(n, SYNTHETIC_ORDER))
        return with_keys(body)


def fictitious(sex: np.ndarray, dpt_codes: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """Fictitious NIRs: sex · 555555 · département of the fund (3 digits) · counter (3 digits) · key."""
    dpt = np.char.replace(np.char.replace(dpt_codes.astype("U3"), "02A", "020"), "02B", "020")
    body = _concat(sex.astype("U1"), np.full(sex.size, FICTITIOUS_PREFIX), dpt,
                   np.char.zfill((counter % 1000).astype("U3"), 3))
    return with_keys(body)


def corrupt_key(nirs: np.ndarray) -> np.ndarray:
    """The same NIRs with a wrong control key (the defect ``invalid_nir_key``)."""
    k = keys(_slice(nirs.astype("U15"), 0, 13))
    wrong = (k + 1 + (k % 7)) % 97 + 1
    wrong = np.where(wrong == k, k % 97 + 1, wrong)
    return np.char.add(_slice(nirs.astype("U15"), 0, 13), np.char.zfill(wrong.astype("U2"), 2))


def _concat(*parts: np.ndarray) -> np.ndarray:
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(out, p)
    return out
