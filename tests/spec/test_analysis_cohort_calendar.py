"""Cohort criteria on calendar periods and régions, counted by hand on five persons: the index date's
year, quarter and month (``index_date``), a period of calendar dates or years/quarters/months on an event
criterion (``during``: the event's dates meet the dates; its start is in the years/quarters/months),
the région of residence through the départements → régions map (the connection's ``IR_DPT_V`` or the
shipped one), the event table restricted to a period, attrition rows for each such criterion, and
errors that name the bad field."""

import pyarrow as pa
import pytest

from guichet.access.criteria import departement_regions
from guichet.analysis.cohorts import attrition, cohort
from guichet.analysis.events import events
from guichet.errors import BadInput

# First A10 dispensing (the index): a 2022-11-15 (Q4), b 2023-07-01 (Q3), c 2024-01-05 (Q1), e 2023-10-10 (Q4);
# d has none. Résidence: a Paris (075, région 11), b Rhône (written 69, région 84), c Corse-du-Sud (2A, 94),
# d Bouches-du-Rhône (013, 93), e Guadeloupe (971, 1).
CLAIMS = [("a", "2022-11-15", "3313"), ("a", "2023-02-10", "3313"), ("a", "2023-05-20", "3313"),
          ("b", "2023-07-01", "3313"), ("b", "2023-08-01", "3313"), ("c", "2024-01-05", "3313"),
          ("d", "2023-03-03", "1111"), ("e", "2023-10-10", "3313")]
DISPENSED = {0: "A", 1: "A", 2: "A", 3: "A", 4: "A", 5: "A", 7: "A"}  # claim rank -> pack
MAP = pa.table({"GEO_DPT_COD": ["075", "069", "02A", "013", "971", "077"],
                "GEO_REG_COD": ["11", "84", "94", "93", "1", "11"]})


def tables(with_map: bool = True) -> dict[str, pa.Table]:
    ids = [f"c{i}" for i in range(len(CLAIMS))]
    out = {
        "IR_BEN_R": pa.table({"PERSON_ID": list("abcde"), "BEN_SEX_COD": ["2", "1", "2", "1", "2"],
                              "BEN_NAI_ANN": ["1950", "1980", "2010", "1970", "1960"],
                              "BEN_RES_DPT": ["075", "69", "2A", "013", "971"]}),
        "ER_PRS_F": pa.table({"PERSON_ID": [c[0] for c in CLAIMS], "CLAIM_ID": ids,
                              "EXE_SOI_DTD": [c[1] for c in CLAIMS], "PRS_NAT_REF": [c[2] for c in CLAIMS]}),
        "ER_PHA_F": pa.table({"PERSON_ID": [CLAIMS[i][0] for i in DISPENSED], "CLAIM_ID": [ids[i] for i in DISPENSED],
                              "PHA_PRS_C13": list(DISPENSED.values())}),
        # a: a stay in April 2023 (E11); b: a stay across the new year (E10)
        "T_MCOaaC": pa.table({"PERSON_ID": ["a", "b"], "STAY_ID": ["s1", "s2"], "ENT_DAT": ["2023-04-02", "2022-12-28"],
                              "SOR_DAT": ["2023-04-10", "2023-01-03"]}),
        "T_MCOaaB": pa.table({"STAY_ID": ["s1", "s2"], "DGN_PAL": ["E11", "E10"]}),
    }
    if with_map:
        out["IR_DPT_V"] = MAP
    return out


INDEX = {"codes": ["A10"], "system": "ATC"}
A10 = {"codes": ["A10"], "system": "ATC"}


def persons(con, definition, **kw):
    return cohort(con, definition, **kw).persons(con).column("person").to_pylist()


@pytest.fixture(scope="module")
def con():
    return events(tables(), drugs={"A": "A10BA02"})


def test_index_date_year_quarter_month_and_dates(con):
    assert persons(con, {"index": INDEX}) == ["a", "b", "c", "e"]
    assert persons(con, {"index": INDEX, "criteria": {"index_date": {"year": [2023]}}}) == ["b", "e"]
    assert persons(con, {"index": INDEX, "criteria": {"index_date": {"quarter": [4]}}}) == ["a", "e"]
    assert persons(con, {"index": INDEX, "criteria": {"index_date": {"month": [1, 7]}}}) == ["b", "c"]
    assert persons(con, {"index": INDEX, "criteria": {"index_date": {"from": "2023-01-01", "to": "2023-09-30"}}}) == ["b"]
    assert persons(con, {"index": INDEX, "criteria": {"index_date": {"year": [2023], "quarter": [4]}}}) == ["e"]
    assert persons(con, {"index": INDEX, "criteria": {"not": {"index_date": {"year": 2023}}}}) == ["a", "c"]


def test_index_event_in_a_period(con):
    # the first A10 dispensing from February 2023 on: a's is 2023-02-10 (Q1), not her first (2022-11-15)
    c = cohort(con, {"index": {**INDEX, "during": {"from": "2023-02-01"}},
                     "criteria": {"index_date": {"quarter": [1]}}})
    rows = c.persons(con).to_pylist()
    assert [(r["person"], str(r["d0"])) for r in rows] == [("a", "2023-02-10"), ("c", "2024-01-05")]


def test_events_during_a_period(con):
    assert persons(con, {"index": INDEX, "criteria": {**A10, "during": {"year": [2023]}}}) == ["a", "b", "e"]
    assert persons(con, {"index": INDEX, "criteria": {**A10, "during": {"year": [2023]}, "min_count": 2}}) == ["a", "b"]
    assert persons(con, {"index": INDEX, "criteria": {**A10, "during": {"quarter": [2]}}}) == ["a"]
    # b's stay (2022-12-28 to 2023-01-03) meets January 2023, but starts in 2022
    assert persons(con, {"index": INDEX, "criteria": {"event": "stay", "during": {"from": "2023-01-01", "to": "2023-01-31"}}}) \
        == ["b"]
    assert persons(con, {"index": INDEX, "criteria": {"event": "stay", "during": {"year": [2023]}}}) == ["a"]
    assert persons(con, {"criteria": {"event": "visit", "during": {"month": [3]}}}) == ["d"]
    # with a window too: A10 90 days or more after the index and in 2023 (a: 2023-05-20 only, 2023-02-10 is
    # 87 days after 2022-11-15; b: 2023-08-01 is 31 days after)
    assert persons(con, {"index": INDEX, "criteria": {**A10, "window": {"from": 90}, "during": {"year": [2023]}}}) \
        == ["a"]
    assert persons(con, {"index": INDEX, "criteria": {**A10, "window": {"from": 30}, "during": {"year": [2023]},
                                                      "min_count": 2}}) == ["a"]
    assert persons(con, {"index": INDEX, "criteria": {**A10, "window": {"from": 90}, "during": {"year": [2023]},
                                                      "min_count": 2}}) == []


def test_regions_of_residence(con):
    assert persons(con, {"index": INDEX, "criteria": {"territory": {"regions": ["84"]}}}) == ["b"]
    assert persons(con, {"index": INDEX, "criteria": {"territory": {"regions": ["11", "94"]}}}) == ["a", "c"]
    assert persons(con, {"criteria": {"territory": {"departements": ["13"], "regions": ["1"]}}}) == ["d", "e"]
    assert persons(con, {"index": INDEX, "criteria": {"not": {"territory": {"regions": ["11"]}}}}) == ["b", "c", "e"]


def test_regions_from_the_shipped_map():
    con = events(tables(with_map=False), drugs={"A": "A10BA02"})
    regions = departement_regions()
    assert persons(con, {"index": INDEX, "criteria": {"territory": {"regions": ["84", "94"]}}}, regions=regions) \
        == ["b", "c"]
    with pytest.raises(BadInput, match=r"^territory\.regions: no départements → régions map"):
        cohort(con, {"index": INDEX, "criteria": {"territory": {"regions": ["84"]}}})


def test_attrition_rows_for_each_criterion(con, tmp_path):
    out, final = attrition(con, [("index in 2023 or later", {"index_date": {"from": "2023-01-01"}}),
                                 ("resident in régions 84 or 94", {"territory": {"regions": ["84", "94"]}}),
                                 ("two A10 dispensings in 2023", {**A10, "during": {"year": [2023]}, "min_count": 2})],
                           index=INDEX, out=tmp_path / "attrition.csv", figure=False)
    assert out.read_text().splitlines() == ["step,count", "00. index event,4", "01. index in 2023 or later,3",
                                            "02. resident in régions 84 or 94,2", "03. two A10 dispensings in 2023,1"]
    assert final.persons(con).column("person").to_pylist() == ["b"]


def test_event_table_restricted_to_a_period():
    con = events(tables(), drugs={"A": "A10BA02"}, during={"year": [2023], "quarter": [1]})
    assert con.sql('SELECT person, category, CAST(start AS VARCHAR) FROM events ORDER BY ALL').fetchall() == [
        ("a", "dispensing", "2023-02-10"), ("d", "visit", "2023-03-03")]
    con = events(tables(), drugs={"A": "A10BA02"}, during={"from": "2023-01-01", "to": "2023-01-31"})
    assert con.sql("SELECT person, category FROM events ORDER BY ALL").fetchall() == [("b", "diagnosis"), ("b", "stay")]


@pytest.mark.parametrize(("criteria", "message"), [
    ({"index_date": {"quarter": [5]}}, r"^index_date\.quarter: a list of whole numbers from 1 to 4$"),
    ({"index_date": {"month": ["3"]}}, r"^index_date\.month: "),
    ({"index_date": {}}, r"^index_date: an object with "),
    ({**A10, "during": {"from": "2023-13-01"}}, r"^during\.from: a date YYYY-MM-DD$"),
    ({**A10, "during": {"from": "2023-05-01", "to": "2023-01-01"}}, r"^during\.to: before during\.from$"),
    ({**A10, "during": {"week": [1]}}, r"^during\.week: not a period key"),
    ({"territory": {"regions": ["XX"]}}, r"^territory\.regions\[0\]: not a région"),
    ({"territory": {"region": ["84"]}}, r"^territory\.region: not a territory key"),
    ({"territory": {"regions": "84"}}, r"^territory\.regions: a list of codes$"),
    ({**A10, "windw": {"from": 0}}, r"^windw: not an option of a codes or event criterion$"),
])
def test_errors_name_the_bad_field(con, criteria, message):
    with pytest.raises(BadInput, match=message):
        cohort(con, {"index": INDEX, "criteria": criteria})


def test_index_period_and_event_table_errors(con):
    with pytest.raises(BadInput, match=r"^index\.during\.year: "):
        cohort(con, {"index": {**INDEX, "during": {"year": [1]}}})
    with pytest.raises(BadInput, match=r"^during\.to: a date YYYY-MM-DD$"):
        events(tables(), during={"to": "31/12/2023"})
