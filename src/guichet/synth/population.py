"""The people of one chunk: sex, birth, residence, conditions, death, identifiers and insurance rights.

Pure: arrays in, arrays out, from a numpy Generator. Age/sex pyramid: metropolitan France, 1 January 2023,
INSEE population estimates rounded to 0.01 million by five-year band (men, women).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from guichet.synth import nir
from guichet.synth.clinical import AGE_BANDS, CONDITIONS
from guichet.synth.params import SynthRequest
from guichet.synth.reference import Reference

PYRAMID: tuple[tuple[float, float], ...] = (
    (1.76, 1.68), (1.94, 1.85), (2.10, 2.00), (2.10, 2.00), (1.90, 1.86), (1.83, 1.88), (1.90, 1.99),
    (2.00, 2.10), (2.02, 2.08), (2.08, 2.13), (2.17, 2.24), (2.10, 2.22), (1.96, 2.14), (1.80, 2.03),
    (1.65, 1.92), (1.13, 1.42), (0.80, 1.11), (0.48, 0.82), (0.20, 0.45), (0.04, 0.13),
)
# Gompertz hazard per year: exp(A + B·age), men × MALE_RATIO; calibrated to ≈0.9 % deaths a year.
GOMPERTZ_A, GOMPERTZ_B, MALE_RATIO = -11.3, 0.094, 1.6
SENTINEL = "1600-01-01"
DAY = np.timedelta64(1, "D")
NAT = np.datetime64("NaT", "D")


def d64(day: dt.date) -> np.datetime64:
    return np.datetime64(day.isoformat(), "D")


def age_years(birth: np.ndarray, on: np.datetime64) -> np.ndarray:
    return (on - birth).astype(np.int64) / 365.25


def band_of(age: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array(AGE_BANDS[1:]), age, side="right")


@dataclass
class Persons:
    key: np.ndarray  # int64, 1-based person key of the truth
    sex: np.ndarray  # int64 1/2
    birth: np.ndarray  # datetime64[D]
    dpt: np.ndarray  # index into Reference.departements (last known residence)
    com: np.ndarray  # synthetic commune number 1-899
    cond: np.ndarray  # bool (n, len(CONDITIONS))
    ald: np.ndarray  # bool (n, len(CONDITIONS))
    death: np.ndarray  # datetime64[D], NaT when alive at --end
    in_hospital: np.ndarray  # bool: died in an acute stay
    rank: np.ndarray  # BEN_RNG_GEM: 1, or 2 for the second twin
    own_nir: np.ndarray  # U15
    parent_nir: np.ndarray  # U15, "" when never on a parent's rights during the period
    rights: np.ndarray  # datetime64[D]: start of own rights
    own_nir_known: np.ndarray  # bool: BEN_NIR recorded on the parent-rights row
    fict_nir: np.ndarray  # U15, "" for most
    fict_code: np.ndarray  # BEN_CDI_NIR of the fictitious row

    @property
    def n(self) -> int:
        return int(self.key.size)

    def stop(self, end: np.datetime64) -> np.ndarray:
        """Last day of observed life in the period."""
        return np.where(np.isnat(self.death), end, np.minimum(self.death, end))


def sample_ages(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(sex, age in days) from the pyramid."""
    w = np.array(PYRAMID).reshape(-1)
    cell = rng.choice(w.size, size=n, p=w / w.sum())
    band, sex = cell // 2, cell % 2 + 1
    age_days = ((band * 5 + rng.random(n) * 5) * 365.25).astype(np.int64)
    return sex.astype(np.int64), age_days


def death_hazard(age: np.ndarray, sex: np.ndarray, cond: np.ndarray, scale: float) -> np.ndarray:
    ratio = np.ones(age.size)
    for j, c in enumerate(CONDITIONS):
        ratio = np.where(cond[:, j], ratio * c.mortality_ratio, ratio)
    # Conditions are more frequent with age already; dampen their product so the crude rate stays put.
    ratio = ratio ** 0.6
    return scale * np.exp(GOMPERTZ_A + GOMPERTZ_B * age) * np.where(sex == 1, MALE_RATIO, 1.0) * ratio


def make_persons(rng: np.random.Generator, first_key: int, n: int, req: SynthRequest, ref: Reference,
                 alloc: nir.NirAllocator, fict_counter: int) -> Persons:
    prof = req.profile
    start, end = d64(req.start), d64(req.end)
    sex, age_days = sample_ages(rng, n)
    birth = start - age_days.astype("timedelta64[D]")
    age = age_days / 365.25
    ndpt = len(ref.departements)
    dpt = rng.integers(0, ndpt, n)
    com = rng.integers(1, 900, n)
    band = band_of(age)
    prev = np.array([c.prevalence for c in CONDITIONS])  # (C, bands)
    cond = rng.random((n, len(CONDITIONS))) < prev[:, band].T
    ald_share = np.array([c.ald_share if c.ald else 0.0 for c in CONDITIONS])
    ald = cond & (rng.random((n, len(CONDITIONS))) < ald_share)
    # Death: exponential time with a constant hazard over the period (short periods: fine).
    hazard = death_hazard(age, sex, cond, prof.death_rate_scale)
    t = rng.exponential(1.0 / hazard) * 365.25
    days = int((end - start) / DAY) + 1
    dies = t < days
    death = np.where(dies, start + np.minimum(t, days - 1).astype("timedelta64[D]"), NAT)
    in_hospital = dies & (rng.random(n) < prof.in_hospital_death)
    # Rights: own rights from an age in [rights_age_min, rights_age_max); before, a parent's.
    rights_age = prof.rights_age_min + rng.random(n) * (prof.rights_age_max - prof.rights_age_min)
    rights = birth + (rights_age * 365.25).astype("timedelta64[D]")
    # Twins: pairs among the young (same birth date, parent, residence), the second of rank 2.
    rank = np.ones(n, dtype=np.int64)
    young = np.flatnonzero(age < 25)
    pairs = round(young.size * prof.twin_share / 2)
    first_twin = second_twin = np.array([], dtype=np.int64)
    if pairs and young.size >= 2 * pairs:
        picked = rng.permutation(young)[: 2 * pairs]
        first_twin, second_twin = np.sort(picked[:pairs]), picked[pairs:]
        order = np.argsort(first_twin)
        first_twin, second_twin = first_twin[order], second_twin[order]
        birth[second_twin] = birth[first_twin]
        rights[second_twin] = rights[first_twin]
        dpt[second_twin], com[second_twin] = dpt[first_twin], com[first_twin]
        same_sex = rng.random(pairs) < 0.65
        sex[second_twin] = np.where(same_sex, sex[first_twin], 3 - sex[first_twin])
        rank[second_twin] = 2
    # NIRs: born in the residence département 60 % of the time.
    birth_dpt = np.where(rng.random(n) < 0.6, dpt, rng.integers(0, ndpt, n))
    own = alloc.allocate(sex, birth, birth_dpt)
    on_parent = rights > start
    parent = np.full(n, "", dtype="U15")
    idx = np.flatnonzero(on_parent)
    if idx.size:
        p_sex = rng.integers(1, 3, idx.size)
        p_birth = birth[idx] - ((20 + rng.random(idx.size) * 20) * 365.25).astype("timedelta64[D]")
        parent[idx] = alloc.allocate(p_sex, p_birth, birth_dpt[idx])
    if second_twin.size:
        parent[second_twin] = parent[first_twin]
    own_known = rng.random(n) >= prof.own_nir_missing_minor
    # Fictitious NIRs: an extra row for anonymous care (IVG for women 15-49, STI or other for anyone).
    fict = (rng.random(n) < prof.fictitious_nir) & (age >= 15) & (age < 70) & ~on_parent
    fict_code = np.where((sex == 2) & (age < 50) & (rng.random(n) < 0.5), "01",
                         np.where(rng.random(n) < 0.5, "05", "08"))
    fict_nir = np.full(n, "", dtype="U15")
    fi = np.flatnonzero(fict)
    if fi.size:
        counters = fict_counter + np.arange(fi.size)
        fict_nir[fi] = nir.fictitious(sex[fi], np.array(ref.departements)[dpt[fi]], counters)
    return Persons(
        key=np.arange(first_key, first_key + n, dtype=np.int64), sex=sex, birth=birth, dpt=dpt, com=com,
        cond=cond, ald=ald, death=death, in_hospital=in_hospital, rank=rank, own_nir=own,
        parent_nir=parent, rights=rights, own_nir_known=own_known, fict_nir=fict_nir,
        fict_code=np.where(fict, fict_code, ""),
    )
