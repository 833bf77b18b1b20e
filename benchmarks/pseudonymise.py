"""Pseudonymise a Parquet column of level-1 pseudonyms into hub pseudonyms, on one core.

baseline: ``[hmac.digest(key, v, "sha256") for v in column]`` over every row (bytes straight from Arrow).
subject:  Guichet's path (``pseudonyms.pseudonymise_column``): dictionary-encode, HMAC the distinct values
          with precomputed keyed SHA-256 states, numpy base32, take back over every row.
custodian (``--custodian``, informational): the whole in-process custodian call, which also validates the
          values and appends the encrypted correspondence table.
Every variant reads the same Parquet file and writes its answer as Parquet.

    .venv/bin/python benchmarks/pseudonymise.py              # 10M rows, ~1M distinct people, 3 runs each
    .venv/bin/python benchmarks/pseudonymise.py --quick      # 1M rows
    .venv/bin/python benchmarks/pseudonymise.py --rows 2000000 --repeat 5 --custodian

Variants run alternately, ``--repeat`` times each; prints medians, rows/s and the ratio to the baseline.
Target (issue #4): >= 4x in pure Python. One core: OMP_NUM_THREADS=1, pyarrow's pools of 1 thread, DuckDB
(used by no variant here) at threads=1.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy loads

import argparse
import hmac
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from guichet.custodian import pseudonyms as ps

Variant = Callable[[Path, Path, bytes], None]


def one_core() -> None:
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    duckdb.default_connection().execute("SET threads = 1")


def make_input(path: Path, rows: int, distinct: int) -> None:
    rng = np.random.default_rng(1)
    people = ps.encode_digests(rng.bytes(32 * distinct))  # random level-1 pseudonyms
    column = people.take(pa.array(rng.integers(0, distinct, rows)))
    pq.write_table(pa.table({"level1": column}), path)


def baseline(src: Path, dst: Path, key: bytes) -> None:
    column = pq.read_table(src).column("level1").cast(pa.binary()).to_pylist()
    out = [hmac.digest(key, v, "sha256") for v in column]
    pq.write_table(pa.table({"hub": pa.array(out, pa.binary())}), dst)


def subject(src: Path, dst: Path, key: bytes) -> None:
    column = pq.read_table(src).column("level1")
    pq.write_table(pa.table({"hub": ps.pseudonymise_column(key, ps.LABEL_HUB, column)}), dst)


def custodian_variant(home: Path) -> Variant:
    from guichet.custodian import LocalCustodian, init_custodian_home

    init_custodian_home(home)
    # one whole call per run, as measured before calls were bounded (the HTTP service takes 500,000)
    custodian = LocalCustodian(home, caller="benchmark", max_batch=sys.maxsize)

    def run(src: Path, dst: Path, key: bytes) -> None:
        column = pq.read_table(src).column("level1")
        pq.write_table(pa.table({"hub": custodian.pseudonymise(column, "hub", purpose="deposit:benchmark")}), dst)

    return run


def check(src: Path, dst: Path, key: bytes, sample: int = 2000) -> None:
    """The subject's answer is the documented pseudonym of each row (checked on a sample, untimed)."""
    level1 = pq.read_table(src).column("level1")
    hub = pq.read_table(dst).column("hub")
    assert len(level1) == len(hub)
    for i in random.Random(0).sample(range(len(level1)), min(sample, len(level1))):
        assert hub[i].as_py() == ps.hub_pseudonym(key, level1[i].as_py()), f"row {i}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--distinct", type=int, default=None, help="distinct people; default rows / 10")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1M rows")
    parser.add_argument("--custodian", action="store_true", help="also time the whole in-process custodian call")
    args = parser.parse_args()
    rows = 1_000_000 if args.quick else args.rows
    distinct = args.distinct or max(1, rows // 10)
    one_core()
    key = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.parquet"
        make_input(src, rows, distinct)
        variants: dict[str, Variant] = {"baseline": baseline, "subject": subject}
        if args.custodian:
            variants["custodian"] = custodian_variant(Path(tmp) / "custodian")
        times: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(max(3, args.repeat)):
            for name, fn in variants.items():
                dst = Path(tmp) / f"{name}.parquet"
                start, start_cpu = time.perf_counter(), time.process_time()
                fn(src, dst, key)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
                dst.unlink()
        subject(src, Path(tmp) / "check.parquet", key)
        check(src, Path(tmp) / "check.parquet", key)
    print(f"rows={rows} distinct={distinct} runs={len(times['baseline'])} each, alternating, one core")
    # CPU time is printed too: on a shared machine wall-clock medians move with the neighbours' load.
    for label, measured in (("wall", times), ("cpu", cpu)):
        base = statistics.median(measured["baseline"])
        for name, runs in measured.items():
            med = statistics.median(runs)
            print(f"{label:4s} {name:9s} median {med:7.2f} s  {rows / med / 1e6:6.2f} M rows/s  "
                  f"ratio {base / med:5.1f}x  runs {[round(t, 2) for t in runs]}")


if __name__ == "__main__":
    main()
