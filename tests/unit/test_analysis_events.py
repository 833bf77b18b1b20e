"""The event table from extract-shaped tables: each category from its table, dispensings and diagnoses
dated by their claim or stay (and their DAYS_SINCE_INDEX), ATC from the map given, sentinel deaths out."""

import pyarrow as pa
import pytest

from guichet.analysis.events import event_table
from guichet.errors import BadInput


def extract() -> dict[str, pa.Table]:
    return {
        "IR_BEN_R": pa.table({"PERSON_ID": ["p1", "p2", "p3"], "BEN_SEX_COD": ["1", "2", "2"],
                              "BEN_NAI_ANN": ["1950", "1980", "1990"], "BEN_RES_DPT": ["075", "069", "013"],
                              "BEN_DCD_DTE": ["2023-05", None, "1600-01"]}),
        "ER_PRS_F": pa.table({"PERSON_ID": ["p1", "p1", "p2"], "CLAIM_ID": ["c1", "c2", "c3"],
                              "EXE_SOI_DTD": ["2023-01", "2023-02", "2023-03"], "PRS_NAT_REF": ["3313", "1111", "1112"],
                              "DAYS_SINCE_INDEX": [0, 31, 0]}),
        "ER_PHA_F": pa.table({"PERSON_ID": ["p1", "p1"], "CLAIM_ID": ["c1", "c1"],
                              "PHA_PRS_C13": ["3400000000001", "3400000000002"], "PHA_ACT_QSN": [2, 1]}),
        "T_MCOaaC": pa.table({"PERSON_ID": ["p2"], "STAY_ID": ["s1"], "ENT_DAT": ["2023-04"], "SOR_DAT": ["2023-05"],
                              "DAYS_SINCE_INDEX": [40]}),
        "T_MCOaaB": pa.table({"STAY_ID": ["s1"], "DGN_PAL": ["I21"], "DGN_REL": [""]}),
        "T_MCOaaD": pa.table({"STAY_ID": ["s1", "s1"], "ASS_DGN": ["E119", "I10"]}),
        "IR_IMB_R": pa.table({"PERSON_ID": ["p3"], "IMB_ALD_NUM": ["8"], "MED_MTF_COD": ["E11"],
                              "IMB_ALD_DTD": ["2020-06"], "IMB_ALD_DTF": ["2030-06"]}),
    }


def test_every_category_from_its_table():
    t = event_table(extract(), drugs={"3400000000001": "A10BA02"}).to_pylist()
    by = {(r["category"], r["value"]): r for r in t}
    d1 = by[("dispensing", "3400000000001")]
    assert d1["group"] == "A10BA02" and d1["weight"] == 2 and str(d1["start"]) == "2023-01-01" and d1["day"] == 0
    assert by[("dispensing", "3400000000002")]["group"] == "unknown"
    assert ("visit", "3313") not in by and by[("visit", "1111")]["day"] == 31
    assert by[("diagnosis", "I21")]["group"] == "principal" and by[("diagnosis", "I21")]["person"] == "p2"
    assert by[("diagnosis", "E119")]["group"] == "associated" and by[("diagnosis", "E119")]["day"] == 40
    assert not any(r["category"] == "diagnosis" and r["value"] == "" for r in t)
    stay = by[("stay", "s1")]
    assert stay["weight"] == 30 and str(stay["end"]) == "2023-05-01"
    assert by[("long_term_illness", "E11")]["group"] == "8"
    deaths = [r for r in t if r["category"] == "death"]
    assert [r["person"] for r in deaths] == ["p1"]  # the 1600 sentinel is no death


def test_exact_and_pmsi_dates_are_read():
    tables = extract()
    tables["T_MCOaaC"] = pa.table({"PERSON_ID": ["p2"], "STAY_ID": ["s1"], "ENT_DAT": ["29032023"],
                                   "SOR_DAT": ["07042023"]})
    stay = next(r for r in event_table(tables).to_pylist() if r["category"] == "stay")
    assert str(stay["start"]) == "2023-03-29" and stay["weight"] == 9 and stay["day"] is None


def test_no_usable_table_is_refused():
    with pytest.raises(BadInput):
        event_table({"X": pa.table({"a": [1]})})


def test_made_again_replaces_the_previous_table_and_its_parts():
    import duckdb

    from guichet.analysis.events import events

    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE events AS SELECT 1 AS x")  # a table of that name (an earlier version's)
    events(extract(), con=con, drugs={"3400000000001": "A10BA02"})
    full = con.execute("SELECT category, count(*) FROM events GROUP BY 1 ORDER BY 1").fetchall()
    assert full == [("death", 1), ("diagnosis", 3), ("dispensing", 2), ("long_term_illness", 1), ("stay", 1),
                    ("visit", 2)]
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'events'").fetchall())
    assert types == {"person": "VARCHAR", "category": "VARCHAR", "group": "VARCHAR", "value": "VARCHAR",
                     "weight": "DOUBLE", "start": "DATE", "end": "DATE", "day": "INTEGER", "source": "VARCHAR"}
    events(con=con, categories=["visit"])
    assert con.execute("SELECT category, count(*) FROM events GROUP BY 1").fetchall() == [("visit", 2)]
    parts = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE '\\_events\\_%' "
                        "ESCAPE '\\'").fetchall()
    assert parts == [("_events_0",)]  # the previous table's parts are gone
