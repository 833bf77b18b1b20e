"""Quality checks against the bare DuckDB work they need, on a synthetic claims table made with DuckDB SQL.

Targets (issue "Quality"): single-table checks, the 9-key DCIR uniqueness included, <= 3x one full scan
(``SELECT count(*), sum(hash(c1)), ...`` over every column); cross-table (pharmacy -> claims on the 9 keys)
and over-time checks (drift, rows per flow month) <= 1.5x the bare join / aggregates they need. Each stage of
the runner is timed on its own (``Runner.single_table``, ``cross_table``, ``over_time``); baseline and
subject alternate, medians of --repeat runs (>= 3). The column drift and learnt orders (every column's
feature per flow month, every pair's order; against a previous version's profile) are timed against one
full scan, and so is the whole run of the claims table (every stage but the cross-table one).

    .venv/bin/python benchmarks/quality.py --rows 5000000
    .venv/bin/python benchmarks/quality.py --quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

from guichet.engine import Engine
from guichet.quality.plan import plan_checks
from guichet.quality.runner import Runner, TableSource, column_types
from guichet.schema import parse_schema

KEYS = ["DCT_ORD_NUM", "FLX_DIS_DTD", "FLX_EMT_NUM", "FLX_EMT_ORD", "FLX_EMT_TYP", "FLX_TRT_DTD", "ORG_CLE_NUM",
        "PRS_ORD_NUM", "REM_TYP_AFF"]
CLAIMS = """CREATE TABLE ER_PRS_F AS SELECT
  i AS _source_row, 'ER_PRS_F.csv' AS _source_file,
  i // 7 AS DCT_ORD_NUM, DATE '2022-01-01' + INTERVAL (i % 24) MONTH AS FLX_DIS_DTD, (i % 5)::BIGINT AS FLX_EMT_NUM,
  (i % 3)::BIGINT AS FLX_EMT_ORD, 1::BIGINT AS FLX_EMT_TYP, DATE '2022-01-05' + INTERVAL (i % 24) MONTH AS FLX_TRT_DTD,
  '01C' || (i % 97)::VARCHAR AS ORG_CLE_NUM, (i % 7)::BIGINT AS PRS_ORD_NUM, 1::BIGINT AS REM_TYP_AFF,
  lpad((hash(i // 20) % 1000000)::VARCHAR, 17, 'A') AS BEN_NIR_PSA, 1::BIGINT AS BEN_RNG_GEM,
  (1930 + i % 90)::INT AS BEN_NAI_ANN, (1 + i % 2)::BIGINT AS BEN_SEX_COD, '00' AS BEN_CDI_NIR,
  DATE '2021-12-01' + INTERVAL (i % 24) MONTH AS EXE_SOI_DTD, DATE '2021-12-02' + INTERVAL (i % 24) MONTH AS EXE_SOI_DTF,
  (1111 + i % 50)::BIGINT AS PRS_NAT_REF, (10 + i % 90)::DOUBLE AS PRS_PAI_MNT, (25 + i % 40)::DOUBLE AS BSE_REM_MNT,
  (1 + i % 3)::DOUBLE AS PRS_ACT_QTE
FROM range(?) t(i)"""
SCHEMA = {"name": "ER_PRS_F", "primaryKey": KEYS, "fields": [
    *[{"name": k, "type": "date" if "DTD" in k else ("string" if k == "ORG_CLE_NUM" else "integer"),
       "constraints": {"required": True}} for k in KEYS],
    {"name": "BEN_NIR_PSA", "type": "string", "constraints": {"required": True, "minLength": 17, "maxLength": 17}},
    {"name": "BEN_RNG_GEM", "type": "integer", "constraints": {"minimum": 0, "maximum": 99}},
    {"name": "BEN_NAI_ANN", "type": "year", "constraints": {"required": True}},
    {"name": "BEN_SEX_COD", "type": "integer", "nomenclature": "IR_SEX_V:SEX_COD", "constraints": {"required": True}},
    {"name": "BEN_CDI_NIR", "type": "string", "nomenclature": "IR_NIR_V:BEN_NIR_COD"},
    {"name": "EXE_SOI_DTD", "type": "date", "constraints": {"required": True}},
    {"name": "EXE_SOI_DTF", "type": "date"},
    {"name": "PRS_NAT_REF", "type": "integer", "nomenclature": "IR_NAT_V"},
    {"name": "PRS_PAI_MNT", "type": "number"}, {"name": "BSE_REM_MNT", "type": "number"},
    {"name": "PRS_ACT_QTE", "type": "number"}]}


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="500,000 rows")
    args = ap.parse_args()
    rows = 500_000 if args.quick else args.rows
    with Engine() as e:
        e.con.execute(CLAIMS, [rows])
        e.con.execute(f"CREATE TABLE ER_PHA_F AS SELECT {', '.join(KEYS)}, _source_row, _source_file, "
                      "3400935482471::BIGINT AS PHA_PRS_C13, 1::BIGINT AS PHA_ACT_QSN FROM ER_PRS_F WHERE _source_row % 3 = 0")
        types = column_types(e, "ER_PRS_F")
        schema = parse_schema(SCHEMA, "bench")
        src = TableSource("ER_PRS_F", 1, "ER_PRS_F", schema, types)
        pha = TableSource("ER_PHA_F", 1, "ER_PHA_F", None, column_types(e, "ER_PHA_F"))
        checks = plan_checks("ER_PRS_F", schema, types, as_of=dt.date(2026, 1, 1))
        single = [c for c in checks if c.kind not in ("foreign_key", "after_death", "before_birth", "flow_volume", "drift",
                                                      "column_drift", "order_drift")]
        cross = [c for c in plan_checks("ER_PHA_F", None, pha.column_types, as_of=dt.date(2026, 1, 1))
                 if c.kind == "foreign_key"]
        cols = [c for c in types if not c.startswith("_")]
        scan = "SELECT count(*), " + ", ".join(f'sum(hash("{c}"))' for c in cols) + " FROM ER_PRS_F"
        join = (f"SELECT count(*), count(p.DCT_ORD_NUM) FROM ER_PHA_F c LEFT JOIN (SELECT DISTINCT {', '.join(KEYS)} "
                f"FROM ER_PRS_F) p ON " + " AND ".join(f"c.{k} = p.{k}" for k in KEYS))
        aggs = ("SELECT count(*), " + ", ".join(f"avg({c}), approx_quantile({c}, 0.5), avg(length(trim({c}::VARCHAR)))"
                                                for c in ("PRS_PAI_MNT", "BSE_REM_MNT", "PRS_ACT_QTE")) + " FROM ER_PRS_F")
        runner = Runner(e)
        history = {"numeric": {"PRS_PAI_MNT": {"mean": 50.0, "median": 50.0, "length": 4.0}}}
        months = ("SELECT date_trunc('month', FLX_DIS_DTD) AS m, count(*) FROM ER_PRS_F "
                  "WHERE FLX_DIS_DTD IS NOT NULL GROUP BY m")
        over_time = [c for c in checks if c.kind in ("drift", "flow_volume")]
        learnt = [c for c in checks if c.kind in ("column_drift", "order_drift")]
        previous: dict[str, object] = {}
        runner.over_time(src, learnt, {}, previous, {})  # the previous version's profile

        def single_stage() -> None:
            runner.single_table(src, runner.applicable(src, single, {}, {}), {})

        def cross_stage() -> None:
            runner.cross_table(pha, cross, {"ER_PRS_F": src}, {})

        def time_stage() -> None:
            runner.over_time(src, over_time, history, {}, {})

        def learnt_stage() -> None:
            runner.over_time(src, learnt, previous, {"rows": rows}, {})

        def whole_run() -> None:
            runner.run(src, single + over_time + learnt, history=previous)

        pairs = {
            "single-table checks vs one full scan": (lambda: e.con.execute(scan).fetchall(), single_stage),
            "cross-table (9-key) vs bare join": (lambda: e.con.execute(join).fetchall(), cross_stage),
            "drift + flow volume vs bare aggregates": (lambda: (e.con.execute(aggs).fetchall(),
                                                                e.con.execute(months).fetchall()), time_stage),
            "column drift + orders vs one full scan": (lambda: e.con.execute(scan).fetchall(), learnt_stage),
            "whole run (claims) vs one full scan": (lambda: e.con.execute(scan).fetchall(), whole_run),
        }
        print(f"rows: {rows:,}; single-table checks: {len(single)} (uniqueness on the 9 DCIR keys included); "
              f"column drift and order checks: {len(learnt)}")
        for name, (base, subject) in pairs.items():
            b, s = [], []
            for _ in range(args.repeat):
                b.append(timed(base))
                s.append(timed(subject))
            mb, ms = statistics.median(b), statistics.median(s)
            print(f"{name:<40} baseline {mb:7.3f} s   quality {ms:7.3f} s   ratio {ms / mb:5.2f}   "
                  f"({rows / ms:,.0f} rows/s)")


if __name__ == "__main__":
    main()
