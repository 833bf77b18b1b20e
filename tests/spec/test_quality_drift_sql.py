"""Column profiles and learnt orders on tiny DuckDB tables: the categories each feature gives, the order
counts, and the drift checks against a previous version's profile (every recorded statement transpiles)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from guichet.engine import Engine, check_recorded
from guichet.quality import drift_sql as q
from guichet.quality.model import RunOutcome
from guichet.quality.plan import plan_checks
from guichet.quality.runner import Runner, TableSource, column_types
from guichet.schema import parse_schema

SCHEMA = parse_schema({"name": "T", "fields": [
    {"name": "ORG", "type": "string"}, {"name": "SEX", "type": "integer", "nomenclature": "IR_SEX_V"},
    {"name": "AMT", "type": "number"}, {"name": "BASE", "type": "number"}, {"name": "CARE", "type": "date"},
    {"name": "FLOW", "type": "date"}]}, "spec")


def _categories(engine: Engine, column: str, kind: str, values: str) -> dict[str, int]:
    engine.con.execute(f"CREATE OR REPLACE TEMP TABLE c AS SELECT * FROM (VALUES {values}) v({column})")
    rows = engine.fetch_all(q.feature_counts("c", [(column, kind)], None), purpose="spec")
    assert all(k == 0 and m is None for k, m, _, _ in rows)
    return {str(v): int(n) for _, _, v, n in rows}


def test_each_feature_gives_small_categories() -> None:
    with Engine() as e:
        assert _categories(e, "A", "shape", "('010280000'), ('10280000'), ('02A'), ('ab-1'), (NULL), "
                                            "('K3JQ7ZP2M4XQ5WR2A')") == {
            "L9": 1, "99999999": 1, "99A": 1, "aa-9": 1, "∅": 1, "L17": 1}
        assert _categories(e, "A", "magnitude", "(26.5), (30.0), (-3.2), (0.0), (2650.0), (NULL)") == {
            "+1f": 1, "+1i": 1, "-0f": 1, "0": 1, "+3i": 1, "∅": 1}
        assert _categories(e, "A", "count", "(1), (1), (3), (4567)") == {"1": 2, "3": 1, "+3i": 1}
        assert _categories(e, "A", "day", "(DATE '2022-03-01'), (DATE '2022-02-28'), (DATE '2022-02-27'), "
                                          "(DATE '2024-02-28')") == {"first": 1, "last": 1, "other": 2}
        assert _categories(e, "A", "code", "('00'), ('00'), ('01')") == {"00": 2, "01": 1}
        assert check_recorded([s.to_dict() for s in e.recorded]) == []


def test_orders_by_day_by_month_and_for_numbers_in_the_same_scan() -> None:
    with Engine() as e:
        e.con.execute("CREATE TEMP TABLE o AS SELECT * FROM (VALUES (DATE '2022-03-15', DATE '2022-03-01', 1.0, 2.0), "
                      "(DATE '2022-02-10', DATE '2022-03-01', 2.0, 2.0), (NULL, DATE '2022-04-01', 3.0, 1.0)) "
                      "v(CARE, FLOW, A, B)")
        tree = q.feature_counts("o", [("A", "magnitude")], "FLOW", 1,
                                [("CARE", "FLOW", "day"), ("CARE", "FLOW", "month"), ("A", "B", "")])
        rows = sorted((int(k), str(m)[:7], v, *rest) for k, m, v, *rest in e.fetch_all(tree, purpose="spec"))
        # the feature (k 0): its category; the orders (k 1): one row per combination, -1 / 0 / 1 per pair
        assert rows == [(0, "2022-03", "+0i", None, None, None, 2), (0, "2022-04", "+0i", None, None, None, 1),
                        (1, "2022-03", None, -1, -1, 0, 1), (1, "2022-03", None, 1, 0, -1, 1),
                        (1, "2022-04", None, None, None, 1, 1)]
        assert check_recorded([s.to_dict() for s in e.recorded]) == []


def _run(engine: Engine, view: str, history: dict[str, Any]) -> RunOutcome:
    src = TableSource("T", 2 if history else 1, view, SCHEMA, column_types(engine, view))
    checks = [c for c in plan_checks("T", SCHEMA, src.column_types, as_of=dt.date(2024, 1, 1), packs=[])
              if c.kind in ("column_drift", "order_drift")]
    checks = [c.with_(params={**c.params, "period": "FLOW"}) for c in checks]
    return Runner(engine).run(src, checks, history=history)


CLEAN = ("SELECT '0' || (10 + i % 7)::VARCHAR || '0000' AS ORG, 1 + (i // 12) % 2 AS SEX, (20 + i % 13)::DOUBLE + 0.5 AS AMT, "
         "(10 + i % 13)::DOUBLE AS BASE, DATE '2022-01-10' + INTERVAL (i % 12) MONTH AS CARE, "
         "DATE '2022-02-01' + INTERVAL (i % 12) MONTH AS FLOW, 'f' AS _source_file, i + 1 AS _source_row "
         "FROM range(6000) t(i)")


def test_drift_against_the_previous_version_and_across_months() -> None:
    with Engine() as e:
        e.con.execute(f"CREATE TEMP TABLE v1 AS {CLEAN}")
        first = _run(e, "v1", {})
        assert not [r.id for r in first.results if r.status == "fail"]
        assert set(first.profile["features"]) == {"ORG:shape", "SEX:code", "AMT:magnitude", "BASE:magnitude",
                                                  "CARE:day", "FLOW:day"}
        e.con.execute(f"CREATE TEMP TABLE v2 AS {CLEAN.replace('6000', '4000')}")
        again = _run(e, "v2", first.profile)
        assert not [r.id for r in again.results if r.status == "fail"], [r.note for r in again.results]
        # the producer's new job: codes lose their leading zero, the base is copied from the paid amount, a
        # tenth of care dates two months late (after their flow month)
        e.con.execute("CREATE TEMP TABLE v3 AS SELECT * REPLACE (ltrim(ORG, '0') AS ORG, AMT AS BASE, "
                      "CASE WHEN _source_row % 10 = 0 THEN CARE + INTERVAL 2 MONTH ELSE CARE END AS CARE) FROM v2")
        dirty = {r.id: r for r in _run(e, "v3", first.profile).results}
        assert dirty["T.column_drift.ORG"].status == "fail" and "'999999'" in dirty["T.column_drift.ORG"].note
        assert dirty["T.column_drift.BASE"].status == "fail" and "'+1f'" in dirty["T.column_drift.BASE"].note
        order = dirty["T.order_drift"]
        assert order.status == "fail" and "AMT vs BASE" in order.note and "CARE vs FLOW (by month)" in order.note
        assert {i for i, r in dirty.items() if r.status == "fail"} == {"T.column_drift.ORG", "T.column_drift.BASE",
                                                                      "T.order_drift"}
        assert check_recorded([s.to_dict() for s in e.recorded]) == []


def test_a_month_unlike_the_others_without_history() -> None:
    with Engine() as e:
        # sex coded 1/0 instead of 1/2 in one flow month only, in a first delivery
        e.con.execute(f"CREATE TEMP TABLE w AS SELECT * REPLACE (CASE WHEN FLOW = DATE '2022-06-01' AND SEX = 2 "
                      f"THEN 0 ELSE SEX END AS SEX) FROM ({CLEAN})")
        res = {r.id: r for r in _run(e, "w", {}).results}
        assert res["T.column_drift.SEX"].status == "fail"
        assert res["T.column_drift.SEX"].note.startswith("code, month 2022-06 against the other months")
        assert [i for i, r in res.items() if r.status == "fail"] == ["T.column_drift.SEX"]
