"""Outpatient claims (ER_PRS_F) and their pharmacy lines (ER_PHA_F), arriving by flow month."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from guichet.synth.clinical import ACUTE_ATC, CONDITIONS
from guichet.synth.population import PYRAMID, Persons, age_years, band_of
from guichet.synth.reference import Reference
from guichet.synth.rows import (
    DAY,
    Counters,
    Rows,
    first_of_month,
    iso,
    money,
    month_index,
    text,
    year_of,
)

# Acute (non-chronic) claim lines by kind: PRS_NAT_REF (IR_NAT_V), share, price in cents, specialty.
ACUTE_KINDS: tuple[tuple[str, float, int, str], ...] = (
    ("1111", 0.42, 2650, "1"),  # GP consultation
    ("1112", 0.12, 3000, "3"),  # specialist consultation
    ("1211", 0.03, 3600, "1"),  # home visit
    ("3111", 0.09, 1550, ""),  # nursing acts
    ("3122", 0.06, 2150, ""),  # physiotherapy
    ("1331", 0.06, 5200, ""),  # radiology
    ("3313", 0.22, 0, ""),  # pharmacy (65 %), priced from its drug lines
)
PHARMACY_ALD, PHARMACY = "3311", "3313"
FICTITIOUS_CARE = {"01": "1981", "05": "1111", "08": "1111"}  # IVG fee; consultations
AGE_CLAIM_RATIO = (0.9, 0.6, 0.8, 1.3, 1.6)  # by AGE_BANDS, relative acute care use


def _band_weights() -> np.ndarray:
    """Share of the population in each AGE_BAND (from the pyramid's 5-year groups)."""
    w = np.zeros(5)
    for g, (m, f) in enumerate(PYRAMID):
        w[int(band_of(np.array([g * 5 + 2.5]))[0])] += m + f
    return w / w.sum()


def expected_chronic_lines() -> float:
    """Chronic dispensings per person-year: 12 a year for each treated condition."""
    prev = np.array([c.prevalence for c in CONDITIONS if c.atc])
    return float(12 * (prev.sum(axis=0) * _band_weights()).sum())


@dataclass
class Claims:
    prs: Rows
    pha: Rows


def make_claims(rng: np.random.Generator, p: Persons, start: np.datetime64, end: np.datetime64,
                last_flow: int, lags: np.ndarray, target_lines: float, ref: Reference,
                counters: Counters) -> Claims:
    stop = p.stop(end)
    days = ((stop - start) / DAY).astype(np.int64) + 1
    band = band_of(age_years(p.birth, start))
    # Chronic dispensings: every ~30 days for each treated condition, one persistent drug per condition.
    pi, cj = np.nonzero(p.cond & np.array([bool(c.atc) for c in CONDITIONS]))
    phase = rng.integers(0, 30, pi.size)
    count = np.where(days[pi] > phase, (days[pi] - phase - 1) // 30 + 1, 0)
    drug_u = rng.random(pi.size)
    atc_u = rng.random(pi.size)
    rep = np.repeat(np.arange(pi.size), count)
    k = np.arange(rep.size) - np.repeat(np.cumsum(count) - count, count)
    c_person = pi[rep]
    c_date = np.minimum(start + (phase[rep] + 30 * k + rng.integers(0, 3, rep.size)).astype("timedelta64[D]"),
                        stop[c_person])
    c_atc = np.array([CONDITIONS[j].atc[int(u * len(CONDITIONS[j].atc))] for j, u in zip(cj, atc_u, strict=True)],
                     dtype=object)[rep] if pi.size else np.array([], dtype=object)
    c_drug_u = drug_u[rep]
    c_nat = np.where(p.ald[c_person, cj[rep]], PHARMACY_ALD, PHARMACY)
    # Acute care: Poisson by age band, scaled so that all lines average `target_lines` a person-year.
    ratio = np.array(AGE_CLAIM_RATIO)
    acute_rate = max(target_lines - expected_chronic_lines(), 1.0) / float((ratio * _band_weights()).sum())
    n_acute = rng.poisson(acute_rate * ratio[band] * days / 365.25)
    a_person = np.repeat(np.arange(p.n), n_acute)
    a_date = start + (rng.random(a_person.size) * days[a_person]).astype(np.int64).astype("timedelta64[D]")
    shares = np.array([k[1] for k in ACUTE_KINDS])
    kind = rng.choice(len(ACUTE_KINDS), size=a_person.size, p=shares / shares.sum())
    a_nat = np.array([k[0] for k in ACUTE_KINDS])[kind]
    # Fictitious-NIR care: one or two lines under the fictitious row.
    f_idx = np.flatnonzero(p.fict_nir != "")
    f_count = rng.integers(1, 3, f_idx.size)
    f_person = np.repeat(f_idx, f_count)
    f_date = start + (rng.random(f_person.size) * days[f_person]).astype(np.int64).astype("timedelta64[D]")
    f_nat = np.array([FICTITIOUS_CARE[c] for c in p.fict_code[f_person]], dtype="U4")

    person = np.concatenate([c_person, a_person, f_person])
    date = np.concatenate([c_date, a_date, f_date]).astype("datetime64[D]")
    nat = np.concatenate([c_nat, a_nat, f_nat]).astype("U4")
    fict = np.r_[np.zeros(c_person.size + a_person.size, bool), np.ones(f_person.size, bool)]
    atc = np.concatenate([c_atc, np.array(ACUTE_ATC, dtype=object)[rng.integers(0, len(ACUTE_ATC), a_person.size)],
                          np.full(f_person.size, None, dtype=object)])
    drug_u_all = np.r_[c_drug_u, rng.random(a_person.size + f_person.size)]
    # Arrival: care month + lag; lags past the last flow month are never delivered.
    lag = rng.choice(lags.size, size=person.size, p=lags)
    arrival = month_index(date) + lag
    keep = arrival <= last_flow
    order = np.lexsort((date, person))
    order = order[keep[order]]
    person, date, nat, fict, atc, drug_u_all, arrival = (
        a[order] for a in (person, date, nat, fict, atc, drug_u_all, arrival))
    n = person.size
    dct = counters.dct_ord + 1 + np.arange(n)
    counters.dct_ord += n
    # Rights in force on the care date: a parent's before own rights, a fictitious NIR for anonymous care.
    on_parent = (p.parent_nir[person] != "") & (date < p.rights[person])
    opener = np.where(fict, p.fict_nir[person], np.where(on_parent, p.parent_nir[person], p.own_nir[person]))
    flow = first_of_month(arrival)
    trt = np.maximum(date, flow - rng.integers(1, 21, n).astype("timedelta64[D]"))
    stop_p = stop[person]
    dtf = np.where(nat == "3111", np.minimum(date + rng.integers(0, 3, n).astype("timedelta64[D]"), stop_p), date)
    is_pha = (nat == PHARMACY) | (nat == PHARMACY_ALD)
    # Pharmacy lines: one drug (two for 15 % of acute dispensings).
    two_drugs = is_pha & (rng.random(n) < 0.15) & np.array([a in ACUTE_ATC for a in atc.tolist()])
    pha_src = np.repeat(np.flatnonzero(is_pha), np.where(two_drugs[is_pha], 2, 1))
    second = np.r_[False, pha_src[1:] == pha_src[:-1]] if pha_src.size else np.array([], bool)
    u = np.where(second, rng.random(pha_src.size), drug_u_all[pha_src])
    pha_atc = np.where(second, np.array(ACUTE_ATC, dtype=object)[rng.integers(0, len(ACUTE_ATC), pha_src.size)],
                       atc[pha_src])
    cip13, cip7 = _drugs(ref, pha_atc, u)
    qty = rng.integers(1, 4, pha_src.size)
    unit_cents = rng.integers(150, 6000, pha_src.size)
    pha_total = np.bincount(pha_src, weights=qty * unit_cents, minlength=n).astype(np.int64)
    kinds = {k[0]: k for k in ACUTE_KINDS}
    base = np.array([kinds[x][2] if x in kinds else 2650 for x in nat.tolist()], dtype=np.int64)
    pay = np.where(is_pha, pha_total, base)
    spe = np.array([kinds[x][3] if x in kinds else "" for x in nat.tolist()], dtype=object)
    org = np.char.add(np.char.add("01", np.array(ref.departements)[p.dpt[person]]), "0000")
    key_cols = {
        "DCT_ORD_NUM": text(dct), "FLX_DIS_DTD": iso(flow), "FLX_EMT_NUM": np.full(n, "1"),
        "FLX_EMT_ORD": text(arrival % 1000), "FLX_EMT_TYP": np.full(n, "1"), "FLX_TRT_DTD": iso(trt),
        "ORG_CLE_NUM": org, "PRS_ORD_NUM": np.full(n, "1"), "REM_TYP_AFF": np.full(n, "1"),
    }
    birth = p.birth[person]
    prs_cols = {
        "BEN_NIR_OUV": opener, "BEN_NAI_DTE": iso(birth), "BEN_SEX_COD": text(p.sex[person]),
        "BEN_RNG_GEM": text(np.where(fict, 1, p.rank[person])),
        "BEN_CDI_NIR": np.where(fict, p.fict_code[person], "00"), "BEN_NAI_ANN": text(year_of(birth)),
        "BEN_RES_DPT": np.array(ref.departements)[p.dpt[person]],
        "EXE_SOI_DTD": iso(date), "EXE_SOI_DTF": iso(dtf), "PRS_NAT_REF": nat, "PRS_ACT_QTE": np.full(n, "1"),
        "PRS_PAI_MNT": money(pay), "BSE_REM_MNT": money(pay * 7 // 10), "PSE_SPE_COD": spe, **key_cols,
    }
    pha_cols = {k: v[pha_src] for k, v in key_cols.items()}
    pha_cols.update({"PHA_PRS_C13": cip13, "PHA_PRS_IDE": cip7, "PHA_ACT_QSN": text(qty),
                     "PHA_ACT_PRU": money(unit_cents)})
    keys = p.key[person]
    prs = Rows("ER_PRS_F", prs_cols, keys, arrival, death=p.death[person])
    pha = Rows("ER_PHA_F", pha_cols, keys[pha_src], arrival[pha_src], death=p.death[person][pha_src])
    return Claims(prs, pha)


def _drugs(ref: Reference, atc: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cip13 = np.empty(atc.size, dtype=object)
    cip7 = np.empty(atc.size, dtype=object)
    for prefix in set(atc.tolist()):
        sel = atc == prefix
        d = ref.drugs[prefix]
        i = (u[sel] * d.cip13.size).astype(np.int64)
        cip13[sel], cip7[sel] = d.cip13[i], d.cip7[i]
    return cip13, cip7
