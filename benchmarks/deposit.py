"""Deposit throughput against its floor and against ``frictionless validate``.

    .venv/bin/python benchmarks/deposit.py --rows 5000000          # the issue's target size
    .venv/bin/python benchmarks/deposit.py --quick                  # 300k rows, a couple of minutes

Floor: DuckDB ``read_csv`` of the same file into Arrow batches written by PyArrow's encrypted Parquet
writer. Subject: ``deposit run`` (validation, quarantine, hub pseudonyms, encryption, versioning) on a
fresh hub each time. Runs alternate, 3 times each; medians, rows/s and the ratio are printed (target
>= 0.4). ``frictionless validate`` (dev extra, when installed) runs on a 200k-row sample (target >= 25x).
Peak memory is the maximum RSS of the subject's process (target < 2 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCHEMA = Path("/work/shared/data/snds/synthetic-snds/schemas/DCIR/ER_PRS_F.json")
SAMPLE = SCHEMA.with_suffix(".csv")
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def make_file(path: Path, rows: int, schema: dict) -> None:
    """An ER_PRS_F file with all its columns: the synthetic-snds sample rows (valid for the schema)
    repeated, with a unique claim number so that the 9-column primary key stays unique."""
    import csv

    with SAMPLE.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        templates = list(reader)
    key, psa = header.index("DCT_ORD_NUM"), header.index("BEN_NIR_PSA")
    fields = {f["name"]: f for f in schema["fields"]}
    for row in templates:  # the samples are semantically random: make them valid, as a producer's rows are
        for j, name in enumerate(header):
            c = fields[name].get("constraints") or {}
            if row[j] and c.get("minLength") and len(row[j]) < c["minLength"]:
                row[j] = row[j].ljust(int(c["minLength"]), "0")
            if row[j] and "maximum" in c and fields[name]["type"] in ("integer", "number"):
                if float(row[j]) > float(c["maximum"]):
                    row[j] = str(c.get("minimum", 0))
    with path.open("w", newline="") as out:
        out.write(";".join(header) + "\n")
        for i in range(rows):
            row = list(templates[i % len(templates)])
            row[key] = str(i)
            row[psa] = "".join(B32[(i * 7 + k * 13) % 32] for k in range(17))  # a level-1 pseudonym shape
            out.write(";".join(row) + "\n")


def floor(path: Path, cols: list[str]) -> float:
    code = f"""
import duckdb, os, pyarrow.parquet as pq, pyarrow.parquet.encryption as pe, time, tempfile
t=time.perf_counter()
con=duckdb.connect(config={{'autoinstall_known_extensions':False,'autoload_known_extensions':False}})
con.execute('SET enable_progress_bar = false')
cols={{c:'VARCHAR' for c in {cols!r}}}
r=con.sql("select * from read_csv('{path}', header=true, delim=';', columns="+repr(cols)+", auto_detect=false)").to_arrow_reader(122880)
out=tempfile.mktemp(suffix='.parquet')
w=None
for b in r:
    if w is None: w=pq.ParquetWriter(out,b.schema,encryption_properties=pe.create_encryption_properties(footer_key=os.urandom(32)),compression='zstd')
    w.write_batch(b)
w.close(); os.unlink(out)
print(time.perf_counter()-t)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def subject(path: Path, work: Path) -> tuple[float, int]:
    home = work / f"hub{time.time_ns()}"
    guichet = [sys.executable, "-m", "guichet"]
    subprocess.run([*guichet, "init", "--home", str(home), "--mode", "development"], check=True, capture_output=True)
    t = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([*guichet, "deposit", "run", str(path), "--dataset", "ER_PRS_F", "--schema", str(SCHEMA),
                           "--identifiers", "BEN_NIR_PSA:psa", "--home", str(home), "--json"],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(proc.stderr)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(Path(str(home) + "-custodian"), ignore_errors=True)
    json.loads(proc.stdout)
    return seconds, max(rss, before)


def frictionless(path: Path, rows: int, work: Path) -> float | None:
    exe = Path(sys.executable).with_name("frictionless")
    if not exe.exists():
        return None
    sample = work / "sample.csv"
    with path.open() as src, sample.open("w") as dst:
        for i, line in enumerate(src):
            if i > rows:
                break
            dst.write(line)
    schema = work / "schema.json"
    schema.write_text(SCHEMA.read_text())
    t = time.perf_counter()
    subprocess.run([str(exe), "validate", str(sample), "--schema", str(schema)], capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rows = 300_000 if args.quick else args.rows
    schema = json.loads(SCHEMA.read_text())
    work = Path(tempfile.mkdtemp(prefix="guichet-bench-"))
    try:
        data = work / "ER_PRS_F.csv"
        make_file(data, rows, schema)
        cols = [f["name"] for f in schema["fields"]]
        print(f"{rows:,} rows x {len(cols)} columns, {data.stat().st_size / 1e6:.0f} MB")
        base, subj, rss = [], [], 0
        for _ in range(args.repeat):
            base.append(floor(data, cols))
            s, r = subject(data, work)
            subj.append(s)
            rss = max(rss, r)
        b, s = statistics.median(base), statistics.median(subj)
        print(f"floor   (DuckDB read + PyArrow encrypted write): {b:7.2f} s  {rows / b:12,.0f} rows/s")
        print(f"deposit (validate + quarantine + hub ids + encrypt + version): {s:7.2f} s  {rows / s:12,.0f} rows/s")
        print(f"ratio deposit/floor: {b / s:.2f} (target >= 0.4); peak RSS of deposit: {rss / 1024:.0f} MB")
        n = min(200_000, rows)
        ft = frictionless(data, n, work)
        if ft is None:
            print("frictionless: not installed (pip install the dev extra) - skipped")
        else:
            print(f"frictionless validate on {n:,} rows: {ft:.1f} s {n / ft:,.0f} rows/s; "
                  f"ratio deposit/frictionless: {(rows / s) / (n / ft):.1f} (target >= 25)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.environ.pop("_", None)


if __name__ == "__main__":
    main()
