"""Referential tables (IR_BEN_R beneficiaries, IR_IMB_R long-term illnesses) and death certificates
(KI_CCI_R circumstances and initial cause, KI_ECD_R causal chain) — the latter carry no NIR."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from guichet.synth.clinical import CHAIN_CAUSES, CONDITIONS, GENERIC_DEATH_CAUSES
from guichet.synth.params import Profile
from guichet.synth.population import SENTINEL, Persons
from guichet.synth.reference import Reference
from guichet.synth.rows import (
    DAY,
    REFERENTIAL,
    Counters,
    Rows,
    iso,
    month_index,
    month_of,
    pick,
    text,
    three,
    two,
    year_of,
)

RIGHTS_RECORDED_FROM = np.datetime64("2006-01-01", "D")  # IR_BEN_R insertion dates start with the SNIIRAM


def beneficiaries(rng: np.random.Generator, p: Persons, start: np.datetime64, end: np.datetime64,
                  prof: Profile, ref: Reference) -> Rows:
    """One row per insurance rights: a parent's (children), own, and a fictitious NIR's (anonymous care)."""
    stop = p.stop(end)
    parent_row = p.parent_nir != ""
    own_row = p.rights <= stop
    fict_row = p.fict_nir != ""
    kind = np.concatenate([np.zeros(p.n, int), np.ones(p.n, int), np.full(p.n, 2)])
    who = np.tile(np.arange(p.n), 3)
    present = np.concatenate([parent_row, own_row, fict_row])
    order = np.lexsort((kind[present], who[present]))
    kind, who = kind[present][order], who[present][order]
    n = who.size
    # The death date as the insurer holds it: missing (sentinel), a day off, or right.
    dead = ~np.isnat(p.death)
    u = rng.random(p.n)
    off = np.where(rng.random(p.n) < 0.5, -1, 1).astype("timedelta64[D]")
    recorded = np.where(dead & (u >= prof.claims_death_date_missing)
                        & (u < prof.claims_death_date_missing + prof.death_date_off_by_one), p.death + off, p.death)
    dcd = iso(recorded).astype(object)
    sentinel = dead & (u < prof.claims_death_date_missing)
    dcd[sentinel] = SENTINEL
    opener = np.select([kind == 0, kind == 1], [p.parent_nir[who], p.own_nir[who]], p.fict_nir[who])
    own_nir = np.where(kind == 1, p.own_nir[who], np.where((kind == 0) & p.own_nir_known[who], p.own_nir[who], ""))
    ins = np.select([kind == 0, kind == 1], [p.birth[who], p.rights[who]], start).astype("datetime64[D]")
    ins = np.maximum(ins, RIGHTS_RECORDED_FROM)
    birth = p.birth[who]
    cols = {
        "BEN_NIR_OUV": opener, "BEN_NAI_DTE": iso(birth), "BEN_RNG_GEM": text(np.where(kind == 2, 1, p.rank[who])),
        "BEN_NIR": own_nir, "BEN_CDI_NIR": np.where(kind == 2, p.fict_code[who], "00"),
        "BEN_NAI_ANN": text(year_of(birth)), "BEN_NAI_MOI": two(month_of(birth)), "BEN_SEX_COD": text(p.sex[who]),
        "BEN_DCD_DTE": np.where(kind == 2, "", dcd[who]),
        "BEN_RES_DPT": np.array(ref.departements, dtype=object)[p.dpt[who]],
        "BEN_RES_COM": three(p.com[who]), "BEN_DTE_INS": iso(ins),
        "BEN_DTE_MAJ": iso(np.full(n, end)),
    }
    rows = Rows("IR_BEN_R", cols, p.key[who], np.full(n, REFERENTIAL), death=p.death[who])
    rows.defects = [(int(i), "BEN_DCD_DTE", "death_date_sentinel")
                    for i in np.flatnonzero(sentinel[who] & (kind != 2)).tolist()]
    return rows


def long_term_illnesses(rng: np.random.Generator, p: Persons, start: np.datetime64,
                        end: np.datetime64) -> Rows:
    """One row per ALD: most began before the period, some during it; none after death."""
    stop = p.stop(end)
    pi, cj = np.nonzero(p.ald)
    n = pi.size
    days = ((stop[pi] - start) / DAY).astype(np.int64) + 1
    prevalent = rng.random(n) < 0.85
    before = start - rng.integers(1, 3650, n).astype("timedelta64[D]")
    during = start + (rng.random(n) * days).astype(np.int64).astype("timedelta64[D]")
    dtd = np.maximum(np.where(prevalent, before, during), p.birth[pi] + DAY)
    dtf = dtd + np.timedelta64(3652, "D")
    dtf = np.where(np.isnat(p.death[pi]), dtf, np.minimum(dtf, p.death[pi]))
    on_parent = (p.parent_nir[pi] != "") & (stop[pi] < p.rights[pi])
    codes = np.array([CONDITIONS[j].cim_ald[int(r * len(CONDITIONS[j].cim_ald))]
                      for j, r in zip(cj.tolist(), rng.random(n).tolist(), strict=True)], dtype=object)
    cols = {
        "BEN_NIR_OUV": np.where(on_parent, p.parent_nir[pi], p.own_nir[pi]), "BEN_NAI_DTE": iso(p.birth[pi]),
        "BEN_SEX_COD": text(p.sex[pi]), "BEN_RNG_GEM": text(p.rank[pi]), "IMB_ALD_DTD": iso(dtd),
        "IMB_ALD_DTF": iso(dtf), "IMB_ALD_NUM": text(np.array([CONDITIONS[j].ald or 0 for j in cj.tolist()])),
        "IMB_ETM_NAT": np.full(n, "41", dtype=object), "MED_MTF_COD": codes,
    }
    return Rows("IR_IMB_R", cols, p.key[pi], np.full(n, REFERENTIAL), death=p.death[pi])


@dataclass
class Certificates:
    cci: Rows
    ecd: Rows


def certificates(rng: np.random.Generator, p: Persons, start: np.datetime64, end: np.datetime64,
                 last_flow: int, prof: Profile, ref: Reference, counters: Counters,
                 outside_base: int) -> Certificates:
    """Death certificates of the chunk's deaths, plus people outside the claims population (person keys
    from ``outside_base`` on, never in IR_BEN_R)."""
    di = np.flatnonzero(~np.isnat(p.death))
    share = prof.deaths_outside_population
    n_out = int(rng.binomial(di.size, share / (1 - share))) if di.size and share < 1 else 0
    ndpt = len(ref.departements)
    days = int((end - start) / DAY) + 1
    o_death = start + rng.integers(0, days, n_out).astype("timedelta64[D]")
    death = np.concatenate([p.death[di], o_death]).astype("datetime64[D]")
    birth = np.concatenate([p.birth[di], o_death - (rng.uniform(55, 95, n_out) * 365.25).astype("timedelta64[D]")])
    sex = np.concatenate([p.sex[di], rng.integers(1, 3, n_out)])
    dpt = np.concatenate([p.dpt[di], rng.integers(0, ndpt, n_out)])
    com = np.concatenate([p.com[di], rng.integers(1, 900, n_out)])
    in_hosp = np.concatenate([p.in_hospital[di], rng.random(n_out) < prof.in_hospital_death])
    keys = np.concatenate([p.key[di], outside_base + counters.outside_person + np.arange(n_out)])
    counters.outside_person += n_out
    n = death.size
    # Noise: moved before dying; birth month misread.
    moved = rng.random(n) < prof.residence_moved_at_death
    res_dpt = np.where(moved & (rng.random(n) < 0.5), rng.integers(0, ndpt, n), dpt)
    res_com = np.where(moved, (com + rng.integers(1, 898, n)) % 899 + 1, com)
    month = month_of(birth)
    wrong = rng.random(n) < prof.birth_month_error
    month = np.where(wrong, (month - 1 + rng.integers(1, 12, n)) % 12 + 1, month)
    # Place: public or private hospital for in-hospital deaths; home, nursing home, street, other.
    place = np.where(in_hosp, np.where(rng.random(n) < 0.7, "2", "3"),
                     np.array(["1", "4", "5", "6"], dtype=object)[rng.choice(4, n, p=[0.5, 0.35, 0.03, 0.12])])
    cause = pick(rng, GENERIC_DEATH_CAUSES, n)
    if di.size:
        cond = p.cond[di] & (rng.random((di.size, len(CONDITIONS))) < 0.7)
        ratio = np.array([c.mortality_ratio for c in CONDITIONS])
        j = (cond * ratio * rng.random(cond.shape)).argmax(axis=1)
        has = cond.any(axis=1)
        for k, c in enumerate(CONDITIONS):
            sel = np.flatnonzero(has & (j == k))
            cause[sel] = pick(rng, c.death_causes, sel.size)
    cert = counters.cert + 1 + np.arange(n)
    counters.cert += n
    ids = np.array([f"DC{y}{c:08d}" for y, c in zip(year_of(death).tolist(), cert.tolist(), strict=True)], dtype=object)
    arrival = np.minimum(month_index(death) + rng.integers(6, 13, n), last_flow)
    dpts = np.array(ref.departements, dtype=object)
    cci_cols = {
        "DCD_IDT_ENC": ids, "FLX_PER_ANN": text(year_of(death)), "TRT_STA_COD": np.full(n, "1", dtype=object),
        "TYP_CER_COD": np.full(n, "1", dtype=object), "DCD_DPT_COD": dpts[res_dpt],
        "DCD_COM_COD": three(rng.integers(1, 900, n)),
        "BEN_RES_DPT": dpts[res_dpt], "BEN_RES_COM": three(res_com),
        "BEN_DCD_DTE": iso(death), "DCD_LIE_COD": place, "BEN_NAI_ANN": text(year_of(birth)),
        "BEN_NAI_MOI": two(month), "BEN_SEX_COD": text(sex), "DCD_CIM_COD": cause,
    }
    lines = 1 + rng.binomial(2, 0.5, n)
    src = np.repeat(np.arange(n), lines)
    line_no = np.arange(src.size) - np.repeat(np.cumsum(lines) - lines, lines) + 1
    chain = pick(rng, CHAIN_CAUSES, src.size)
    chain = np.where(line_no == 1, cause[src], chain)
    ecd_cols = {
        "DCD_IDT_ENC": ids[src], "FLX_PER_ANN": text(year_of(death[src])), "CER_LIG_NUM": text(line_no),
        "ECD_CAU_RNG": text(line_no), "ECD_CIM_COD": chain, "BEN_DCD_DTE": iso(death[src]),
    }
    return Certificates(Rows("KI_CCI_R", cci_cols, keys, arrival, death=death),
                        Rows("KI_ECD_R", ecd_cols, keys[src], arrival[src], death=death[src]))
