"""Acute hospital stays (PMSI MCO: T_MCOaaB stay, T_MCOaaC patient and dates, T_MCOaaD diagnoses)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from guichet.synth.clinical import ACUTE_DIAGNOSES, COMMON_ASSOCIATED, CONDITIONS
from guichet.synth.params import Profile
from guichet.synth.population import Persons, age_years, band_of
from guichet.synth.reference import Reference
from guichet.synth.rows import DAY, Counters, Rows, ddmmyyyy, iso, month_index, month_of, text, two, year_of

AGE_STAY_RATIO = (0.5, 0.45, 0.8, 1.9, 3.2)  # by AGE_BANDS
STAY_NORMALISER = 1.05  # mean of AGE_STAY_RATIO × condition ratios over the pyramid (measured)
DAS_CODED = 0.8  # chance that a condition of the patient is coded as an associated diagnosis


@dataclass
class Stays:
    b: Rows
    c: Rows
    d: Rows


def make_stays(rng: np.random.Generator, p: Persons, start: np.datetime64, end: np.datetime64,
               last_flow: int, prof: Profile, ref: Reference, counters: Counters,
               gap_region: str | None) -> Stays:
    stop = p.stop(end)
    days = ((stop - start) / DAY).astype(np.int64) + 1
    age = age_years(p.birth, start)
    ratio = np.array(AGE_STAY_RATIO)[band_of(age)]
    for j, c in enumerate(CONDITIONS):
        ratio = np.where(p.cond[:, j], ratio * c.stay_ratio ** 0.5, ratio)
    n_stays = rng.poisson(prof.acute_stays_per_year * ratio / STAY_NORMALISER * days / 365.25)
    person = np.repeat(np.arange(p.n), n_stays)
    los = np.where(rng.random(person.size) < 0.3, 0, rng.geometric(1 / 5, person.size))
    ent = start + (rng.random(person.size) * days[person]).astype(np.int64).astype("timedelta64[D]")
    sor = ent + los.astype("timedelta64[D]")
    # A stay of someone who dies ends before the death day, unless it is the terminal stay.
    limit = np.where(np.isnat(p.death[person]), end, np.minimum(end, p.death[person] - DAY))
    keep = sor <= limit
    person, ent, sor = person[keep], ent[keep], sor[keep]
    terminal = np.zeros(person.size, bool)
    # Terminal stays of in-hospital deaths: exit on the death day, ±1 day or a few days before for a few.
    t_idx = np.flatnonzero(p.in_hospital)
    death = p.death[t_idx]
    t_los = rng.geometric(1 / 7, t_idx.size) - 1
    u = rng.random(t_idx.size)
    shift = np.where(u < prof.exit_one_day_off, np.where(rng.random(t_idx.size) < 0.5, -1, 1), 0)
    shift = np.where(u > 1 - prof.exit_days_before, -rng.integers(2, 6, t_idx.size), shift)
    t_sor = death + shift.astype("timedelta64[D]")
    t_sor = np.where(t_sor > end, np.minimum(death, end), t_sor)
    t_sor = np.maximum(t_sor, start)
    t_ent = np.maximum(np.minimum(death, t_sor) - t_los.astype("timedelta64[D]"), start)
    person = np.concatenate([person, t_idx])
    ent = np.concatenate([ent, t_ent]).astype("datetime64[D]")
    sor = np.concatenate([sor, t_sor]).astype("datetime64[D]")
    terminal = np.r_[terminal, np.ones(t_idx.size, bool)]
    order = np.lexsort((ent, person))
    person, ent, sor, terminal = person[order], ent[order], sor[order], terminal[order]
    n = person.size
    rsa = counters.rsa + 1 + np.arange(n)
    counters.rsa += n
    dpts = np.array(ref.departements)
    eta = 900_000_000 + p.dpt[person] * 100 + rng.integers(1, 10, n)
    arrival = np.minimum(month_index(sor) + rng.integers(1, 4, n), last_flow)
    age_ent = ((ent - p.birth[person]).astype(np.int64) // 365.25).astype(np.int64)
    band = band_of(age_ent)
    # Main diagnosis: a condition of the patient for 30 % of stays (all terminal ones that have one).
    cond = p.cond[person]
    has_cond = cond.any(axis=1)
    use_cond = has_cond & ((rng.random(n) < 0.3) | terminal)
    dgn = np.empty(n, dtype=object)
    for b in range(len(ACUTE_DIAGNOSES)):
        sel = band == b
        dgn[sel] = np.array(ACUTE_DIAGNOSES[b], dtype=object)[rng.integers(0, len(ACUTE_DIAGNOSES[b]), sel.sum())]
    ci = np.flatnonzero(use_cond)
    if ci.size:
        w = cond[ci] * rng.random((ci.size, len(CONDITIONS)))
        j = w.argmax(axis=1)
        dgn[ci] = [CONDITIONS[k].cim_hospital[int(r * len(CONDITIONS[k].cim_hospital))]
                   for k, r in zip(j.tolist(), rng.random(ci.size).tolist(), strict=True)]
    sor_mod = np.where(terminal, "9", np.array(["8", "7", "6"], dtype=object)[rng.choice(3, n, p=[0.9, 0.06, 0.04])])
    code2 = np.array([d[1:] for d in dpts.tolist()], dtype=object)  # 2-character département: 75, 2A
    b_cols = {
        "ETA_NUM": text(eta), "RSA_NUM": text(rsa), "AGE_ANN": text(age_ent), "COD_SEX": text(p.sex[person]),
        "DGN_PAL": dgn, "DGN_REL": np.full(n, "", dtype=object), "ENT_MOD": np.full(n, "8", dtype=object),
        "ENT_PRV": np.where(rng.random(n) < 0.4, "5", ""), "SEJ_NBJ": text((sor - ent).astype(np.int64)),
        "SOR_ANN": text(year_of(sor)), "SOR_MOI": two(month_of(sor)), "SOR_MOD": sor_mod,
        "BDI_DEP": code2[p.dpt[person]],
    }
    on_parent = (p.parent_nir[person] != "") & (ent < p.rights[person])
    opener = np.where(on_parent, p.parent_nir[person], p.own_nir[person])
    seq = np.r_[0, np.flatnonzero(person[1:] != person[:-1]) + 1] if n else np.array([], np.int64)
    sej = np.arange(n) - np.repeat(seq, np.diff(np.r_[seq, n])) + 1 if n else np.array([], np.int64)
    zero = np.full(n, "0", dtype=object)
    c_cols = {
        "ETA_NUM": text(eta), "RSA_NUM": text(rsa), "BEN_NIR_OUV": opener, "BEN_NAI_DTE": iso(p.birth[person]),
        "BEN_SEX_COD": text(p.sex[person]), "ENT_DAT": ddmmyyyy(ent), "SOR_DAT": ddmmyyyy(sor),
        "NIR_RET": zero, "NAI_RET": zero, "SEX_RET": zero, "SEJ_RET": zero, "FHO_RET": zero, "PMS_RET": zero,
        "DAT_RET": zero, "COH_NAI_RET": zero, "COH_SEX_RET": zero, "RNG_NAI": text(p.rank[person]),
        "SEJ_NUM": text(sej), "SOR_ANN": text(year_of(sor)), "SOR_MOI": two(month_of(sor)),
    }
    keys, year, death_rows = p.key[person], year_of(sor), p.death[person]
    # Associated diagnoses: the patient's conditions (coded 80 % of the time), one common code 30 %.
    coded = cond & (rng.random(cond.shape) < DAS_CODED)
    if gap_region is not None:
        in_gap = np.array(ref.regions)[p.dpt[person]] == gap_region
        coded &= ~(in_gap[:, None] & (rng.random(cond.shape) < prof.coding_gap_drop))
    si, sj = np.nonzero(coded)
    das = np.array([CONDITIONS[k].cim_hospital[int(r * len(CONDITIONS[k].cim_hospital))]
                    for k, r in zip(sj.tolist(), rng.random(si.size).tolist(), strict=True)], dtype=object)
    common = np.flatnonzero(rng.random(n) < 0.3)
    if gap_region is not None:
        common = common[~(in_gap[common] & (rng.random(common.size) < prof.coding_gap_drop))]
    d_stay = np.concatenate([si, common])
    d_code = np.concatenate([das, np.array(COMMON_ASSOCIATED, dtype=object)[rng.integers(0, len(COMMON_ASSOCIATED),
                                                                                        common.size)]])
    o = np.argsort(d_stay, kind="stable")
    d_stay, d_code = d_stay[o], d_code[o]
    d_cols = {"ETA_NUM": text(eta[d_stay]), "RSA_NUM": text(rsa[d_stay]), "ASS_DGN": d_code}
    return Stays(
        Rows("T_MCOaaB", b_cols, keys, arrival, year, death_rows),
        Rows("T_MCOaaC", c_cols, keys, arrival, year, death_rows),
        Rows("T_MCOaaD", d_cols, keys[d_stay], arrival[d_stay], year[d_stay], death_rows[d_stay]),
    )
