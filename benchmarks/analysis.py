"""Event table + a three-criteria cohort on an extract-shaped dataset: guichet.analysis (DuckDB) against a
vectorised pandas implementation (pyarrow dtypes, no ``apply``) and Polars' lazy API doing the same.

    python benchmarks/analysis.py [--rows 10000000] [--runs 3] [--seed 1]

The extract (``--rows`` rows in all, in memory as Arrow tables: IR_BEN_R, ER_PRS_F with DAYS_SINCE_INDEX,
ER_PHA_F, T_MCOaaC/B/D; dates coarsened to YYYY-MM as an extract's are) is generated with numpy. The task,
the same in the three: the event table (dispensings with their ATC class through a CIP13 → ATC map and
their claim's date and day; visits; stays; principal and associated diagnoses dated by their stay), then
the cohort: index = first A10 dispensing; adult at the index (year of the index minus the birth year ≥ 18);
at least two A10 dispensings 0–365 days after the index; no E10 diagnosis before the index. The results
(events per category, the cohort's persons) are asserted equal. Runs alternate (guichet, pandas, polars) ×
``--runs``; prints the medians, absolutes and ratios, and each run's CPU time (the process's user and system
time, all threads: on a shared machine it says what each engine spent, whatever the others' load did to its
wall time). Needs the ``analysis-bench`` extra (pandas, polars).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from guichet.analysis.cohorts import cohort
from guichet.analysis.events import events

DEFINITION = {"index": {"codes": ["A10"], "system": "ATC"},
              "criteria": {"all": [
                  {"age": {"min": 18}, "at": "index"},
                  {"codes": ["A10"], "system": "ATC", "window": {"from": 0, "to": 365}, "min_count": 2},
                  {"not": {"codes": ["E10"], "system": "ICD10", "window": {"to": -1}}}]}}
CATS = ("dispensing", "visit", "stay", "diagnosis")


def make(rows: int, seed: int) -> tuple[dict[str, pa.Table], dict[str, str]]:
    rng = np.random.default_rng(seed)
    n_prs = int(rows * 0.45)
    n_pha = int(rows * 0.40)
    n_stay = int(rows * 0.03)
    n_b, n_d = n_stay, int(rows * 0.04)
    persons = max(rows // 40, 100)
    pid = np.array([f"p{i:08d}" for i in range(persons)], dtype=object)
    ben = pa.table({"PERSON_ID": pid, "BEN_SEX_COD": rng.choice(["1", "2"], persons),
                    "BEN_NAI_ANN": rng.integers(1930, 2020, persons).astype(str),
                    "BEN_RES_DPT": rng.choice(["075", "069", "013", "033"], persons)})
    # claims: sorted by person; each person's days since index from 0
    cp = np.sort(rng.integers(0, persons, n_prs))
    day = rng.integers(0, 730, n_prs)
    month = (2022 * 12 + day // 30)
    dtd = np.char.add(np.char.add((month // 12).astype(str), "-"), np.char.zfill((month % 12 + 1).astype(str), 2))
    nat = rng.choice(["1111", "1112", "1211", "3313", "3111"], n_prs, p=[0.3, 0.1, 0.05, 0.45, 0.1])
    claim = np.array([f"c{i:09d}" for i in range(n_prs)], dtype=object)
    prs = pa.table({"PERSON_ID": pid[cp], "CLAIM_ID": claim, "EXE_SOI_DTD": dtd.astype(object), "PRS_NAT_REF": nat,
                    "DAYS_SINCE_INDEX": day.astype(np.int32)})
    cips = [f"34009{i:08d}" for i in range(400)]
    atcs = [("A10BA02" if i < 40 else "A10BB09" if i < 60 else f"C{i % 10:02d}AA0{i % 7}") for i in range(400)]
    drugs = dict(zip(cips[:380], atcs[:380], strict=True))  # 20 packs not in the map: group "unknown"
    pc_idx = rng.integers(0, n_prs, n_pha)
    pha = pa.table({"PERSON_ID": pid[cp[pc_idx]], "CLAIM_ID": claim[pc_idx],
                    "PHA_PRS_C13": np.array(cips, dtype=object)[rng.integers(0, 400, n_pha)],
                    "PHA_ACT_QSN": rng.integers(1, 4, n_pha).astype(np.int32)})
    sp = rng.integers(0, persons, n_stay)
    sday = rng.integers(-30, 730, n_stay)
    smonth = 2022 * 12 + np.maximum(sday, 0) // 30
    sdt = np.char.add(np.char.add((smonth // 12).astype(str), "-"), np.char.zfill((smonth % 12 + 1).astype(str), 2))
    stay_id = np.array([f"s{i:08d}" for i in range(n_stay)], dtype=object)
    mco_c = pa.table({"PERSON_ID": pid[sp], "STAY_ID": stay_id, "ENT_DAT": sdt.astype(object),
                      "SOR_DAT": sdt.astype(object), "DAYS_SINCE_INDEX": sday.astype(np.int32)})
    codes = np.array(["E10", "E109", "E11", "E119", "I10", "I21", "J44", "N18"], dtype=object)
    mco_b = pa.table({"STAY_ID": stay_id[rng.permutation(n_stay)[:n_b]], "DGN_PAL": codes[rng.integers(0, 8, n_b)]})
    mco_d = pa.table({"STAY_ID": stay_id[rng.integers(0, n_stay, n_d)], "ASS_DGN": codes[rng.integers(0, 8, n_d)]})
    return ({"IR_BEN_R": ben, "ER_PRS_F": prs, "ER_PHA_F": pha, "T_MCOaaC": mco_c, "T_MCOaaB": mco_b,
             "T_MCOaaD": mco_d}, drugs)


# --- guichet ------------------------------------------------------------------------------------------------
def run_guichet(tables: dict[str, pa.Table], drugs: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    con = duckdb.connect()
    events(tables, con=con, drugs=drugs, categories=CATS)
    counts = dict(con.execute("SELECT category, count(*) FROM events GROUP BY 1").fetchall())
    persons = cohort(con, DEFINITION).persons(con).column("person").to_pylist()
    con.close()
    return {k: int(v) for k, v in counts.items()}, sorted(persons)


# --- pandas (pyarrow dtypes, vectorised) ---------------------------------------------------------------------
def run_pandas(tables: dict[str, pa.Table], drugs: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    import pandas as pd

    t = {k: v.to_pandas(types_mapper=pd.ArrowDtype) for k, v in tables.items()}
    prs, pha, ben = t["ER_PRS_F"], t["ER_PHA_F"], t["IR_BEN_R"]

    def month_start(s: Any) -> Any:
        return pd.to_datetime(s.astype("string") + "-01", format="%Y-%m-%d")

    # dates parsed before grouping: a groupby min of Arrow strings runs in Python in pandas; of datetimes, not
    p2 = pd.DataFrame({"CLAIM_ID": prs["CLAIM_ID"], "start": month_start(prs["EXE_SOI_DTD"]),
                       "day": prs["DAYS_SINCE_INDEX"].astype("int64")})
    claims = p2.groupby("CLAIM_ID", observed=True).agg(start=("start", "min"), day=("day", "min"))
    drug_df = pd.DataFrame({"PHA_PRS_C13": pd.array(list(drugs), dtype=pd.ArrowDtype(pa.string())),
                            "group": pd.array(list(drugs.values()), dtype=pd.ArrowDtype(pa.string()))})
    d = pha.merge(claims, left_on="CLAIM_ID", right_index=True, how="left").merge(drug_df, on="PHA_PRS_C13", how="left")
    disp = pd.DataFrame({"person": d["PERSON_ID"], "category": "dispensing", "group": d["group"].fillna("unknown"),
                         "value": d["PHA_PRS_C13"], "start": d["start"], "day": d["day"]})
    nat = prs["PRS_NAT_REF"].astype("string")
    v = prs[nat.str.startswith("11") | nat.str.startswith("12")]
    visits = pd.DataFrame({"person": v["PERSON_ID"], "category": "visit", "group": "unknown",
                           "value": v["PRS_NAT_REF"], "start": month_start(v["EXE_SOI_DTD"]), "day": v["DAYS_SINCE_INDEX"]})
    mc = t["T_MCOaaC"]
    c2 = pd.DataFrame({"STAY_ID": mc["STAY_ID"], "ent": month_start(mc["ENT_DAT"]),
                       "day": mc["DAYS_SINCE_INDEX"].astype("int64")})
    c = c2.groupby("STAY_ID", observed=True).agg(ent=("ent", "min"), day=("day", "min")).reset_index()
    who = mc[["STAY_ID", "PERSON_ID"]].drop_duplicates("STAY_ID").rename(columns={"PERSON_ID": "person"})
    c = c.merge(who, on="STAY_ID")
    stays = pd.DataFrame({"person": c["person"], "category": "stay", "group": "MCO", "value": c["STAY_ID"],
                          "start": c["ent"], "day": c["day"]})
    b = t["T_MCOaaB"].merge(c, on="STAY_ID")
    dd = t["T_MCOaaD"].merge(c, on="STAY_ID")
    diag = pd.concat([
        pd.DataFrame({"person": b["person"], "category": "diagnosis", "group": "principal", "value": b["DGN_PAL"],
                      "start": b["ent"], "day": b["day"]}),
        pd.DataFrame({"person": dd["person"], "category": "diagnosis", "group": "associated", "value": dd["ASS_DGN"],
                      "start": dd["ent"], "day": dd["day"]})])
    ev = pd.concat([disp, visits, stays, diag], ignore_index=True)
    counts = ev["category"].value_counts().to_dict()
    # cohort
    a10 = ev[(ev["category"] == "dispensing") & ev["group"].astype("string").str.startswith("A10") & ev["day"].notna()]
    index = a10.groupby("person", observed=True).agg(t0=("day", "min"), d0=("start", "min")).reset_index()
    born = ben[["PERSON_ID", "BEN_NAI_ANN"]].rename(columns={"PERSON_ID": "person"})
    born["born"] = pd.to_numeric(born["BEN_NAI_ANN"].astype("string"), errors="coerce")
    idx = index.merge(born[["person", "born"]], on="person")
    adults = idx[(idx["d0"].dt.year - idx["born"]) >= 18]
    w = a10.merge(index[["person", "t0"]], on="person")
    rel = w["day"] - w["t0"]
    two = w[(rel >= 0) & (rel <= 365)].groupby("person", observed=True).size()
    two = two[two >= 2].index
    e10 = ev[(ev["category"] == "diagnosis") & ev["value"].astype("string").str.startswith("E10")]
    e10 = e10.merge(index[["person", "t0"]], on="person")
    before = e10.loc[(e10["day"] - e10["t0"]) <= -1, "person"].unique()
    keep = adults[adults["person"].isin(two) & ~adults["person"].isin(before)]
    return {str(k): int(v) for k, v in counts.items()}, sorted(keep["person"].astype(str).tolist())


# --- polars (lazy) ------------------------------------------------------------------------------------------
def run_polars(tables: dict[str, pa.Table], drugs: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    import polars as pl

    t = {k: pl.from_arrow(v).lazy() for k, v in tables.items()}  # type: ignore[union-attr]

    def month_start(col: str) -> pl.Expr:
        return (pl.col(col) + "-01").str.to_date("%Y-%m-%d")

    claims = t["ER_PRS_F"].group_by("CLAIM_ID").agg(pl.col("EXE_SOI_DTD").min().alias("s"),
                                                      pl.col("DAYS_SINCE_INDEX").min().alias("day"))
    drug_df = pl.DataFrame({"PHA_PRS_C13": list(drugs), "group": list(drugs.values())}).lazy()
    disp = (t["ER_PHA_F"].join(claims, on="CLAIM_ID", how="left").join(drug_df, on="PHA_PRS_C13", how="left")
            .select(pl.col("PERSON_ID").alias("person"), pl.lit("dispensing").alias("category"),
                    pl.col("group").fill_null("unknown"), pl.col("PHA_PRS_C13").alias("value"),
                    month_start("s").alias("start"), pl.col("day")))
    visits = (t["ER_PRS_F"].filter(pl.col("PRS_NAT_REF").str.starts_with("11") | pl.col("PRS_NAT_REF").str.starts_with("12"))
              .select(pl.col("PERSON_ID").alias("person"), pl.lit("visit").alias("category"), pl.lit("unknown").alias("group"),
                      pl.col("PRS_NAT_REF").alias("value"), month_start("EXE_SOI_DTD").alias("start"),
                      pl.col("DAYS_SINCE_INDEX").alias("day")))
    c = t["T_MCOaaC"].group_by("STAY_ID").agg(pl.col("PERSON_ID").first().alias("person"),
                                                pl.col("ENT_DAT").min().alias("ent"),
                                                pl.col("DAYS_SINCE_INDEX").min().alias("day"))
    stays = c.select("person", pl.lit("stay").alias("category"), pl.lit("MCO").alias("group"),
                     pl.col("STAY_ID").alias("value"), month_start("ent").alias("start"), "day")
    diag_b = t["T_MCOaaB"].join(c, on="STAY_ID").select("person", pl.lit("diagnosis").alias("category"),
                                                         pl.lit("principal").alias("group"), pl.col("DGN_PAL").alias("value"),
                                                         month_start("ent").alias("start"), "day")
    diag_d = t["T_MCOaaD"].join(c, on="STAY_ID").select("person", pl.lit("diagnosis").alias("category"),
                                                         pl.lit("associated").alias("group"), pl.col("ASS_DGN").alias("value"),
                                                         month_start("ent").alias("start"), "day")
    ev = pl.concat([disp, visits, stays, diag_b, diag_d], how="vertical_relaxed").collect().lazy()
    counts = dict(ev.group_by("category").len().collect().iter_rows())
    a10 = ev.filter((pl.col("category") == "dispensing") & pl.col("group").str.starts_with("A10") & pl.col("day").is_not_null())
    index = a10.group_by("person").agg(pl.col("day").min().alias("t0"), pl.col("start").min().alias("d0"))
    born = t["IR_BEN_R"].select(pl.col("PERSON_ID").alias("person"), pl.col("BEN_NAI_ANN").cast(pl.Int32, strict=False).alias("born"))
    adults = index.join(born, on="person").filter((pl.col("d0").dt.year() - pl.col("born")) >= 18)
    rel = pl.col("day") - pl.col("t0")
    two = (a10.join(index.select("person", "t0"), on="person").filter((rel >= 0) & (rel <= 365))
           .group_by("person").len().filter(pl.col("len") >= 2).select("person"))
    before = (ev.filter((pl.col("category") == "diagnosis") & pl.col("value").str.starts_with("E10"))
              .join(index.select("person", "t0"), on="person").filter(rel <= -1).select("person").unique())
    keep = adults.join(two, on="person", how="semi").join(before, on="person", how="anti").select("person").collect()
    return {str(k): int(v) for k, v in counts.items()}, sorted(keep["person"].to_list())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    t0 = time.perf_counter()
    tables, drugs = make(a.rows, a.seed)
    total = sum(t.num_rows for t in tables.values())
    print(f"extract: {total:,} rows ({', '.join(f'{k} {v.num_rows:,}' for k, v in tables.items())}), "
          f"made in {time.perf_counter() - t0:.1f} s")
    runners = {"guichet (DuckDB)": run_guichet, "pandas (pyarrow dtypes)": run_pandas, "polars (lazy)": run_polars}
    times: dict[str, list[float]] = {k: [] for k in runners}
    cpu: dict[str, list[float]] = {k: [] for k in runners}
    results: dict[str, Any] = {}

    def cpu_now() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    for _ in range(a.runs):
        for name, fn in runners.items():
            s, c = time.perf_counter(), cpu_now()
            results[name] = fn(tables, drugs)
            times[name].append(time.perf_counter() - s)
            cpu[name].append(cpu_now() - c)
    ref = results["guichet (DuckDB)"]
    for name, r in results.items():
        assert r == ref, f"{name} differs: {r[0]} / {len(r[1])} persons vs {ref[0]} / {len(ref[1])}"
    print(f"same results: events {ref[0]}, cohort {len(ref[1]):,} persons")
    g = statistics.median(times["guichet (DuckDB)"])
    gc = statistics.median(cpu["guichet (DuckDB)"])
    for name, ts in times.items():
        m, mc = statistics.median(ts), statistics.median(cpu[name])
        print(f"{name:26s} median {m:7.2f} s  runs {', '.join(f'{x:.2f}' for x in ts)}  ratio to guichet {m / g:5.2f}×"
              f"  |  CPU median {mc:7.2f} s  runs {', '.join(f'{x:.2f}' for x in cpu[name])}  ratio {mc / gc:5.2f}×")


if __name__ == "__main__":
    main()
