"""Pseudonymise a Parquet column: baseline (HMAC every row in a list comprehension) vs Guichet's
vectorised path (deduplicate, HMAC the distinct values, take back). Both read and write the same Parquet.

    .venv/bin/python benchmarks/pseudonymise.py              # 10M rows, ~1M distinct people
    .venv/bin/python benchmarks/pseudonymise.py --rows 1000000 --repeat 3

Runs baseline and subject alternately, prints medians, absolute figures and the ratio. One core
(pyarrow's thread pool is set to 1).
"""

from __future__ import annotations

import argparse
import hmac
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from guichet.custodian import pseudonyms as ps


def make_input(path: Path, rows: int, distinct: int) -> None:
    rng = np.random.default_rng(1)
    people = np.array([ps.encode(rng.bytes(15)) for _ in range(distinct)], dtype=object)
    column = people[rng.integers(0, distinct, rows)]
    pq.write_table(pa.table({"level1": pa.array(column, pa.string())}), path)


def baseline(src: Path, dst: Path, key: bytes) -> None:
    column = [v.encode() for v in pq.read_table(src).column("level1").to_pylist()]
    out = [hmac.digest(key, v, "sha256") for v in column]
    pq.write_table(pa.table({"hub": pa.array(out, pa.binary())}), dst)


def subject(src: Path, dst: Path, key: bytes) -> None:
    column = pq.read_table(src).column("level1")
    pq.write_table(pa.table({"hub": ps.pseudonymise_column(key, ps.LABEL_HUB, column)}), dst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--distinct", type=int, default=None, help="default: rows / 10")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    distinct = args.distinct or max(1, args.rows // 10)
    key = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.parquet"
        make_input(src, args.rows, distinct)
        times: dict[str, list[float]] = {"baseline": [], "subject": []}
        for _ in range(args.repeat):
            for name, fn in (("baseline", baseline), ("subject", subject)):
                start = time.perf_counter()
                fn(src, Path(tmp) / f"{name}.parquet", key)
                times[name].append(time.perf_counter() - start)
    b, s = statistics.median(times["baseline"]), statistics.median(times["subject"])
    print(f"rows={args.rows} distinct={distinct} repeat={args.repeat}")
    print(f"baseline  median {b:.2f} s  ({args.rows / b / 1e6:.2f} M rows/s)  runs {[round(t, 2) for t in times['baseline']]}")
    print(f"subject   median {s:.2f} s  ({args.rows / s / 1e6:.2f} M rows/s)  runs {[round(t, 2) for t in times['subject']]}")
    print(f"ratio     {b / s:.1f}x")


if __name__ == "__main__":
    main()
