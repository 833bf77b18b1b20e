"""Cohorts over the event table: an index event, windows relative to it (exact days from
DAYS_SINCE_INDEX), min_count, set operations, and the attrition table written through crosstab with its
flowchart attached."""

import json

import pyarrow as pa
import pytest

from guichet.analysis.cohorts import attrition, cohort
from guichet.analysis.events import events
from guichet.analysis.metadata import read
from guichet.errors import BadInput


def con_with_events():
    # p1: index (A10) day 0, stay day 30, A10 again day 60 and 400. p2: index day 10, E10 diagnosis at day 5.
    # p3: no A10. p4: index day 0, male, born 2010 (a minor).
    prs = pa.table({"PERSON_ID": ["p1", "p1", "p1", "p2", "p3", "p4"], "CLAIM_ID": ["c1", "c2", "c3", "c4", "c5", "c6"],
                    "EXE_SOI_DTD": ["2023-01", "2023-03", "2024-02", "2023-01", "2023-01", "2023-01"],
                    "PRS_NAT_REF": ["3313"] * 6, "DAYS_SINCE_INDEX": [0, 60, 400, 10, 0, 0]})
    pha = pa.table({"PERSON_ID": ["p1", "p1", "p1", "p2", "p3", "p4"], "CLAIM_ID": ["c1", "c2", "c3", "c4", "c5", "c6"],
                    "PHA_PRS_C13": ["A", "A", "A", "A", "B", "A"]})
    tables = {
        "IR_BEN_R": pa.table({"PERSON_ID": ["p1", "p2", "p3", "p4"], "BEN_SEX_COD": ["2", "2", "1", "1"],
                              "BEN_NAI_ANN": ["1950", "1960", "1970", "2010"], "BEN_RES_DPT": ["075", "69", "013", "075"]}),
        "ER_PRS_F": prs, "ER_PHA_F": pha,
        "T_MCOaaC": pa.table({"PERSON_ID": ["p1", "p2"], "STAY_ID": ["s1", "s2"], "ENT_DAT": ["2023-02", "2023-01"],
                              "SOR_DAT": ["2023-02", "2023-01"], "DAYS_SINCE_INDEX": [30, 5]}),
        "T_MCOaaB": pa.table({"STAY_ID": ["s1", "s2"], "DGN_PAL": ["I21", "E109"]}),
    }
    return events(tables, drugs={"A": "A10BA02", "B": "N02BE01"})


INDEX = {"codes": ["A10"], "system": "ATC"}


def persons(con, definition):
    return cohort(con, definition).persons(con).column("person").to_pylist()


def test_index_and_windows():
    con = con_with_events()
    assert persons(con, {"index": INDEX}) == ["p1", "p2", "p4"]
    assert persons(con, {"index": INDEX, "criteria": {"event": "stay", "window": {"from": 1, "to": 90}}}) == ["p1"]
    # p2's E10 stay is 5 days before the index
    assert persons(con, {"index": INDEX, "criteria": {"codes": ["E10"], "system": "ICD10", "window": {"to": 0}}}) == ["p2"]
    assert persons(con, {"index": INDEX, "criteria": {"codes": ["E10"], "system": "ICD10", "window": {"from": 0}}}) == []
    assert persons(con, {"index": INDEX, "criteria": {"codes": ["A10"], "system": "ATC", "window": {"from": 0, "to": 365},
                                                      "min_count": 2}}) == ["p1"]
    assert persons(con, {"index": INDEX, "criteria": {"all": [{"sex": "female"}, {"age": {"min": 18}, "at": "index"}]}}) \
        == ["p1", "p2"]
    assert persons(con, {"index": INDEX, "criteria": {"territory": {"departements": ["69"]}}}) == ["p2"]
    assert persons(con, {"index": INDEX, "criteria": {"not": {"sex": "female"}}}) == ["p4"]
    with pytest.raises(BadInput):
        cohort(con, {"index": INDEX, "criteria": {"codes": ["A10"], "system": "XYZ"}})


def test_set_operations():
    con = con_with_events()
    a = cohort(con, {"index": INDEX})
    b = cohort(con, {"index": {"event": "stay"}})
    names = lambda c: c.persons(con).column("person").to_pylist()  # noqa: E731
    assert names(a.union(b)) == ["p1", "p2", "p4"] and names(a.intersection(b)) == ["p1", "p2"]
    assert names(a.difference(b)) == ["p4"] and names(cohort(con, {})) == ["p1", "p2", "p3", "p4"]


def test_attrition_through_the_helpers(tmp_path):
    con = con_with_events()
    out, final = attrition(con, [("adults", {"age": {"min": 18}, "at": "index"}),
                                 ("no type 1 before", {"not": {"codes": ["E10"], "system": "ICD10", "window": {"to": 0}}})],
                           index=INDEX, out=tmp_path / "attrition.csv")
    assert out.read_text().splitlines() == ["step,count", "00. index event,3", "01. adults,2", "02. no type 1 before,1"]
    meta = read(out)
    assert meta["helper"] == "crosstab" and [c["persons"] for c in meta["cells"]] == [3, 2, 1]
    assert final.persons(con).column("person").to_pylist() == ["p1"]
    fig = json.loads((tmp_path / "attrition.svg.meta.json").read_text())
    assert fig["helper"] == "figure" and fig["table"].endswith("attrition.csv")
    assert "excluded: 1" in (tmp_path / "attrition.svg").read_text()


def test_pathways_transitions_and_km_come_with_their_tables(tmp_path):
    from guichet.analysis.pathways import time_to_event, transitions

    con = con_with_events()
    c = cohort(con, {"index": INDEX})
    out = transitions(con, c, out=tmp_path / "transitions.csv", steps=3)
    lines = out.read_text().splitlines()
    # p1: pharmacy (0) -> hospital (30) -> pharmacy (60); p2: pharmacy (10, its stay was before); p4: pharmacy
    assert lines[0] == "from_setting,end,hospital,pharmacy,Total"
    assert "hospital,0,0,1,1" in lines and "pharmacy,2,1,0,3" in lines
    assert json.loads((tmp_path / "transitions.svg.meta.json").read_text())["table"].endswith("transitions.csv")
    km = time_to_event(con, c, {"event": "stay"}, out=tmp_path / "km.csv", interval=1)
    rows = km.read_text().splitlines()
    assert rows[0] == "days,at_risk,events,censored,survival"
    assert rows[1:] == ["0,3,0,2,1", "30,1,1,0,0"]  # p2, p4 censored at day 0; p1's stay at day 30
    assert read(km)["helper"] == "survival_table" and (tmp_path / "km.svg.meta.json").is_file()
    # only the stays of a calendar period count: p1's (February 2023) is not in 2024, so p1 is censored too
    km = time_to_event(con, c, {"event": "stay", "during": {"year": [2024]}}, out=tmp_path / "km24.csv", interval=1)
    assert [r.split(",")[2] for r in km.read_text().splitlines()[1:]] == ["0"] * (len(km.read_text().splitlines()) - 1)
    # a window: p1's stay (day 30) is after its end (day 20), where p1's follow-up stops (censored at 20, not 60)
    km = time_to_event(con, c, {"event": "stay", "window": {"to": 20}}, out=tmp_path / "kmw.csv", interval=1)
    assert km.read_text().splitlines()[1:] == ["0,3,0,2,1", "20,1,0,1,1"]
    # from day 31 on, the stay at day 30 does not count either; up to day 30 it does
    km = time_to_event(con, c, {"event": "stay", "window": {"to": 30}}, out=tmp_path / "kmw30.csv", interval=1)
    assert km.read_text().splitlines()[1:] == ["0,3,0,2,1", "30,1,1,0,0"]
    km = time_to_event(con, c, {"event": "stay", "window": {"from": 31}}, out=tmp_path / "kmw31.csv", interval=1)
    assert [r.split(",")[2] for r in km.read_text().splitlines()[1:]] == ["0", "0"]
    # min_count: the time to the second stay; p1 has one: censored at its last event
    km = time_to_event(con, c, {"event": "stay", "min_count": 2}, out=tmp_path / "kmn.csv", interval=1)
    assert [r.split(",")[2] for r in km.read_text().splitlines()[1:]] == ["0", "0"]
    for bad, words in (({"window": {"to": 0}}, "window.to"), ({"window": {"until": 3}}, "window is"),
                       ({"min_count": 0}, "min_count"), ({"window": {"to": "30"}}, "whole numbers")):
        with pytest.raises(BadInput, match=words):
            time_to_event(con, c, {"event": "stay", **bad}, out=tmp_path / "bad.csv", interval=1)
