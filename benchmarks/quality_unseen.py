"""Detection and false-positive rates of the quality checks on re-deliveries with unseen defect types.

For each size and seed, ``guichet synth`` (no planted defect) makes:

- ``A``: the earlier version (care in 2022): its run's profile is the history, as ``history_of`` gives it;
- clean re-deliveries compared with ``A``, for false positives (of the claims, and of the referential,
  hospital and death-certificate tables, for which no defect is injected): ``B`` another seed, same period and size;
  ``big`` another seed, 4x the people; ``long`` another seed, care in 2022-2023; ``next``: the second of two
  successive deliveries (``--deliveries 2``) compared with the first; and ``A`` alone (a first delivery);
- for each defect of ``tests/unseen_defects.py``: ``B`` rewritten by the defect, compared with ``A`` (a
  re-delivery of the same period), and the second of the two successive deliveries rewritten by the defect,
  compared with the first (the next period: no flow month in common).

A defect is *caught by quality* when a warning or blocking check fails on the defective re-delivery and not
on the same re-delivery clean; *caught at deposit* when cells of it do not parse as their Table Schema type (the deposit
quarantines those rows). Tables are typed as the deposit types them (``guichet.quality.source.csv_table``:
cells that do not parse become NULL) and checked with the runner; ER_PHA_F is checked against the
ER_PRS_F of the same delivery.

    .venv/bin/python benchmarks/quality_unseen.py                       # 300 and 2,000 people, seeds 3 4 5
    .venv/bin/python benchmarks/quality_unseen.py --persons 10000 --seeds 7 --json out.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from guichet.engine import Engine  # noqa: E402
from guichet.quality.model import RunOutcome  # noqa: E402
from guichet.quality.plan import plan_checks  # noqa: E402
from guichet.quality.runner import Runner, TableSource  # noqa: E402
from guichet.quality.source import csv_table  # noqa: E402
from guichet.schema import load_schema  # noqa: E402
from tests.unseen_defects import DEFECTS, Defect, inject  # noqa: E402

TABLES = ("ER_PRS_F", "ER_PHA_F")
CLEAN_ONLY = ("IR_BEN_R", "IR_IMB_R", "T_MCO22B", "T_MCO22C", "T_MCO22D", "KI_CCI_R", "KI_ECD_R")  # false positives
REFS = {"ER_PHA_F": "ER_PRS_F", "T_MCO22C": "T_MCO22B", "T_MCO22D": "T_MCO22B"}


def _schema(folder: Path, table: str) -> Path:
    """The clear schema of a file (the yearly hospital files T_MCO22B... share T_MCOaaB's)."""
    path = folder / "schemas" / "clear" / f"{table}.json"
    return path if path.is_file() else path.with_name(re.sub(r"^(T_MCO)\d\d", r"\1aa", table) + ".json")


def synth(out: Path, persons: int, seed: int, start: str = "2022-01-01", end: str = "2022-12-31",
          deliveries: int = 1) -> Path:
    cmd = [sys.executable, "-m", "guichet", "synth", "--persons", str(persons), "--start", start, "--end", end,
           "--seed", str(seed), "--out", str(out), "--defect-rate", "0", "--deliveries", str(deliveries)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


@dataclass
class Checked:
    outcome: RunOutcome
    unparsed: dict[str, int]  # column -> cells that do not parse as the schema's type (quarantined at deposit)

    def failing(self) -> set[str]:
        return {r.id for r in self.outcome.results if r.status == "fail" and r.severity != "info"}

    def blocking(self) -> set[str]:
        return {r.id for r in self.outcome.results if r.blocking_failed}


def _unparsed(engine: Engine, view: str, columns: list[str]) -> dict[str, int]:
    raw = f"{view}_raw"
    parts = ", ".join(f'count(nullif(trim("{c}"), \'\')) AS "r_{c}"' for c in columns)
    typed = ", ".join(f'count("{c}") AS "t_{c}"' for c in columns)
    r = engine.con.execute(f"SELECT {parts} FROM {raw}").fetchone() or ()
    t = engine.con.execute(f"SELECT {typed} FROM {view}").fetchone() or ()
    return {c: int(a) - int(b) for c, a, b in zip(columns, r, t, strict=True) if int(a) > int(b)}


def check(engine: Engine, folder: Path, table: str, history: dict[str, Any], *, csv: Path | None = None,
          schema_dir: Path | None = None) -> Checked:
    """Type ``table`` of ``folder`` (or ``csv``) and run its checks against ``history``."""
    schema = load_schema(_schema(schema_dir or folder, table))
    view = f"t_{abs(hash((str(folder), table, str(csv)))) % 10**9}"
    src = csv_table(engine, csv or folder / f"{table}.csv", schema, name=view, dataset=table)
    refs: dict[str, TableSource] = {}
    if table in REFS:
        parent = REFS[table]
        pschema = load_schema(_schema(schema_dir or folder, parent))
        refs[parent] = csv_table(engine, folder / f"{parent}.csv", pschema, name=f"{view}_p", dataset=parent)
    src = TableSource(table, 2 if history else 1, src.view, schema, src.column_types)
    as_of = min(dt.date.today(), dt.date(2025, 12, 31))
    checks = plan_checks(table, schema, src.column_types, as_of=as_of, datasets=set(refs))
    outcome = Runner(engine).run(src, checks, refs=refs, history=history)
    return Checked(outcome, _unparsed(engine, view, [c for c in src.data_columns]))


@dataclass
class Tally:
    caught_quality: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    caught_any: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    caught_next: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    false_pos: list[dict[str, Any]] = field(default_factory=list)
    clean_runs: int = 0


def _caught(engine: Engine, d: Defect, folder: Path, table: str, history: dict[str, Any], clean: Checked,
            out: Path, schema_dir: Path | None = None) -> tuple[set[str], set[str]]:
    """(checks failing on the defective re-delivery and not on the clean one, columns the deposit would
    quarantine cells of)."""
    inject(d, folder / f"{table}.csv", out)
    dirty = check(engine, folder, table, history, csv=out, schema_dir=schema_dir)
    return dirty.failing() - clean.failing(), set(dirty.unparsed) - set(clean.unparsed)


def run_case(root: Path, persons: int, seed: int, defects: list[Defect], tally: Tally, verbose: bool) -> None:
    base = root / f"p{persons}-s{seed}"
    base.mkdir()
    a = synth(base / "A", persons, seed)
    b = synth(base / "B", persons, seed + 1000)
    big = synth(base / "big", persons * 4, seed + 2000)
    long = synth(base / "long", persons, seed + 3000, end="2023-12-31")
    nxt = synth(base / "next", persons, seed + 4000, deliveries=2)
    with Engine() as engine:
        for table in TABLES + CLEAN_ONLY:
            first = check(engine, a, table, {})
            history = dict(first.outcome.profile)
            history["versions"] = [1]
            clean: dict[str, Checked] = {"A (first delivery)": first}
            clean["B (other seed)"] = check(engine, b, table, history)
            clean["big (4x people)"] = check(engine, big, table, history)
            clean["long (2 years)"] = check(engine, long, table, history)
            one = check(engine, nxt / "delivery-01", table, {}, schema_dir=nxt / "delivery-01")
            h1 = dict(one.outcome.profile) | {"versions": [1]}
            clean["next (delivery 2 after 1)"] = check(engine, nxt / "delivery-02", table, h1,
                                                       schema_dir=nxt / "delivery-01")
            for name, c in clean.items():
                tally.clean_runs += 1
                fails = c.failing()
                if fails or c.unparsed:
                    notes = {r.id: r.note for r in c.outcome.results if r.id in fails}
                    tally.false_pos.append({"persons": persons, "seed": seed, "table": table, "scenario": name,
                                            "failing": sorted(fails), "blocking": sorted(c.blocking()),
                                            "unparsed": c.unparsed, "notes": notes})
                    if verbose:
                        for i, note in notes.items():
                            print(f"  clean {name}: {i}: {note}")
            for d in [d for d in defects if d.table == table]:
                new, unparsed = _caught(engine, d, b, table, history, clean["B (other seed)"], base / f"{d.name}.csv")
                tally.caught_quality[d.name][0] += bool(new)
                tally.caught_quality[d.name][1] += 1
                tally.caught_any[d.name][0] += bool(new or unparsed)
                tally.caught_any[d.name][1] += 1
                tally.by[d.name] |= {i.split(".", 1)[1] for i in new}
                if unparsed:
                    tally.by[d.name].add("deposit:" + "+".join(sorted(unparsed)))
                later, later_unparsed = _caught(engine, d, nxt / "delivery-02", table, h1,
                                                clean["next (delivery 2 after 1)"], base / f"{d.name}-next.csv",
                                                schema_dir=nxt / "delivery-01")
                tally.caught_next[d.name][0] += bool(later or later_unparsed)
                tally.caught_next[d.name][1] += 1
                if verbose:
                    print(f"  p{persons} s{seed} {d.name:<32} quality={sorted(new)} unparsed={sorted(unparsed)} "
                          f"next period={sorted(later)} unparsed={sorted(later_unparsed)}")


def report(tally: Tally, defects: list[Defect]) -> dict[str, Any]:
    rows = []
    for d in defects:
        q, n = tally.caught_quality[d.name]
        a, _ = tally.caught_any[d.name]
        later, _ = tally.caught_next[d.name]
        rows.append({"defect": d.name, "table": d.table, "caught_by_quality": q, "caught_incl_deposit": a,
                     "caught_next_period": later, "cases": n, "by": sorted(tally.by[d.name])})
    caught_q = sum(1 for r in rows if r["caught_by_quality"] == r["cases"])
    caught_a = sum(1 for r in rows if r["caught_incl_deposit"] == r["cases"])
    caught_n = sum(1 for r in rows if r["caught_next_period"] == r["cases"])
    blocking_fp = sum(1 for f in tally.false_pos if f["blocking"])
    return {"defects": rows, "caught_by_quality_every_case": caught_q, "caught_incl_deposit_every_case": caught_a,
            "caught_next_period_every_case": caught_n,
            "defect_types": len(rows), "clean_runs": tally.clean_runs,
            "clean_runs_with_a_failing_check": len(tally.false_pos), "clean_runs_with_a_blocking_failure": blocking_fp,
            "false_positives": tally.false_pos}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, nargs="+", default=[300, 2000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5])
    ap.add_argument("--defects", nargs="*", help="only these defects (default: all)")
    ap.add_argument("--json", type=Path, help="write the report here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    defects = [DEFECTS[n] for n in args.defects] if args.defects else list(DEFECTS.values())
    tally = Tally()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="quality-unseen-") as tmp:
        for persons in args.persons:
            for seed in args.seeds:
                run_case(Path(tmp), persons, seed, defects, tally, args.verbose)
    out = report(tally, defects)
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["persons"], out["seeds"] = args.persons, args.seeds
    for r in out["defects"]:
        print(f"{r['defect']:<32} {r['table']:<9} quality {r['caught_by_quality']}/{r['cases']}  "
              f"with deposit {r['caught_incl_deposit']}/{r['cases']}  next period {r['caught_next_period']}/"
              f"{r['cases']}  by {', '.join(r['by']) or '-'}")
    print(f"defect types caught in every case: quality {out['caught_by_quality_every_case']}/{len(defects)}, "
          f"with the deposit {out['caught_incl_deposit_every_case']}/{len(defects)}; next period (with the "
          f"deposit) {out['caught_next_period_every_case']}/{len(defects)}")
    print(f"clean runs: {out['clean_runs']}, with a failing warning/blocking check: "
          f"{out['clean_runs_with_a_failing_check']}, with a blocking failure: {out['clean_runs_with_a_blocking_failure']}")
    for f in out["false_positives"]:
        print(f"  false positive: p{f['persons']} s{f['seed']} {f['table']} {f['scenario']}: {f['failing']}"
              f"{' unparsed ' + str(f['unparsed']) if f['unparsed'] else ''}")
    print(f"{out['seconds']} s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
