"""Building a permit's extract against a bare DuckDB copy of the same rows (issue "Workspace extracts").

Target: building a 10M-claim-row extract takes at most 2x a bare DuckDB projection-and-filter copy of the same
rows written as encrypted Parquet through the same writer (DuckDB cannot write encrypted Parquet itself), with
the custodian in-process; at most 3x with the HTTP custodian. Same run, medians.

Set-up (once per --work folder, kept for later runs): the whole data plane through the CLI, as a user runs it
(``init``, producers, ``synth``, ``custodian domain-key``, ``producer pseudonymise``, ``deposit run`` with the
synthetic defects' holds overridden, ``link run``); then, in-process through the services, an application for
``ER_PRS_F`` (eight variables, the whole population, the whole period, no criteria) taken to its signed
permit. About 18 claims per person and year: 185,000 persons over 3 years make 10M claim rows.

Timed, alternately, ``--repeat`` times each:

- **baseline**: one DuckDB statement — the published version of ``ER_PRS_F`` read with its key, the permitted
  columns projected, the rows of the permit's period kept — fetched as Arrow and written by
  ``guichet.custodian.write_encrypted_parquet`` under a fresh data key of the project (from the same
  custodian);
- **subject**: ``guichet.workspace.build.build`` on the permit (its previous extract removed first, so that
  it is really built): the person index, opt-outs, period, coarsening, per-project surrogates of every key
  (the custodian's CBC-MAC under the project's key; the claim's from its nine keys' typed values), the risk
  report, the encrypted writing, the recipe and the dictionary.

``--http`` runs a second pair with the custodian served over HTTP (``guichet custodian serve`` on loopback,
a hub token), the hub switched to it by its ``custodian_url`` setting.

    python benchmarks/extract.py --persons 185000 --years 3 --work build/extract-bench --repeat 3 --http

``--setup-only`` builds the lake and the permit in ``--work`` and times nothing (start it early: about ten
minutes at the issue's size on a quiet machine, an hour on a loaded one); ``--profile`` logs each step of
every build with its wall-clock time (the engine's statements and the build's own steps).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

VARIABLES = ["BEN_NAI_ANN", "BEN_SEX_COD", "BEN_RES_DPT", "EXE_SOI_DTD", "EXE_SOI_DTF", "PRS_NAT_REF",
             "PRS_ACT_QTE", "DCT_ORD_NUM"]
TARGETS = {"local": 2.0, "http": 3.0}
ACCOUNTS = {  # username -> (role, organisation, kind)
    "rita.researcher": ("researcher", "Université (benchmark)", "academic"),
    "cora.committee": ("committee", "Scientific committee (benchmark)", "public_body"),
    "andre.authority": ("authority", "Authority (benchmark)", "public_body"),
}


def guichet(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    proc = subprocess.run([sys.executable, "-m", "guichet", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"guichet {' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return proc.stdout


def build_lake(root: Path, persons: int, years: int, seed: int) -> None:
    home, clear, level1, key = root / "hub", root / "clear", root / "level1", root / "snds.key"
    t0 = time.monotonic()
    guichet("init", "--home", str(home), "--mode", "development", "--json", cwd=root)
    for producer in ("cnam", "atih", "cepidc"):
        guichet("producer", "add", producer, "--org", f"{producer} (synthetic)", "--key-out",
                str(root / f"{producer}.pem"), "--home", str(home), cwd=root)
    guichet("synth", "--persons", str(persons), "--start", "2021-01-01", "--end", f"{2020 + years}-12-31",
            "--seed", str(seed), "--out", str(clear), cwd=root)
    guichet("custodian", "domain-key", "--home", str(home), "--domain", "snds", "--out", str(key), cwd=root)
    guichet("producer", "pseudonymise", str(clear), "--manifest", str(clear / "manifest.toml"), "--key-file", str(key),
            "--out", str(level1), "--json", cwd=root)
    shutil.rmtree(clear)  # the identifiers in the clear are not needed any more
    deposit = json.loads(guichet("deposit", "run", str(level1), "--manifest", str(level1 / "manifest.toml"),
                                 "--home", str(home), "--json", cwd=root))
    for d in deposit:
        if d.get("status") == "held":  # synthetic defects are planted on purpose
            guichet("quality", "override", d["dataset"], "--version", str(d["version"]), "--reason",
                    "benchmark: synthetic defects planted on purpose", "--home", str(home), cwd=root)
    guichet("link", "run", "--home", str(home), "--json", cwd=root)
    shutil.rmtree(level1)
    print(f"set-up: lake of {persons:,} persons over {years} year(s) in {time.monotonic() - t0:.0f} s", flush=True)


def issue_permit(home: Path, years: int) -> str:
    from guichet.access import services as access
    from guichet.access.contents import EXAMPLE_PATH
    from guichet.accounts import services as accounts
    from guichet.accounts.auth import actor_for
    from guichet.actor import system_actor
    from guichet.catalogue import services as catalogue
    from guichet.demo.catalogue import DEMO_PROPERTIES, schema_folder
    from guichet.hub import open_hub
    from guichet.permits import permit_services as permits
    from guichet.permits import services as accreditation

    hub = open_hub(home)
    try:
        system = system_actor()
        for username, (role, org, kind) in ACCOUNTS.items():
            accounts.add_user(hub, system, username=username, roles=[role], org=org, org_kind=kind)
        op = actor_for(hub, hub.config.operator).with_strong_auth()
        access.add_member(hub, op, panel="scientific", username="cora.committee")
        catalogue.configure(hub, op, properties=DEMO_PROPERTIES)  # the products an application names
        catalogue.load_schemas(hub, op, folder=schema_folder())
        who = {u: actor_for(hub, u).with_strong_auth() for u in ACCOUNTS}
        content = json.loads(EXAMPLE_PATH.read_text(encoding="utf-8"))
        content["data"] = [{"product": "dcir", "table": "ER_PRS_F", "variables": VARIABLES}]
        content["criteria"] = {"period": {"from": "2021-01-01", "to": f"{2020 + years}-12-31"}}
        app = access.create(hub, who["rita.researcher"], content=content).id
        access.submit(hub, who["rita.researcher"], application_id=app)
        access.check(hub, op, application_id=app, complete=True, reason="benchmark: every section present")
        access.opinion(hub, who["cora.committee"], application_id=app, outcome="favourable", reason="benchmark")
        access.decide(hub, who["andre.authority"], application_id=app, authorise=True, reason="benchmark")
        until = date.today().replace(year=date.today().year + 1)
        accreditation.attest_user(hub, op, username="rita.researcher", until=until, note="benchmark")
        permits.estimate_fees(hub, op, application_id=app)
        permits.accept_estimate(hub, who["rita.researcher"], application_id=app)
        return str(permits.issue(hub, op, application_id=app).id)
    finally:
        hub.close()


def prepare(work: Path, persons: int, years: int, seed: int) -> dict[str, Any]:
    state = work / "bench.json"
    if state.exists():
        found = json.loads(state.read_text(encoding="utf-8"))
        if (found["persons"], found["years"], found["seed"]) == (persons, years, seed):
            return dict(found)
    if not (work / "lake.done").exists():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        build_lake(work, persons, years, seed)
        (work / "lake.done").write_text(json.dumps([persons, years, seed]), encoding="utf-8")
    permit = issue_permit(work / "hub", years)
    found = {"persons": persons, "years": years, "seed": seed, "permit": permit}
    state.write_text(json.dumps(found), encoding="utf-8")
    return found


def baseline(hub: Any, permit: str, document: dict[str, Any], out: Path) -> int:
    """The bare copy: one DuckDB projection-and-filter statement over the published version, its Arrow
    result written as encrypted Parquet under a fresh project data key."""
    from guichet.custodian import custodian_for, write_encrypted_parquet
    from guichet.engine import Engine
    from guichet.lake import open_info, published_versions

    period = (document.get("population") or {}).get("period") or {}
    custodian = custodian_for(hub.config, caller="benchmark")
    info = max(published_versions(hub, "ER_PRS_F"), key=lambda v: v.version)
    start, end = period.get("start") or "1900-01-01", period.get("end") or "2999-12-31"
    cols = ", ".join(f'"{c}"' for c in VARIABLES)
    with Engine() as engine:
        rel = open_info(hub, engine, info, view="bench_src")
        table = engine.con.sql(  # the baseline is bare DuckDB by definition
            f"SELECT {cols} FROM {rel.view} WHERE coalesce(CAST(EXE_SOI_DTF AS DATE), CAST(EXE_SOI_DTD AS DATE)) "
            f">= DATE '{start}' AND CAST(EXE_SOI_DTD AS DATE) <= DATE '{end}'").to_arrow_table()
    key = custodian.new_data_key(f"project:{permit.lower()}")
    return int(write_encrypted_parquet(table, out, key.key))


def subject(hub: Any, permit: str, document: dict[str, Any]) -> int:
    from guichet.workspace.build import build, workspace_dir

    shutil.rmtree(workspace_dir(hub, permit), ignore_errors=True)
    result, built = build(hub, permit, document, by="benchmark")
    assert built
    return int(result["tables"]["ER_PRS_F"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_custodian(work: Path, custodian_home: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    token = work / "hub.token"
    token.unlink(missing_ok=True)
    guichet("custodian", "token", "--caller", "hub", "--kind", "hub", "--out", str(token),
            "--custodian-home", str(custodian_home), cwd=work)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "guichet", "custodian", "serve", "--custodian-home",
                             str(custodian_home), "--host", "127.0.0.1", "--port", str(port)],
                            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    return proc, {"custodian_url": url, "custodian_token_file": str(token)}


def timed(fn: Any) -> tuple[float, int]:
    t0 = time.perf_counter()
    rows = fn()
    return time.perf_counter() - t0, rows


def pair(label: str, hub: Any, permit: str, document: dict[str, Any], work: Path, repeat: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {"baseline": [], "subject": []}
    rows: dict[str, int] = {}
    for i in range(repeat):
        for name in ("baseline", "subject"):
            if name == "baseline":
                secs, n = timed(lambda: baseline(hub, permit, document, work / "baseline.parquet"))
            else:
                secs, n = timed(lambda: subject(hub, permit, document))
            times[name].append(secs)
            rows[name] = n
            print(f"  {label} run {i + 1}: {name:8} {secs:7.2f} s  ({n:,} rows)", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["subject"] / med["baseline"]
    ok = ratio <= TARGETS[label]
    print(f"{label:5} custodian: baseline median {med['baseline']:.2f} s, subject median {med['subject']:.2f} s, "
          f"ratio {ratio:.2f} (target <= {TARGETS[label]}) {'OK' if ok else 'MISSED'}; "
          f"rows {rows['subject']:,} extract / {rows['baseline']:,} bare", flush=True)
    return {"custodian": label, "times": times, "medians": med, "ratio": ratio, "target": TARGETS[label],
            "met": ok, "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=185_000, help="persons (about 18 claims a person a year)")
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", type=Path, default=Path("build/extract-bench"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--http", action="store_true", help="also time both with the custodian served over HTTP")
    ap.add_argument("--out", type=Path, default=Path("build/extract-bench.json"))
    ap.add_argument("--setup-only", action="store_true", help="build the lake and the permit in --work, time nothing")
    ap.add_argument("--profile", action="store_true",
                    help="log each step of the build with its wall-clock time (the engine's and the build's logs)")
    args = ap.parse_args()
    if args.repeat < 3 and not args.setup_only:
        raise SystemExit("--repeat: at least 3")
    work = args.work.resolve()
    state = prepare(work, args.persons, args.years, args.seed)
    if args.setup_only:
        print(f"set-up ready in {work} (permit {state['permit']})", flush=True)
        return 0
    if args.profile:
        import logging

        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("    %(message)s"))
        for name in ("guichet.engine", "guichet.workspace"):
            logger = logging.getLogger(name)
            logger.setLevel(logging.INFO)
            logger.addHandler(handler)
    from guichet.hub import open_hub
    from guichet.permits.state import permit_scope

    hub = open_hub(work / "hub", migrate=True)  # a lake built by an earlier version: its schema brought up to date
    results = []
    try:
        with hub.store.read() as s:
            scope = permit_scope(s, state["permit"], date.today())
        document, permit = scope["document"], str(state["permit"])
        results.append(pair("local", hub, permit, document, work, args.repeat))
        if args.http:
            proc, props = serve_custodian(work, hub.config.custodian_home)
            try:
                hub.config = hub.config.with_properties(**props)
                results.append(pair("http", hub, permit, document, work, args.repeat))
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    finally:
        hub.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"persons": args.persons, "years": args.years, "results": results}, indent=1),
                        encoding="utf-8")
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
