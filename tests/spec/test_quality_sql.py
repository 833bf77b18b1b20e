"""Quality SQL builders on tiny DuckDB tables: data in, expected rows_failing (and failing row numbers) out.

Each case is a small table, one check, and what must fail; the same builders run on the lake at scale."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from guichet.engine import Engine, check_recorded
from guichet.quality.model import Check, CheckResult
from guichet.quality.runner import Flagged, Runner, TableSource, column_types


def _table(engine: Engine, name: str, sql_select: str) -> TableSource:
    engine.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT *, 'f' AS _source_file, "
                       f"row_number() OVER () AS _source_row FROM ({sql_select})")
    return TableSource(name, 1, name, None, column_types(engine, name))


def _check(kind: str, columns: tuple[str, ...], category: str = "conformance", **params: Any) -> Check:
    return Check(f"t.{kind}", "t", kind, category, "", "blocking", 5.0, columns, params)


def _one(engine: Engine, src: TableSource, check: Check, refs: dict[str, TableSource] | None = None,
         history: dict[str, Any] | None = None) -> CheckResult:
    return Runner(engine).run(src, [check], refs=refs, history=history).results[0]


CASES = [  # (rows as SELECT, check, failing source rows)
    ("SELECT * FROM (VALUES (1), (NULL), (3)) v(A)", _check("not_null", ("A",), "completeness"), [2]),
    ("SELECT * FROM (VALUES ('a'), (' b '), ('z'), (NULL)) v(A)", _check("value_in", ("A",), values=["a", "b"]), [3]),
    ("SELECT * FROM (VALUES (1), (2), (7)) v(A)", _check("value_in", ("A",), values=[1, 2]), [3]),
    ("SELECT * FROM (VALUES (-1), (50), (121), (NULL)) v(A)", _check("range", ("A",), min=0, max=120), [1, 3]),
    ("SELECT * FROM (VALUES ('ABC'), ('AB1'), (NULL)) v(A)", _check("pattern", ("A",), pattern="[A-Z]+"), [2]),
    ("SELECT * FROM (VALUES ('ABCD'), ('ABCDE'), ('ABCD  ')) v(A)", _check("max_length", ("A",), length=4), [2]),
    ("SELECT * FROM (VALUES ('AB'), ('A'), ('  A ')) v(A)", _check("min_length", ("A",), length=2), [2, 3]),
    ("SELECT DATE '2022-01-05' AS S, d AS E FROM (VALUES (DATE '2022-01-04'), (DATE '2022-01-05')) v(d)",
     _check("date_order", ("S", "E")), [1]),
    # care of 15 March paid in flow month March (1st) passes by month; February fails; 4 years later fails
    ("SELECT DATE '2022-03-15' AS S, d AS E FROM (VALUES (DATE '2022-03-01'), (DATE '2022-02-01'), "
     "(DATE '2026-03-01')) v(d)", _check("date_order", ("S", "E"), unit="month", max_days=1100), [2, 3]),
    ("SELECT * FROM (VALUES (2020), (2031)) v(Y)", _check("not_future", ("Y",), value_kind="year", as_of="2024-12-31"),
     [2]),
    ("SELECT * FROM (VALUES (DATE '1600-01-01'), (DATE '2022-01-01')) v(D)",
     _check("sentinel", ("D",), "completeness", values=["1600-01-01"], value_kind="date"), [1]),
    ("SELECT * FROM (VALUES ('12'), ('x'), (''), (NULL)) v(A)", _check("type", ("A",), sql_type="BIGINT"), [2]),
    ("SELECT * FROM (VALUES (71), (1)) v(DPN_QLF)", _check("condition", ("DPN_QLF",), sql="DPN_QLF = 71"), [1]),
    ("SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (1, 'c'), (1, 'a'), (NULL, 'z'), (NULL, 'z')) v(K, V)",
     _check("unique", ("K",)), [3, 4]),
    ("SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (1, 'a')) v(K, V)", _check("duplicate_row", ()), [3]),
    # shipped nomenclatures: IR_SEX_V is short (inlined), IR_NAT_V long (counted per distinct value)
    ("SELECT * FROM (VALUES (1), (2), (7), (NULL)) v(SEX)", _check("nomenclature", ("SEX",), nomenclature="IR_SEX_V",
                                                                  numeric=True), [3]),
    ("SELECT * FROM (VALUES (1111), (99999), (99999)) v(NAT)", _check("nomenclature", ("NAT",),
                                                                      nomenclature="IR_NAT_V", numeric=True), [2, 3]),
]


@pytest.mark.parametrize(("rows", "check", "failing"), CASES, ids=[f"{c[1].kind}-{i}" for i, c in enumerate(CASES)])
def test_row_and_table_checks(rows: str, check: Check, failing: list[int]) -> None:
    with Engine() as engine:
        src = _table(engine, "t", rows)
        flagged = Flagged()
        res = Runner(engine).run(src, [check], flagged=flagged).results[0]
        assert res.status == ("fail" if failing else "pass")
        assert res.rows_failing == len(failing)
        assert sorted(res.failing_rows) == failing
        assert sorted(r for (_f, r) in flagged.rows) == failing
        assert check_recorded([s.to_dict() for s in engine.recorded]) == []  # every statement transpiles to Spark


def test_foreign_key_on_hashed_composite_keys_and_text_against_numbers() -> None:
    with Engine() as engine:
        parent = _table(engine, "p", "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) v(K1, K2)")
        child = _table(engine, "c", "SELECT * FROM (VALUES ('1', 'a'), ('2', 'a'), (NULL, 'a'), ('2', 'b')) v(K1, K2)")
        fk = _check("foreign_key", ("K1", "K2"), ref={"table": "p", "columns": ["K1", "K2"]})
        res = _one(engine, child, fk, refs={"p": parent})
        assert (res.rows_checked, res.rows_failing, res.failing_rows) == (4, 1, (2,))


def _deaths(engine: Engine) -> dict[str, TableSource]:
    ben = _table(engine, "ben", "SELECT * FROM (VALUES ('P1', DATE '2022-03-10'), ('P2', DATE '1600-01-01'), "
                                "('P3', NULL), ('P4', DATE '1600-01-01')) v(PSA, DCD)")
    stays = _table(engine, "stays", "SELECT * FROM (VALUES ('P2', 1, 10, DATE '2022-05-01'), "
                                    "('P4', 1, 11, DATE '2022-05-01')) v(NIR_ANO_17, ETA_NUM, RSA_NUM, SOR_DAT)")
    exits = _table(engine, "exits", "SELECT * FROM (VALUES (1, 10, '9'), (1, 11, '8')) v(ETA_NUM, RSA_NUM, SOR_MOD)")
    return {"ben": ben, "stays": stays, "exits": exits}


def test_after_death_with_recorded_dates_sentinels_and_hospital_deaths() -> None:
    with Engine() as engine:
        refs = _deaths(engine)
        claims = _table(engine, "claims", "SELECT * FROM (VALUES ('P1', DATE '2022-03-11'), ('P1', DATE '2022-03-13'), "
                                          "('P2', DATE '2022-05-02'), ('P2', DATE '2022-05-09'), "
                                          "('P3', DATE '2024-01-01'), ('P4', DATE '2022-09-01')) v(PSA, CARE)")
        hospital = {"stays": "stays", "exits": "exits", "patient": "NIR_ANO_17", "date": "SOR_DAT",
                    "link": ["ETA_NUM", "RSA_NUM"], "mode": "SOR_MOD", "modes": ["9"], "parent_key": "PSA"}
        check = _check("after_death", ("CARE",), "plausibility", ref={"table": "ben", "columns": ["PSA"]},
                       keys=["PSA"], death="DCD", sentinels=["1600-01-01"], tolerance_days=1, hospital=hospital)
        res = _one(engine, claims, check, refs=refs)
        # P1: recorded death + 3 days; P2: sentinel, died in hospital 1 May, care on 9 May; P3 alive;
        # P4: sentinel but its stay ended with exit mode 8 (not a death): no evidence, not flagged
        assert res.failing_rows == (2, 4)
        without = _one(engine, claims, check.with_(params={k: v for k, v in check.params.items() if k != "hospital"}),
                       refs=refs)
        assert without.failing_rows == (2,)


def test_flow_volume_and_drift_against_history() -> None:
    with Engine() as engine:
        src = _table(engine, "f", "SELECT DATE '2022-01-01' + INTERVAL (i % 6) MONTH AS M, (i % 10)::DOUBLE AS AMT "
                                  "FROM range(600) t(i) WHERE i % 6 <> 3")
        flow = Check("t.flow", "t", "flow_volume", "plausibility", "temporal", "warning", 0.0, ("M",), {}, "", "", False)
        res = _one(engine, src, flow)
        assert res.status == "fail" and "2022-04 (no rows)" in res.note and res.rows_failing == 1
        drift = Check("t.drift", "t", "drift", "plausibility", "temporal", "warning", 0.0, ("AMT",), {}, "", "", False)
        first = Runner(engine).run(src, [drift])
        assert first.results[0].status == "pass" and "no previous version" in first.results[0].note
        engine.con.execute("CREATE OR REPLACE TEMP TABLE g AS SELECT * REPLACE (AMT * 100 AS AMT) FROM f")
        again = _one(engine, TableSource("g", 2, "g", None, column_types(engine, "g")), drift, history=first.profile)
        assert again.status == "fail" and "AMT (mean x100.00)" in again.note


def test_reference_date_is_in_the_past_for_archived_claims() -> None:
    from guichet.quality.store import reference_date

    with Engine() as engine:
        claims = _table(engine, "er", "SELECT DATE '2022-06-30' AS EXE_SOI_DTD")
        assert reference_date(engine, {"ER_PRS_F": claims}, dt.date(2030, 1, 1)) == dt.date(2023, 12, 31)
        assert reference_date(engine, {}, dt.date(2030, 1, 1)) == dt.date(2030, 1, 1)
