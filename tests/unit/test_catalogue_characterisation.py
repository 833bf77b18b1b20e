"""Disclosure rules of the characterisation measured on data, and the choice of columns per table."""

from __future__ import annotations

from guichet.catalogue.characterise import DEFAULT_THRESHOLD, characterise, percentile
from guichet.catalogue.profile import percentile_of_counts, plan_profile


def test_threshold_is_the_casd_rule() -> None:
    assert DEFAULT_THRESHOLD == 11


def test_measured_figures_are_rounded_and_shown_from_the_threshold() -> None:
    c = characterise(1234, 57, period=("2019-01-03", "2021-12-30"), age_range=(23, 81, 57), departements=7,
                     source="data")
    assert (c.records, c.individuals) == (1230, 60)
    assert (c.age_p5, c.age_p95) == (23, 81)
    assert (c.period_start, c.period_end) == ("2019-01", "2021-12")  # months, not one person's event day
    assert c.departements == 7 and c.suppressed == ()
    exact = characterise(11, 11, age_range=(30, 70, 11))
    assert (exact.records, exact.individuals, exact.age_p5) == (10, 10, 30)


def test_a_small_population_publishes_no_figure_about_it() -> None:
    c = characterise(40, 10, period=("2019-01-03", "2019-02-01"), age_range=(30, 60, 10), departements=2)
    assert c.records == 40  # records are not people: 40 rows of 10 people may be shown, rounded
    assert c.individuals is None and c.age_p5 is None and c.age_p95 is None
    assert c.period_start is None and c.departements is None
    assert set(c.suppressed) == {"individuals", "ages", "period", "departements"}
    # enough people but too few of known age: the ages alone are withheld
    d = characterise(500, 200, age_range=(20, 80, 6))
    assert d.individuals == 200 and d.age_p5 is None and d.suppressed == ("ages",)
    # a product's own threshold
    e = characterise(30, 30, threshold=50)
    assert e.records is None and e.individuals is None and e.threshold == 50


def test_percentiles_from_a_histogram_equal_those_of_the_values() -> None:
    values = sorted([3, 5, 5, 8, 13, 21, 21, 21, 34, 55, 89, 90, 91, 92])
    histogram = [(v, values.count(v)) for v in sorted(set(values))]
    for q in (5, 50, 95):
        assert percentile_of_counts(histogram, q) == percentile(values, q)


def test_columns_are_chosen_per_table_from_its_schema() -> None:
    prs = plan_profile("ER_PRS_F", ["BEN_NIR_PSA", "BEN_NAI_ANN", "BEN_DCD_DTE", "EXE_SOI_DTD", "BEN_RES_DPT"])
    assert (prs.person, prs.event_date, prs.birth_year, prs.departement) == (
        "BEN_NIR_PSA", "EXE_SOI_DTD", "BEN_NAI_ANN", "BEN_RES_DPT")
    ben = plan_profile("IR_BEN_R", ["BEN_NIR_PSA", "BEN_NAI_ANN", "BEN_DCD_DTE", "BEN_RES_DPT"])
    assert ben.event_date is None  # the death date of the referential is not its event (sentinel when alive)
    mco = plan_profile("T_MCO19C", ["NIR_ANO_17", "EXE_SOI_DTD", "ETA_NUM"])
    assert (mco.person, mco.event_date, mco.birth_year) == ("NIR_ANO_17", "EXE_SOI_DTD", None)
    deaths = plan_profile("KI_CCI_R", ["BEN_IDT_ANO", "BEN_DCD_DTE", "BEN_NAI_ANN", "DCD_DPT_COD"])
    assert (deaths.person, deaths.event_date, deaths.departement) == ("BEN_IDT_ANO", "BEN_DCD_DTE", "DCD_DPT_COD")
