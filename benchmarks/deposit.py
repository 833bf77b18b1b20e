"""Deposit throughput against its floor and against ``frictionless validate``; peak memory.

    .venv/bin/python benchmarks/deposit.py                      # the issue's size: 5M rows of ER_PRS_F
    .venv/bin/python benchmarks/deposit.py --quick              # 300k rows, a couple of minutes
    .venv/bin/python benchmarks/deposit.py --rows 1000000 --repeat 5

The file: ``guichet synth --columns full`` (every schema-snds column of ER_PRS_F, 123 of them, the
generator's defects included: ~1 % of rows fail a rule), as many persons as needed for ``--rows`` claim
lines, then pseudonymised at level 1 as a producer does (psa pseudonyms from NIR + birth date + sex, the
NIR column removed), streamed batch by batch and written as CSV by DuckDB (cells quoted only when needed).
It is cached under ``--cache`` (default /tmp/guichet-bench-deposit) since making 5M rows takes minutes.

Floor: DuckDB ``read_csv`` of the same file (every column as text) into Arrow batches written by PyArrow's
encrypted Parquet writer with the hub's settings (``guichet.custodian.parquet.encrypted_writer``: the
only configuration whose files DuckDB 2.0.1 can read back). Subject: ``guichet deposit run`` in its own
process on a fresh hub (validation of every rule, quarantine sealed to the producer, hub pseudonyms by the
custodian, encryption, versioning, lineage). ``frictionless validate`` (pinned in the dev extra) runs on a
``--sample``-row head of the file (target: deposit >= 25x its rows/s). The three alternate (floor, deposit,
frictionless), ``--repeat`` times each (>= 3); medians, rows/s, the ratios (target >= 0.4 against the floor)
and each process's CPU time (user + system) are printed. Peak memory is the maximum resident set of the
deposit's process, from ``wait4`` (bound: < 2 GiB whatever the size): a run above it makes the benchmark
exit 1 with a line saying so, as does a deposit whose rows do not add up (rows in = accepted + quarantined).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GUICHET = [sys.executable, "-m", "guichet"]
RSS_BOUND = 2 << 30  # bytes: the deposit's peak resident memory, whatever the size of the file
LINES_PER_PERSON = 18.0  # ER_PRS_F lines per person and year in synth's standard profile (measured: ~18.5)
QUASI = ("BEN_SEX_COD", "BEN_NAI_ANN", "BEN_RES_DPT")


def make_file(out: Path, rows: int, seed: int) -> Path:
    """A level-1 ER_PRS_F delivery of exactly ``rows`` rows (see the module's docstring); returns its schema."""
    import duckdb
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from guichet.custodian.producer import psa_column

    work = out.parent / f".synth-{rows}-{seed}"
    shutil.rmtree(work, ignore_errors=True)
    persons = math.ceil(rows / LINES_PER_PERSON * 1.03) + 10
    subprocess.run([*GUICHET, "synth", "--persons", str(persons), "--start", "2023-01-01", "--end", "2023-12-31",
                    "--seed", str(seed), "--columns", "full", "--out", str(work), "--json"],
                   check=True, capture_output=True)
    clear = work / "ER_PRS_F.csv"
    key = bytes(range(32))  # the producers' level-1 domain key (any fixed key: the hub only re-keys it)
    header = clear.open(encoding="utf-8").readline().rstrip("\n").split(";")
    wanted = {f["name"] for f in json.loads((work / "schemas" / "ER_PRS_F.json").read_text())["fields"]}
    keep = [h for h in header if h == "BEN_NIR_OUV" or h in wanted]  # as the producer's manifest says
    names = ["BEN_NIR_PSA" if h == "BEN_NIR_OUV" else h for h in keep]
    reader = pacsv.open_csv(clear, read_options=pacsv.ReadOptions(block_size=64 << 20),
                            parse_options=pacsv.ParseOptions(delimiter=";"),
                            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header}))
    schema = pa.schema([(n, pa.string()) for n in names])

    def level1():
        left = rows
        for batch in reader:
            if left <= 0:
                break
            batch = batch.slice(0, left)
            left -= batch.num_rows
            psa = psa_column(key, batch.column("BEN_NIR_OUV"), batch.column("BEN_NAI_DTE"),
                             batch.column("BEN_SEX_COD"))
            cols = [psa if h == "BEN_NIR_OUV" else batch.column(h) for h in keep]
            yield pa.RecordBatch.from_arrays(cols, schema=schema)
        if left > 0:
            raise SystemExit(f"synth made {rows - left} rows, fewer than {rows}: raise LINES_PER_PERSON's margin")

    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.register("level1", pa.RecordBatchReader.from_batches(schema, level1()))
    tmp = out.with_suffix(".tmp")
    con.execute(f"COPY level1 TO '{tmp}' (FORMAT csv, DELIMITER ';', HEADER)")
    con.close()
    os.replace(tmp, out)
    target = out.with_name("ER_PRS_F.json")
    shutil.copyfile(work / "schemas" / "ER_PRS_F.json", target)
    shutil.rmtree(work, ignore_errors=True)
    return target


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def floor(path: Path, cols: list[str]) -> tuple[float, float]:
    """Seconds (wall, CPU) for DuckDB read_csv -> Arrow batches -> PyArrow encrypted writer (hub settings), own
    process."""
    code = f"""
import os, tempfile, time, duckdb
from pathlib import Path
from guichet.custodian.parquet import encrypted_writer
t = time.perf_counter()
con = duckdb.connect(config={{'autoinstall_known_extensions': False, 'autoload_known_extensions': False}})
con.execute('SET enable_progress_bar = false')
cols = {{c: 'VARCHAR' for c in {cols!r}}}
r = con.sql("select * from read_csv('{path}', header=true, delim=';', columns=" + repr(cols) +
            ", auto_detect=false)").to_arrow_reader(122880)
out = Path(tempfile.mktemp(suffix='.parquet'))
w = None
for b in r:
    if w is None:
        w = encrypted_writer(out, b.schema, os.urandom(32))
    w.write_batch(b)
w.close(); out.unlink()
print(time.perf_counter() - t)
"""
    cpu = _children_cpu()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1]), _children_cpu() - cpu


def subject(path: Path, schema: Path, work: Path, gate: bool) -> tuple[float, float, int, dict]:
    """Seconds (wall, CPU), peak RSS (bytes) and JSON answer of one ``guichet deposit run`` on a fresh hub."""
    from guichet.config import load_config, save_config

    home = work / f"hub{time.time_ns()}"
    subprocess.run([*GUICHET, "init", "--home", str(home), "--mode", "development"], check=True, capture_output=True)
    save_config(load_config(home).with_properties(quality_gate=gate))
    ids = ["--identifiers", "BEN_NIR_PSA:psa"]
    for q in QUASI:
        ids += ["--identifiers", f"{q}:quasi"]
    out = work / "answer.json"
    started = time.perf_counter()
    with out.open("w") as fh:
        proc = subprocess.Popen([*GUICHET, "deposit", "run", str(path), "--dataset", "ER_PRS_F", "--schema",
                                 str(schema), *ids, "--home", str(home), "--json"], stdout=fh,
                                stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if code not in (0, 1):
        raise SystemExit(f"deposit failed ({code}): {err}")
    answer = json.loads(out.read_text())
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(Path(str(home) + "-custodian"), ignore_errors=True)
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, answer


def frictionless_sample(path: Path, schema: Path, rows: int, work: Path) -> bool:
    """Write the ``rows``-row head of the file and its schema for frictionless; False when it is not installed."""
    if not Path(sys.executable).with_name("frictionless").exists():
        return False
    sample = work / "sample.csv"
    with path.open() as src, sample.open("w") as dst:
        for i, line in enumerate(src):
            if i > rows:
                break
            dst.write(line)
    raw = json.loads(schema.read_text())
    raw.pop("foreignKeys", None)  # frictionless would look for the referenced resources
    raw["name"] = raw["name"].lower()  # frictionless 5 accepts only lower-case resource names
    (work / "schema.json").write_text(json.dumps(raw))
    return True


def frictionless(work: Path) -> tuple[float, float, str]:
    """Seconds (wall, CPU) and summary of ``frictionless validate`` on the sample."""
    exe = Path(sys.executable).with_name("frictionless")
    cpu = _children_cpu()
    started = time.perf_counter()
    # relative paths (frictionless refuses paths outside its working folder); no error limit, so that every
    # row is validated
    done = subprocess.run([str(exe), "validate", "sample.csv", "--schema", "schema.json", "--dialect",
                           json.dumps({"delimiter": ";"}), "--limit-errors", "1000000000", "--json"],
                          capture_output=True, text=True, cwd=work)
    seconds = time.perf_counter() - started
    cpu = _children_cpu() - cpu
    try:
        report = json.loads(done.stdout)
        tasks = report.get("tasks") or [{}]
        stats = tasks[0].get("stats", {})
        summary = f"valid={report.get('valid')}, rows={stats.get('rows')}, errors={stats.get('errors')}"
    except ValueError:
        summary = f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:] or ''}"
    return seconds, cpu, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--quick", action="store_true", help="300k rows")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample", type=int, default=200_000, help="rows given to frictionless validate")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--with-gate", action="store_true",
                    help="keep the quality gate on (the deposit then also runs every quality check: "
                         "benchmarks/quality.py measures those; off by default here)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "guichet-bench-deposit")
    args = ap.parse_args()
    rows = 300_000 if args.quick else args.rows
    args.cache.mkdir(parents=True, exist_ok=True)
    folder = args.cache / f"{rows}-{args.seed}"
    folder.mkdir(exist_ok=True)
    data = folder / "ER_PRS_F.csv"
    if not data.exists():
        t = time.perf_counter()
        make_file(data, rows, args.seed)
        print(f"made {data} in {time.perf_counter() - t:.0f} s (cached for the next runs)")
    schema = data.with_name("ER_PRS_F.json")
    cols = [f["name"] for f in json.loads(schema.read_text())["fields"]]
    print(f"ER_PRS_F: {rows:,} rows x {len(cols)} columns, {data.stat().st_size / 1e6:,.0f} MB "
          f"(synth --columns full, level-1 pseudonyms)")
    work = Path(tempfile.mkdtemp(prefix="guichet-bench-"))
    n = min(args.sample, rows)
    try:
        has_fl = frictionless_sample(data, schema, n, work)
        base, base_cpu, subj, subj_cpu, fl, fl_cpu, rss, answer, summary = [], [], [], [], [], [], 0, {}, ""
        # the three alternate, so that each ratio compares runs made under the same load (the machine is shared)
        for i in range(max(args.repeat, 1)):
            b, bc = floor(data, cols)
            base.append(b)
            base_cpu.append(bc)
            s, sc, r, answer = subject(data, schema, work, args.with_gate)
            subj.append(s)
            subj_cpu.append(sc)
            rss = max(rss, r)
            line = (f"  run {i + 1}: floor {b:.2f} s (CPU {bc:.1f} s), deposit {s:.2f} s (CPU {sc:.1f} s), "
                    f"deposit peak RSS {r / 2**20:,.0f} MiB")
            if has_fl:
                f, fc, summary = frictionless(work)
                fl.append(f)
                fl_cpu.append(fc)
                line += f", frictionless {f:.1f} s (CPU {fc:.1f} s)"
            print(line + f"; load {os.getloadavg()[0]:.1f}", flush=True)
        b, s = statistics.median(base), statistics.median(subj)
        bc, sc = statistics.median(base_cpu), statistics.median(subj_cpu)
        print(f"quality gate: {'on' if args.with_gate else 'off (quality_gate = false)'}; status {answer['status']}")
        print(f"deposit answer: rows_in {answer['rows_in']:,}, accepted {answer['rows_accepted']:,}, "
              f"quarantined {answer['rows_quarantined']:,} {answer['quarantine_reasons']}")
        print("medians:")
        print(f"floor   (DuckDB read_csv + PyArrow encrypted write): {b:8.2f} s {rows / b:12,.0f} rows/s "
              f"(CPU {bc:.1f} s)")
        print(f"deposit (validate, quarantine, hub pseudonyms, encrypt, version): {s:8.2f} s {rows / s:12,.0f} rows/s "
              f"(CPU {sc:.1f} s)")
        print(f"ratio deposit/floor: {b / s:.2f} (target >= 0.4); deposit peak RSS {rss / 2**20:,.0f} MiB "
              f"(bound < {RSS_BOUND / 2**20:,.0f})")
        if not has_fl:
            print("frictionless: not installed (pip install -e '.[dev]') - skipped")
        else:
            f, fc = statistics.median(fl), statistics.median(fl_cpu)
            per_run = ", ".join(f"{(rows / x) / (n / y):.1f}" for x, y in zip(subj, fl, strict=True))
            print(f"frictionless validate on {n:,} rows: {f:.1f} s {n / f:,.0f} rows/s (CPU {fc:.1f} s; {summary})")
            print(f"ratio deposit/frictionless: {(rows / s) / (n / f):.1f} (target >= 25; runs: {per_run}); "
                  f"per CPU second: {(rows / sc) / (n / fc):.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failures = check(rss, answer)
    for line in failures:
        print(f"FAIL: {line}", file=sys.stderr)
    if failures:
        raise SystemExit(1)


def check(rss: int, answer: dict) -> list[str]:
    """What makes the benchmark fail, whatever the machine's load: memory and accounting, not speed."""
    failures = []
    if rss >= RSS_BOUND:
        failures.append(f"deposit peak RSS {rss / 2**20:,.0f} MiB is above the bound of {RSS_BOUND / 2**20:,.0f} MiB")
    if answer and answer["rows_in"] != answer["rows_accepted"] + answer["rows_quarantined"]:
        failures.append(f"rows do not add up: {answer['rows_in']:,} in, {answer['rows_accepted']:,} accepted, "
                        f"{answer['rows_quarantined']:,} quarantined")
    return failures


if __name__ == "__main__":
    main()
