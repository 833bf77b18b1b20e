"""Load benchmark of the web portal with wrk: /healthz, one signed-in page, a catalogue product page and the
search API (public), 2 workers, 50 connections.

For each database (PostgreSQL in a temporary database, then SQLite beside it), a fresh hub is made, an
operator signs in through the real forms (password + TOTP) to get a session cookie, `guichet serve
--workers 2` is started, and wrk runs on each endpoint. Databases alternate, `--repeat` times each; the
medians are printed with the targets (0 errors, p99 <= 300 ms, >= 250 requests/s on PostgreSQL).

    .venv/bin/python benchmarks/web.py                   # 60 s per run, 3 runs each (~13 minutes)
    .venv/bin/python benchmarks/web.py --duration 10 --repeat 1   # a quick look
    .venv/bin/python benchmarks/web.py --paths /healthz / --session-cache-seconds 0   # no session cache
    .venv/bin/python benchmarks/web.py --catalogue-cache-seconds 0   # catalogue answers read from the database
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PG_ADMIN = os.environ.get("GUICHET_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PAGE = "/"  # the home page: authenticated, rendered, not an audited read (/account is: one audit event per view)
TARGET_P99_MS, TARGET_RPS = 300.0, 250.0


@dataclass
class Run:
    db: str
    path: str
    requests_per_s: float
    p99_ms: float
    errors: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> tuple[float, float, int]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", output)
    errors = 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    return rps, _ms(*p99.groups()) if p99 else float("nan"), errors  # type: ignore[misc]


def _make_hub(root: Path, db_url: str | None, properties: dict[str, object] | None = None) -> tuple[Path, str]:
    """A hub with one operator (password + TOTP); returns its home and a signed-in session cookie."""
    import pyotp
    from fastapi.testclient import TestClient

    from guichet.accounts import services as accounts
    from guichet.actor import system_actor
    from guichet.hub import open_hub
    from guichet.lifecycle.init import InitRequest, init_hub
    from guichet.web import create_app
    from tests.web_support import csrf_of

    home = root / "hub"
    init_hub(InitRequest(home=home, custodian_home=root / "custodian", mode="production", env_db_url=db_url))
    if properties:
        from guichet.config import load_config, save_config

        save_config(load_config(home).with_properties(**properties))
    hub = open_hub(home, db_url)
    system = system_actor()
    _load_catalogue(hub, root)
    password = secrets.token_urlsafe(16)
    accounts.set_password(hub, system, username=hub.config.operator, password=password)
    secret = accounts.enroll_totp(hub, system, username=hub.config.operator)
    with TestClient(create_app(hub.config, db_url)) as c:
        page = c.get("/login")
        c.post("/login", data={"username": hub.config.operator, "password": password, "csrf_token": csrf_of(page.text)})
        page = c.get("/login/totp")
        c.post("/login/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(page.text)})
        cookie = c.cookies.get("guichet_session")
        assert cookie and c.get(PAGE).status_code == 200
    hub.close()
    return home, cookie


CATALOGUE_PATHS = ("/catalogue/beneficiaire", "/api/search?q=deces")  # a product page and the search API (public)


def _load_catalogue(hub: object, root: Path) -> None:
    """Two SNDS products of schema-snds in the hub's catalogue, for the product page and the search API."""
    from guichet.actor import Actor
    from guichet.catalogue import services as catalogue
    from guichet.demo.catalogue import DEMO_PROPERTIES, schema_folder

    ops = Actor("operator", frozenset({"operator"}), strong_auth=True)
    folder = root / "schemas"
    for name in ("BENEFICIAIRE", "Causes de décès"):
        shutil.copytree(schema_folder() / name, folder / name)
    catalogue.configure(hub, ops, properties=DEMO_PROPERTIES)
    catalogue.load_schemas(hub, ops, folder=folder)


def _serve(home: Path, db_url: str | None, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    if db_url:
        env["GUICHET_DB_URL"] = db_url
    proc = subprocess.Popen([sys.executable, "-m", "guichet", "serve", "--home", str(home), "--port", str(port),
                             "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    time.sleep(1)  # both workers up
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("guichet serve did not start")


def _wrk(url: str, duration: int, connections: int, lua: Path | None) -> tuple[float, float, int]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if lua:
        cmd += ["-s", str(lua)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def _pg_database() -> tuple[str, str]:
    import psycopg

    name = f"guichet_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds per wrk run (default 60)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per database and endpoint (default 3)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--paths", nargs="+", metavar="PATH",
                        help="only these of the measured paths (e.g. --paths /healthz /)")
    parser.add_argument("--session-cache-seconds", type=int, default=None,
                        help="the hubs' web_session_cache_seconds (default: the portal's, 1; 0: every request "
                             "looks its session up in the database)")
    parser.add_argument("--catalogue-cache-seconds", type=int, default=None,
                        help="the hubs' web_catalogue_cache_seconds (default: the portal's, 1; 0: every catalogue "
                             "request reads the database, as before the cache)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found (apt-get install wrk)")
    root = Path(tempfile.mkdtemp(prefix="guichet-bench-web-"))
    pg_name, pg_url = _pg_database()
    servers: dict[str, tuple[subprocess.Popen[bytes], int, Path]] = {}
    runs: list[Run] = []
    try:
        dbs = {"postgresql": pg_url} if args.no_sqlite else {"postgresql": pg_url, "sqlite": None}
        for db, url in dbs.items():
            (root / db).mkdir()
            props: dict[str, object] = {}
            if args.session_cache_seconds is not None:
                props["web_session_cache_seconds"] = args.session_cache_seconds
            if args.catalogue_cache_seconds is not None:
                props["web_catalogue_cache_seconds"] = args.catalogue_cache_seconds
            home, cookie = _make_hub(root / db, url, props or None)
            lua = root / db / "cookie.lua"
            lua.write_text(f'wrk.headers["Cookie"] = "guichet_session={cookie}"\n', encoding="utf-8")
            port = _free_port()
            servers[db] = (_serve(home, url, port), port, lua)
        for i in range(args.repeat):
            for db, (_proc, port, lua) in servers.items():  # alternate the databases
                for path, script in (("/healthz", None), (PAGE, lua), *((p, None) for p in CATALOGUE_PATHS)):
                    if args.paths and path not in args.paths:
                        continue
                    rps, p99, errors = _wrk(f"http://127.0.0.1:{port}{path}", args.duration, args.connections, script)
                    runs.append(Run(db, path, rps, p99, errors))
                    print(f"run {i + 1}/{args.repeat} {db:<10} {path:<24} {rps:8.1f} req/s  p99 {p99:7.1f} ms  "
                          f"errors {errors}  load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        for proc, _port, _lua in servers.values():
            proc.terminate()
            proc.wait(timeout=20)
        _drop(pg_name)
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nmedians ({args.repeat} run(s) of {args.duration} s, {args.connections} connections, 2 workers):")
    print(f"{'database':<11}{'path':<25}{'req/s':>9}{'p99 ms':>9}{'errors':>8}  target")
    medians = {}
    for db in servers:
        for path in ("/healthz", PAGE, *CATALOGUE_PATHS):
            sel = [r for r in runs if r.db == db and r.path == path]
            if not sel:
                continue
            rps = statistics.median(r.requests_per_s for r in sel)
            p99 = statistics.median(r.p99_ms for r in sel)
            errors = sum(r.errors for r in sel)
            medians[(db, path)] = rps
            ok = errors == 0 and p99 <= TARGET_P99_MS and rps >= TARGET_RPS
            print(f"{db:<11}{path:<25}{rps:9.1f}{p99:9.1f}{errors:8d}  {'met' if ok else 'MISSED'}"
                  f"{'' if db == 'postgresql' else ' (reported beside)'}")
    if "sqlite" in servers:
        for path in ("/healthz", PAGE):
            if ("postgresql", path) in medians and ("sqlite", path) in medians:
                print(f"ratio postgresql/sqlite {path}: "
                      f"{medians[('postgresql', path)] / medians[('sqlite', path)]:.2f}")


if __name__ == "__main__":
    main()
