"""Throughput of ``guichet synth``: rows/s, wall time and peak memory, median of ≥3 runs.

    .venv/bin/python benchmarks/synth.py [--persons 200000] [--years 1] [--runs 3] [--quick]

Each run is a fresh subprocess (so peak RSS is that run's own), writing core columns for one year of care
into a temporary folder that is removed afterwards. There is no baseline to compare with: the figures are
absolute; the target is 1,000,000 people × 1 year in ≤ 10 minutes and ≤ 2 GB (docs/synthetic.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import datetime as dt, json, resource, sys, time
from pathlib import Path
from guichet.synth.params import SynthRequest
from guichet.synth.writer import write_delivery
persons, years, out = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
t = time.perf_counter()
r = write_delivery(SynthRequest(persons=persons, start=dt.date(2023, 1, 1),
                                end=dt.date(2023 + years - 1, 12, 31), seed=1), out)
elapsed = time.perf_counter() - t
size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
print(json.dumps({"seconds": elapsed, "rows": sum(r.rows.values()), "bytes": size,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def one_run(persons: int, years: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="synth-bench-"))
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(persons), str(years), str(tmp / "d")],
                              capture_output=True, text=True, check=True)
        return json.loads(proc.stdout)  # type: ignore[no-any-return]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=200_000)
    ap.add_argument("--years", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="20,000 people, 3 runs")
    a = ap.parse_args()
    persons = 20_000 if a.quick else a.persons
    results = []
    for i in range(max(a.runs, 3)):
        t = time.perf_counter()
        r = one_run(persons, a.years)
        results.append(r)
        print(f"run {i + 1}: {r['rows']:,} rows in {r['seconds']:.1f} s = {r['rows'] / r['seconds']:,.0f} rows/s, "
              f"peak RSS {r['peak_rss_mb']:,.0f} MB, {r['bytes'] / 1e9:.2f} GB on disk "
              f"(wall {time.perf_counter() - t:.1f} s)", flush=True)
    secs = statistics.median(r["seconds"] for r in results)
    rows = statistics.median(r["rows"] for r in results)
    rss = statistics.median(r["peak_rss_mb"] for r in results)
    disk = statistics.median(r["bytes"] for r in results)
    print(f"median: {persons:,} people × {a.years} year(s): {rows:,.0f} rows in {secs:.1f} s "
          f"= {rows / secs:,.0f} rows/s; peak RSS {rss:,.0f} MB; {disk / 1e9:.2f} GB on disk")
    scale = 1_000_000 / persons
    print(f"linear extrapolation to 1,000,000 people × {a.years} year(s): ≈ {secs * scale / 60:.1f} min, "
          f"≈ {disk * scale / 1e9:.1f} GB (memory does not grow with N: fixed chunks of 5,000 people)")


if __name__ == "__main__":
    main()
