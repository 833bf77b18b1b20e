"""Every rate of the generator in one place: the noise profiles and the request.

``docs/synthetic.md`` documents each number and where its order of magnitude comes from. A profile is a
frozen dataclass: change a rate by building a new profile (``dataclasses.replace``), never in place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields, replace

from guichet.errors import BadInput


@dataclass(frozen=True)
class Profile:
    """Rates of realism, noise and defects. Rates are probabilities unless the name says otherwise."""

    name: str
    # --- realism (targets of docs/synthetic.md) ---------------------------------------------------
    claim_lines_per_year: float = 20.0  # mean ER_PRS_F lines per person-year (target 15-25)
    acute_stays_per_year: float = 0.15  # acute MCO stays per person-year, before terminal stays (≈0.17 all)
    death_rate_scale: float = 1.0  # multiplies the Gompertz age/sex hazard (≈0.9 % deaths a year)
    in_hospital_death: float = 0.55  # share of deaths in an acute hospital stay
    twin_share: float = 0.018  # share of people under 25 who are a twin (same parent, same birth date)
    fictitious_nir: float = 0.003  # people with an extra beneficiary row under a fictitious NIR
    own_nir_missing_minor: float = 0.15  # minors on a parent's rights without their own NIR recorded
    rights_age_min: float = 16.0  # age at which a child gets its own rights: uniform in [min, max)
    rights_age_max: float = 22.0
    # Months from care to flow month (DCIR "mois de flux"): P(lag = 0, 1, 2, ...). ≥98 % of a care year
    # arrives within 18 flow months; lags that fall after --end + 18 months are not delivered.
    flow_lag: tuple[float, ...] = (0.35, 0.45, 0.10, 0.04, 0.0117, 0.0117, 0.0116, 0.0025, 0.0025, 0.0025,
                                   0.0025, 0.0025, 0.0025, 0.0014, 0.0014, 0.0013, 0.0013, 0.0013, 0.0013,
                                   0.0004, 0.0004, 0.0004, 0.0004, 0.0004)
    # --- noise (true values are in the generator; the files carry these disagreements) -----------
    residence_moved_at_death: float = 0.12  # KI residence ≠ last known residence in IR_BEN_R
    claims_death_date_missing: float = 0.08  # IR_BEN_R death date = sentinel 1600-01-01
    death_date_off_by_one: float = 0.03  # IR_BEN_R death date = true date ± 1 day
    birth_month_error: float = 0.01  # KI birth month ≠ true birth month
    deaths_outside_population: float = 0.05  # share of KI certificates of people not in IR_BEN_R
    exit_one_day_off: float = 0.03  # in-hospital deaths whose stay exit is death ± 1 day
    exit_days_before: float = 0.004  # in-hospital deaths whose stay exit is 2-5 days before death
    # --- defects (recorded in truth/defects.csv) --------------------------------------------------
    defect_rate: float = 0.01  # share of data rows given one defect (overridden by --defect-rate)
    missing_flow_month: bool = True  # drop one flow month of ER_PRS_F/ER_PHA_F when defect_rate > 0
    # --- planted subgroup effect (--plant coding_gap:REGION) --------------------------------------
    coding_gap_drop: float = 0.6  # in the region: share of associated diagnoses not coded

    def with_defect_rate(self, rate: float | None) -> Profile:
        return self if rate is None else replace(self, defect_rate=rate)

    def rates(self) -> dict[str, float | bool | str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard"),
    "hard": Profile(
        "hard",
        fictitious_nir=0.01,
        own_nir_missing_minor=0.3,
        residence_moved_at_death=0.25,
        claims_death_date_missing=0.15,
        death_date_off_by_one=0.08,
        birth_month_error=0.03,
        deaths_outside_population=0.10,
        exit_one_day_off=0.06,
        exit_days_before=0.008,
        defect_rate=0.05,
    ),
}

COLUMN_SETS = ("core", "full")
PLANTS = ("coding_gap",)
# Claims for care in the period arrive in flow months up to this many months after --end (all included).
FLOW_MONTHS_AFTER_END = 18
MAX_PERSONS = 5_000_000  # the synthetic NIR space holds 999 people per (sex, birth month, département)
MAX_DELIVERIES = 24


@dataclass(frozen=True)
class Plant:
    kind: str
    region: str


@dataclass(frozen=True)
class SynthRequest:
    """What ``guichet synth`` was asked for; ``validate`` raises BadInput with a one-line reason."""

    persons: int
    start: dt.date
    end: dt.date
    seed: int
    profile: Profile = field(default_factory=lambda: PROFILES["standard"])
    deliveries: int = 1
    columns: str = "core"
    plants: tuple[Plant, ...] = ()

    def validate(self) -> None:
        if self.persons < 1:
            raise BadInput("--persons: must be at least 1")
        if self.persons > MAX_PERSONS:
            raise BadInput(f"--persons: at most {MAX_PERSONS:,} (the size of the synthetic NIR space)")
        if self.end < self.start:
            raise BadInput("--end: before --start")
        if self.start.year < 1990 or self.end.year > 2090:
            raise BadInput("--start/--end: years between 1990 and 2090")
        if (self.end - self.start).days > 366 * 10:
            raise BadInput("--end: the period is limited to 10 years")
        if self.seed < 0:
            raise BadInput("--seed: must be zero or positive")
        if not 1 <= self.deliveries <= MAX_DELIVERIES:
            raise BadInput(f"--deliveries: between 1 and {MAX_DELIVERIES}")
        if self.deliveries > self.flow_month_count():
            raise BadInput(f"--deliveries: at most {self.flow_month_count()} (one flow month each)")
        if self.columns not in COLUMN_SETS:
            raise BadInput(f"--columns: one of {', '.join(COLUMN_SETS)}")
        if not 0.0 <= self.profile.defect_rate <= 0.5:
            raise BadInput("--defect-rate: between 0 and 0.5")

    def flow_month_count(self) -> int:
        return month_index(self.end) - month_index(self.start) + 1 + FLOW_MONTHS_AFTER_END


def month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def profile_named(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise BadInput(f"--profile: unknown profile {name!r} (known: {', '.join(PROFILES)})") from None


def parse_plant(text: str, regions: set[str]) -> Plant:
    kind, _, region = text.partition(":")
    if kind not in PLANTS or not region:
        raise BadInput(f"--plant: expected coding_gap:REGION, got {text!r}")
    if region not in regions:
        raise BadInput(f"--plant: unknown region code {region!r} (a GEO_REG_COD of IR_DPT_V, e.g. 84)")
    return Plant(kind, region)
