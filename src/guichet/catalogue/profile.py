"""Characterising a published table from its data: which columns say what, and the SQL that measures them.

The figures measured here are exact and stay in the metadata store (``catalogue_characterisations``); what
may be published is decided by ``characterise.characterise`` (rounding to 10, suppression under the source's
minimum cell count). Column choice is per table, from the columns the version actually has:

- the person: the first pseudonymous person identifier present (``BEN_NIR_PSA`` in the DCIR and the
  beneficiaries' referential, ``NIR_ANO_17`` in the PMSI, ``BEN_IDT_ANO``/``BEN_NIR_ANO`` otherwise);
- the main event date: care start (``EXE_SOI_DTD``), long-term illness start, hospital entry, death date
  for the causes-of-death tables (``BEN_DCD_DTE`` elsewhere is a "not dead" sentinel, never the event);
- the birth year ``BEN_NAI_ANN``: a person's age is the year of their latest event in the table minus their
  birth year; a table without an event date (a referential) gives the age in the year of its deposit;
- the département of residence (``BEN_RES_DPT``, ``BDI_DEP`` in the PMSI, ``DCD_DPT_COD`` for deaths).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

PERSON_COLUMNS = ("BEN_NIR_PSA", "NIR_ANO_17", "BEN_IDT_ANO", "BEN_NIR_ANO")
EVENT_DATES = ("EXE_SOI_DTD", "IMB_ALD_DTD", "ENT_DAT", "SOR_DAT", "FLX_DIS_DTD")
DEATH_TABLES = ("KI_CCI_R", "KI_ECD_R")  # causes of death: the death is the event
BIRTH_YEARS = ("BEN_NAI_ANN",)
DEPARTEMENTS = ("BEN_RES_DPT", "BDI_DEP", "DCD_DPT_COD")
MAX_AGE = 120  # older (or negative) ages are data errors the quality stage reports; not counted here
STAGE = "catalogue_char_rows"


@dataclass(frozen=True)
class ProfilePlan:
    """The columns of one table version that carry the person, the event date, the birth year, the place."""

    table: str
    person: str | None
    event_date: str | None
    birth_year: str | None
    departement: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"person": self.person, "event_date": self.event_date, "birth_year": self.birth_year,
                "departement": self.departement}


def _first(candidates: Iterable[str], columns: set[str]) -> str | None:
    return next((c for c in candidates if c in columns), None)


def plan_profile(table: str, columns: Sequence[str]) -> ProfilePlan:
    have = set(columns)
    dates = ("BEN_DCD_DTE", *EVENT_DATES) if table.upper() in DEATH_TABLES else EVENT_DATES
    return ProfilePlan(table, _first(PERSON_COLUMNS, have), _first(dates, have), _first(BIRTH_YEARS, have),
                       _first(DEPARTEMENTS, have))


def _col(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True))


def _blank_is_null(e: exp.Expression) -> exp.Expression:
    text = exp.Trim(this=exp.cast(e, "VARCHAR"))
    return exp.Nullif(this=text, expression=exp.Literal.string(""))


def stage_rows(plan: ProfilePlan, view: str) -> exp.Create:
    """One scan of the encrypted files into a temporary table of the four columns (DuckDB 2.0.1 fails the AES
    tag check when one query reads an encrypted file twice, so the measures below read this table)."""
    null = exp.Null()
    person = _blank_is_null(_col(plan.person)) if plan.person else null
    date = exp.TryCast(this=_col(plan.event_date), to=exp.DataType.build("DATE")) if plan.event_date else null
    birth = (exp.TryCast(this=_col(plan.birth_year), to=exp.DataType.build("INT")) if plan.birth_year else null)
    dep = _blank_is_null(_col(plan.departement)) if plan.departement else null
    select = exp.select(exp.alias_(person, "p"), exp.alias_(exp.cast(date, "DATE"), "d"),
                        exp.alias_(exp.cast(birth, "INT"), "b"), exp.alias_(exp.cast(dep, "VARCHAR"), "dep")
                        ).from_(view)
    return exp.Create(this=exp.to_table(STAGE), kind="TABLE", replace=True,
                      properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=select)


def totals() -> exp.Select:
    """Records, distinct people, first and last event date, distinct départements."""
    return exp.select(exp.Count(this=exp.Star()),
                      exp.Count(this=exp.Distinct(expressions=[exp.column("p")])),
                      exp.Min(this=exp.column("d")), exp.Max(this=exp.column("d")),
                      exp.Count(this=exp.Distinct(expressions=[exp.column("dep")]))).from_(STAGE)


def age_histogram(reference_year: int) -> exp.Select:
    """(age, people): one age per person — latest event year (or ``reference_year``) minus birth year."""
    year = exp.Coalesce(this=exp.Max(this=exp.Year(this=exp.column("d"))),
                        expressions=[exp.Literal.number(reference_year)])
    per_person = (exp.select(exp.alias_(exp.Sub(this=year, expression=exp.Max(this=exp.column("b"))), "age"))
                  .from_(STAGE).where(exp.Not(this=exp.Is(this=exp.column("p"), expression=exp.Null())))
                  .group_by(exp.column("p")))
    age = exp.column("age")
    return (exp.select(age, exp.Count(this=exp.Star())).from_(per_person.subquery("ages"))
            .where(exp.Between(this=age, low=exp.Literal.number(0), high=exp.Literal.number(MAX_AGE)))
            .group_by(age).order_by(age))


def percentile_of_counts(histogram: Sequence[tuple[int, int]], q: float) -> int:
    """Nearest-rank percentile of a sorted (value, count) histogram (same as ``characterise.percentile``)."""
    total = sum(n for _, n in histogram)
    if total == 0:
        raise ValueError("no values")
    rank = max(1, -(-q * total // 100))
    seen = 0
    for value, n in histogram:
        seen += n
        if seen >= rank:
            return int(value)
    return int(histogram[-1][0])  # pragma: no cover - rank <= total


@dataclass(frozen=True)
class TableFigures:
    """Exact figures of one table version (kept in the metadata store, never published as they are)."""

    dataset: str
    version: int
    records: int
    individuals: int | None  # None: no person column
    aged: int  # people with a plausible age
    age_p5: int | None
    age_p95: int | None
    period_start: str | None
    period_end: str | None
    departements: int | None  # None: no département column
    columns: dict[str, str | None]

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "version": self.version, "records": self.records,
                "individuals": self.individuals, "aged": self.aged, "age_p5": self.age_p5, "age_p95": self.age_p95,
                "period_start": self.period_start, "period_end": self.period_end,
                "departements": self.departements, "columns": dict(self.columns)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableFigures:
        return cls(str(d["dataset"]), int(d["version"]), int(d["records"]), d.get("individuals"), int(d.get("aged", 0)),
                   d.get("age_p5"), d.get("age_p95"), d.get("period_start"), d.get("period_end"),
                   d.get("departements"), dict(d.get("columns") or {}))


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def figures_from(plan: ProfilePlan, dataset: str, version: int, total_row: Sequence[Any],
                 histogram: Sequence[tuple[int, int]]) -> TableFigures:
    records, people, first, last, deps = total_row
    aged = sum(int(n) for _, n in histogram)
    p5 = percentile_of_counts(histogram, 5) if aged else None
    p95 = percentile_of_counts(histogram, 95) if aged else None
    return TableFigures(dataset, version, int(records), int(people) if plan.person else None, aged, p5, p95,
                        _iso(first), _iso(last), int(deps) if plan.departement else None, plan.to_dict())
