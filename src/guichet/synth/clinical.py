"""The clinical model of the synthetic population: conditions, their prevalence by age, their long-term
illness (ALD) numbers, diagnosis codes and drug classes.

Every code here exists in the shipped references (``data/``): diagnosis codes in ``MS_CIM_V`` (hospital,
``DGN_PAL``/``ASS_DGN``) or ``IR_CIM_V`` (long-term illnesses, causes of death), drugs by ATC prefix in the
CIP13 → ATC reference. ``tests/unit/test_synth_reference.py`` proves it against ``shared/data``.
Prevalences are orders of magnitude from public sources named in ``docs/synthetic.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

# Age bands used by every age-dependent rate: [0,18), [18,40), [40,60), [60,80), [80,120).
AGE_BANDS: tuple[int, ...] = (0, 18, 40, 60, 80)


@dataclass(frozen=True)
class Condition:
    """A chronic condition: prevalence by age band, its ALD, its codes, its drugs and its weight on death."""

    name: str
    prevalence: tuple[float, float, float, float, float]  # by AGE_BANDS
    ald: int | None  # ALD number (IR_ALD_V) or None when the condition has no ALD
    ald_share: float  # share of people with the condition who hold the ALD
    cim_ald: tuple[str, ...]  # IR_CIM_V codes whose ALD_030_COD is `ald` (IR_IMB_R.MED_MTF_COD)
    cim_hospital: tuple[str, ...]  # MS_CIM_V codes, as associated diagnosis (T_MCOaaD) or main
    atc: tuple[str, ...]  # ATC prefixes of the drugs dispensed monthly
    death_causes: tuple[str, ...]  # IR_CIM_V codes as initial cause of death
    mortality_ratio: float  # multiplies the age/sex death hazard
    stay_ratio: float  # multiplies the hospital stay rate


CONDITIONS: tuple[Condition, ...] = (
    Condition("diabetes", (0.002, 0.01, 0.055, 0.13, 0.14), 8, 0.85, ("E11", "E119", "E10", "E109"),
              ("E119", "E11", "E10"), ("A10BA", "A10BB", "A10BH", "A10AE"), ("E11", "E119"), 1.5, 1.4),
    Condition("cancer", (0.002, 0.006, 0.03, 0.08, 0.10), 30, 0.95, ("C50", "C509", "C61", "C189", "C349"),
              ("C509", "C61", "C189", "C349"), ("L02BA", "L02BG", "L01XE"), ("C349", "C189", "C509", "C61"),
              4.0, 3.0),
    Condition("heart", (0.0, 0.002, 0.02, 0.08, 0.15), 5, 0.8, ("I50", "I500", "I509", "I48"),
              ("I500", "I509", "I48", "I259"), ("C07AB", "C03CA", "B01AF", "C10AA"), ("I50", "I21", "I219"),
              2.5, 2.0),
    Condition("coronary", (0.0, 0.001, 0.015, 0.05, 0.08), 13, 0.8, ("I25", "I259", "I21", "I219"),
              ("I259", "I21"), ("B01AC", "C10AA", "C07AB"), ("I219", "I25"), 1.8, 1.5),
    Condition("hypertension", (0.0, 0.02, 0.15, 0.40, 0.55), None, 0.0, (), ("I10",),
              ("C09AA", "C09CA", "C08CA", "C03AA"), ("I10",), 1.1, 1.05),
    Condition("stroke", (0.0, 0.001, 0.005, 0.02, 0.04), 1, 0.7, ("I63", "I639", "I64"), ("I639", "I64"),
              ("B01AC",), ("I64", "I639"), 2.0, 1.5),
    Condition("mental", (0.015, 0.06, 0.06, 0.05, 0.05), 23, 0.65, ("F32", "F329", "F33", "F20", "F209"),
              ("F329", "F209"), ("N06AB", "N05AH", "N05AX"), ("F329",), 1.5, 1.3),
    Condition("respiratory", (0.06, 0.05, 0.05, 0.07, 0.08), 14, 0.25, ("J45", "J459"), ("J449", "J459"),
              ("R03AC", "R03BA", "R03AK"), ("J44", "J449", "J96"), 1.4, 1.3),
    Condition("dementia", (0.0, 0.0, 0.001, 0.015, 0.12), 15, 0.7, ("F03",), ("F03", "G309"), ("N06DA",),
              ("F03", "G309"), 3.0, 1.3),
    Condition("parkinson", (0.0, 0.0, 0.001, 0.008, 0.02), 16, 0.8, ("G20",), ("G20",), ("N04BA", "N04BC"),
              ("G20",), 1.8, 1.2),
    Condition("kidney", (0.0, 0.001, 0.005, 0.03, 0.06), 19, 0.6, ("N18", "N185"), ("N185",), ("B03BB",),
              ("N18",), 2.0, 1.8),
)

# Main diagnoses (MS_CIM_V) of acute stays, by age band; each is sampled uniformly within its band.
ACUTE_DIAGNOSES: tuple[tuple[str, ...], ...] = (
    ("J189", "A09", "K358", "S720", "R55", "K590", "Z380", "N390", "R074"),
    ("K358", "O80", "R074", "A09", "K802", "K409", "S720", "R55", "Z511", "N390"),
    ("K802", "K409", "R074", "Z511", "M169", "M179", "H251", "I48", "J189", "R55"),
    ("H251", "M169", "M179", "Z511", "J189", "I48", "K802", "R55", "S720", "N390", "Z491"),
    ("S720", "J189", "R54", "N390", "H251", "I48", "J960", "R55", "Z515", "Z491"),
)
# Associated diagnoses that any stay may carry (MS_CIM_V).
COMMON_ASSOCIATED: tuple[str, ...] = ("E669", "E785", "R54", "K590", "R074")

# Causes of death (IR_CIM_V) for people without a condition that explains it.
GENERIC_DEATH_CAUSES: tuple[str, ...] = ("I64", "J189", "R99", "C349", "I219", "R54", "J96")
# Other lines of the causal chain (KI_ECD_R).
CHAIN_CAUSES: tuple[str, ...] = ("I10", "E119", "J96", "R54", "N18", "I48", "J189")

# Drugs dispensed for acute care (ATC prefixes): paracetamol, antibiotics, NSAIDs, PPIs, mucolytics,
# anxiolytics, corticoids, antihistamines.
ACUTE_ATC: tuple[str, ...] = ("N02BE", "J01CA", "J01CR", "M01AE", "A02BC", "R05", "N05BA", "H02AB", "R06AE")


def all_atc_prefixes() -> tuple[str, ...]:
    seen = dict.fromkeys([p for c in CONDITIONS for p in c.atc] + list(ACUTE_ATC))
    return tuple(seen)


def all_ms_cim_codes() -> tuple[str, ...]:
    codes = [c for cond in CONDITIONS for c in cond.cim_hospital]
    codes += [c for band in ACUTE_DIAGNOSES for c in band] + list(COMMON_ASSOCIATED)
    return tuple(sorted(set(codes)))


def all_ir_cim_codes() -> tuple[str, ...]:
    codes = [c for cond in CONDITIONS for c in (*cond.cim_ald, *cond.death_causes)]
    codes += list(GENERIC_DEATH_CAUSES) + list(CHAIN_CAUSES)
    return tuple(sorted(set(codes)))
