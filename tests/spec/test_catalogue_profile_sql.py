"""The characterisation's SQL on tiny tables: people, records, period, départements, one age per person."""

from __future__ import annotations

from sqlglot import exp

from guichet.catalogue.profile import age_histogram, figures_from, plan_profile, stage_rows, totals
from guichet.engine import Engine

ROWS = [  # person, care date, birth year, département
    ("P1", "2020-03-02", "1950", "075"), ("P1", "2021-07-14", "1950", "075"),  # latest event: age 71
    ("P2", "2019-01-05", "1990", "013"), ("P3", "2020-12-31", "2030", ""),  # P3: negative age, blank dép.
    ("", "2020-06-01", "1980", "069"),  # no person: a record, no one's age
]


def test_claims_are_measured_per_person_from_the_latest_event() -> None:
    plan = plan_profile("ER_PRS_F", ["BEN_NIR_PSA", "EXE_SOI_DTD", "BEN_NAI_ANN", "BEN_RES_DPT"])
    values = exp.values([tuple(exp.Literal.string(v) for v in r) for r in ROWS], alias="t",
                        columns=["BEN_NIR_PSA", "EXE_SOI_DTD", "BEN_NAI_ANN", "BEN_RES_DPT"])
    with Engine() as engine:
        engine.execute(exp.Create(this=exp.to_table("src"), kind="VIEW", expression=exp.select("*").from_(values)),
                       purpose="spec source", record=False)
        engine.execute(stage_rows(plan, "src"), purpose="stage", record=False)
        total = engine.fetch_all(totals(), purpose="totals")[0]
        histogram = engine.fetch_all(age_histogram(2024), purpose="ages")
    assert [tuple(map(int, h)) for h in histogram] == [(29, 1), (71, 1)]
    f = figures_from(plan, "ER_PRS_F", 1, total, [(int(a), int(n)) for a, n in histogram])
    assert (f.records, f.individuals, f.departements) == (5, 3, 3)
    assert (f.period_start, f.period_end) == ("2019-01-05", "2021-07-14")
    assert (f.aged, f.age_p5, f.age_p95) == (2, 29, 71)
