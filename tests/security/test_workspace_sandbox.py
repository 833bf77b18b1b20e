"""Workspace sessions: every escape by SQL and by Python fails with a clear one-line message and leaks
nothing; access follows the permit at every call; runaway work is killed; nothing is written outside the
workspace; every run is logged.

One hub (the handcrafted lake, two permits: ``pid`` released for sessions, ``other`` another project's
extract) serves the module. A sandbox costs about a second: the Python probes gather many checks per run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from guichet.errors import GuichetError, Refused
from guichet.permits.tables import Attestation, Permit
from guichet.workspace import session_sandbox, session_services
from guichet.workspace.build import extract_dir, workspace_dir
from guichet.workspace.session_access import SessionFailed
from tests.workspace_support import CONTENT_2023, TODAY, Sessions, make_desk

pytestmark = pytest.mark.skipif(session_sandbox.shutil.which("bwrap") is None, reason="bubblewrap is not installed")


Ws = Sessions


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ws]:
    desk = make_desk(tmp_path_factory.mktemp("sessions"))
    other = desk.permit(CONTENT_2023, "other")
    desk.ok("workspace", "build", other)
    pid = desk.permit(CONTENT_2023, "mine")
    desk.ok("workspace", "build", pid)
    w = Ws(desk, pid, other)
    # a held extract is not queried
    with pytest.raises(Refused, match="is held: an operator must release it"):
        w.sql("SELECT count(*) FROM IR_BEN_R")
    desk.ok("workspace", "release", pid, "--reason", "synthetic test data")
    yield w
    desk.hub.close()


def _one_line_no_leak(exc: GuichetError) -> None:
    msg = exc.message
    assert "\n" not in msg and len(msg) < 400
    assert "root:x:0" not in msg and "PAR1" not in msg and "PARE" not in msg


# --- the allowlist: refused before any sandbox starts -----------------------------------------------------------

ONLY_QUERIES = "only SELECT or WITH|cannot be parsed"  # SQLGlot parses some statements, not all
ALLOWLIST_ATTACKS = [
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv as a table"),
    ("SELECT read_text('/etc/passwd')", "function read_text"),
    ("SELECT * FROM read_text('/etc/passwd')", "read_text as a table"),
    ("SELECT * FROM glob('/*')", "glob as a table"),
    ("SELECT * FROM '/etc/passwd'", "not one of the extract's views"),
    ("SELECT * FROM 'lake/**/*.parquet'", "not one of the extract's views"),
    ("SELECT * FROM query('SELECT 1')", "query as a table"),
    ("SELECT * FROM query_table('IR_BEN_R')", "query_table as a table"),
    ("SELECT * FROM read_parquet('x.parquet')", "as a table"),
    ("COPY (SELECT * FROM IR_BEN_R) TO '/tmp/out.csv'", ONLY_QUERIES),
    ("EXPORT DATABASE '/tmp/dump'", ONLY_QUERIES),
    ("ATTACH '/tmp/x.db' AS x", ONLY_QUERIES),
    ("INSTALL httpfs", ONLY_QUERIES),
    ("LOAD httpfs", ONLY_QUERIES),
    ("SET enable_external_access = true", ONLY_QUERIES),
    ("PRAGMA enable_external_access", ONLY_QUERIES),
    ("CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", ONLY_QUERIES),
    ("SELECT getenv('HOME')", "function getenv"),
    ("SELECT current_setting('temp_directory')", "function current_setting"),
    ("SELECT * FROM duckdb_settings()", "duckdb_settings as a table"),
    ("SELECT * FROM information_schema.tables", "schema or catalog"),
    ("SELECT count(*) FROM IR_BEN_R; SELECT 1", "one query at a time"),
    ("SELECT count(*) FROM IR_BEN_R WHERE 1 = (SELECT count(*) FROM read_csv('/etc/passwd'))", "read_csv"),
    ("WITH x AS (SELECT * FROM glob('/*')) SELECT * FROM x", "glob as a table"),
    ("DESCRIBE IR_BEN_R", ONLY_QUERIES),
    ("SELECT $1", "not allowed|cannot be parsed"),
]


@pytest.mark.parametrize(("sql", "why"), ALLOWLIST_ATTACKS)
def test_sql_outside_the_allowlist_is_refused_in_one_line_and_logged(ws: Ws, sql: str, why: str) -> None:
    before = len(ws.runs())
    with pytest.raises(GuichetError) as err:
        ws.sql(sql)
    assert re.search(why, err.value.message), err.value.message
    _one_line_no_leak(err.value)
    runs = ws.runs()
    assert len(runs) == before + 1 and runs[-1].outcome == "refused" and runs[-1].exit == 2


def test_other_projects_files_and_the_lake_by_path_are_refused(ws: Ws) -> None:
    other_file = next(extract_dir(ws.hub, ws.other).glob("*.parquet"))
    lake_file = next((ws.hub.home / "lake").rglob("*.parquet"))
    for path in (other_file, lake_file):
        for sql in (f"SELECT * FROM '{path}'", f"SELECT * FROM read_parquet('{path}')"):
            with pytest.raises(Refused) as err:
                ws.sql(sql)
            _one_line_no_leak(err.value)
            assert str(path) not in err.value.message


# --- DuckDB inside the sandbox refuses by configuration (the allowlist bypassed) ----------------------------------

DUCKDB_PROBE = r'''
import hashlib
import json
from guichet.workspace.sandbox_api import connect, tables
con = connect()
out = {"tables": sorted(tables()), "count": con.execute("SELECT count(*) FROM IR_BEN_R").fetchone()[0]}
attacks = json.loads(ATTACKS)
res = {}
for sql in attacks:
    try:
        rows = con.execute(sql).fetchall()
        res[sql] = "ALLOWED " + repr(rows)[:200]
    except Exception as exc:
        res[sql] = "refused " + type(exc).__name__
out["attacks"] = res
out["copy_into_outputs"] = con.execute("COPY IR_BEN_R TO 'copied.csv'").fetchall()
# a fresh connection with DuckDB's defaults: sees only what the sandbox shows
import duckdb
fresh = duckdb.connect()
probes = {}
for sql in json.loads(FRESH):
    try:
        probes[sql] = "ALLOWED " + repr(fresh.execute(sql).fetchall())[:200]
    except Exception as exc:
        probes[sql] = "refused " + type(exc).__name__
out["fresh"] = probes
print(json.dumps(out))
'''


def test_duckdb_in_the_sandbox_refuses_every_escape_by_configuration(ws: Ws) -> None:
    other_file = next(extract_dir(ws.hub, ws.other).glob("*.parquet"))
    home = ws.hub.home
    attacks = [
        "SELECT * FROM read_csv('/etc/passwd')", "SELECT read_text('/workspace/extract/IR_BEN_R.parquet')",
        "SELECT * FROM read_text('/proc/self/environ')", "SELECT * FROM glob('/*')", "SELECT * FROM glob('/workspace/*')",
        "SELECT * FROM '/etc/passwd'", f"SELECT * FROM '{other_file}'", f"SELECT * FROM read_parquet('{other_file}')",
        f"SELECT * FROM glob('{home}/*')", "SELECT * FROM read_blob('/workspace/extract/IR_BEN_R.parquet')",
        "COPY IR_BEN_R TO '/tmp/leak.csv'", "COPY IR_BEN_R TO '/workspace/leak.csv'",
        f"COPY IR_BEN_R TO '{home}/leak.csv'", "COPY IR_BEN_R TO '/workspace/outputs/../leak.csv'",
        "SELECT * FROM read_blob('/workspace/outputs/../extract/IR_BEN_R.parquet')",
        "EXPORT DATABASE '/tmp/dump'", "ATTACH '/tmp/x.db' AS x", f"ATTACH '{home}/guichet.db' AS x",
        "INSTALL httpfs", "LOAD httpfs", "LOAD '/workspace/outputs/evil.duckdb_extension'",
        "SET enable_external_access = true", "SET allowed_directories = ['/']", "SET lock_configuration = false",
        "RESET enable_external_access", "PRAGMA enable_external_access", "SET temp_directory = '/workspace/outputs'",
        "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", "SET python_enable_replacements = true",
        "SELECT * FROM query_table('/etc/passwd')",
    ]
    fresh = ["SELECT * FROM read_csv('/etc/passwd')", f"SELECT * FROM read_parquet('{other_file}')",
             f"SELECT count(*) FROM glob('{home}/*')"]
    code = f"ATTACKS = {json.dumps(json.dumps(attacks))}\nFRESH = {json.dumps(json.dumps(fresh))}\n" + DUCKDB_PROBE
    r = ws.python(code)
    out = json.loads(r["stdout"])
    assert out["tables"] == ["ER_PHA_F", "ER_PRS_F", "IR_BEN_R"] and out["count"] == 20
    allowed = {sql: v for sql, v in out["attacks"].items() if not v.startswith("refused")}
    assert allowed == {}, f"DuckDB let these through: {allowed}"
    assert set(out["fresh"]) == set(fresh)
    for sql, v in out["fresh"].items():  # no such file in the sandbox: the hub's and other projects' paths are absent
        assert v.startswith("refused") or v == "ALLOWED [(0,)]", f"{sql}: {v}"
    assert not (ws.hub.home / "leak.csv").exists() and not (ws.hub.home / "workspaces" / ws.pid / "leak.csv").exists()
    # a script's connection writes in its working folder (the analysis helpers COPY their persons files there)
    assert out["copy_into_outputs"] == [[20]]
    assert (workspace_dir(ws.hub, ws.pid) / "outputs" / "copied.csv").exists()


# --- Python in the sandbox sees nothing of the host --------------------------------------------------------------

OS_PROBE = r'''
import json, os, socket
res = {}
def attempt(name, fn):
    try:
        res[name] = "ALLOWED " + repr(fn())[:300]
    except Exception as exc:
        res[name] = "refused " + type(exc).__name__
for path in json.loads(PATHS):
    attempt("read " + path, lambda p=path: open(p, "rb").read(64))
    attempt("list " + path, lambda p=path: os.listdir(p))
for path in json.loads(WRITES):
    attempt("write " + path, lambda p=path: open(p, "w").write("x"))
def connect():
    s = socket.create_connection(("1.1.1.1", 443), timeout=3)
    return s.getpeername()
attempt("socket 1.1.1.1:443", connect)
def local():
    s = socket.create_connection(("127.0.0.1", 5432), timeout=3)
    return s.getpeername()
attempt("socket 127.0.0.1:5432", local)
def unix():
    s = socket.socket(socket.AF_UNIX)
    s.connect("/var/run/postgresql/.s.PGSQL.5432")
attempt("unix socket", unix)
attempt("signal the hub", lambda: os.kill(HOST_PID, 0))
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    if getattr(libc, name)(*args) != 0:
        raise OSError(ctypes.get_errno(), name)
    return "done"
attempt("unshare a user namespace", lambda: call("unshare", 0x10000000))
attempt("unshare a mount namespace", lambda: call("unshare", 0x00020000))
attempt("ptrace", lambda: call("ptrace", 16, 1, 0, 0))
import gc, hashlib
found = []
for obj in gc.get_objects():
    for value in (obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list | tuple) else ()):
        if isinstance(value, str) and len(value) == 44:
            value = value.encode()
        if isinstance(value, bytes | bytearray) and len(value) in (32, 44):
            if hashlib.sha256(bytes(value)).hexdigest() in KEY_HASHES:
                found.append(len(value))
res["keys in the session's objects"] = "ALLOWED " + repr(found) if found else "refused none"
attempt("an inet socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
attempt("a netlink socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
attempt("a packet socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
attempt("write the host's /tmp", lambda: open(MARKER, "w").write("overwritten"))  # the session's own tmpfs at most
fds = []
for fd in range(3, 256):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
print(json.dumps({"res": res, "root": sorted(os.listdir("/")), "uid": os.getuid(), "env": dict(os.environ),
                  "cwd": os.getcwd(), "fds": fds}))
open(KEPT, "w").write("stays in the workspace")
'''


def _key_hashes(ws: Ws) -> list[str]:
    """SHA-256 of the extract's data keys, raw and base64 (the probe looks for them without being given them)."""
    import base64

    from guichet.custodian import custodian_for
    from guichet.workspace.build import load_manifest

    manifest = load_manifest(ws.hub, ws.pid)
    assert manifest is not None
    custodian = custodian_for(ws.hub.config, caller="workspace")
    out = []
    for meta in manifest["files"].values():
        key = custodian.unwrap(meta["key_id"], meta["wrapped"])
        out += [hashlib.sha256(key).hexdigest(), hashlib.sha256(base64.b64encode(key)).hexdigest()]
    return out


@pytest.fixture(params=["dedicated", "userns"])
def mode(request: pytest.FixtureRequest, ws: Ws) -> Iterator[str]:
    """Both user modes: the dedicated uid (the hub runs as root) and the user namespace (as any other user)."""
    if request.param == "dedicated" and os.geteuid() != 0:
        pytest.skip("the dedicated-user mode needs a hub run as root")
    props = ws.hub.config.properties
    saved = dict(props)
    if request.param == "userns":
        props["workspace_session_uid"] = "off"
    yield str(request.param)
    props.clear()
    props.update(saved)


def test_python_in_the_sandbox_sees_nothing_of_the_host(ws: Ws, mode: str) -> None:
    marker = Path("/tmp") / f"guichet-probe-{secrets.token_hex(4)}"
    marker.write_text("host tmp")
    os.environ["GUICHET_PROBE_SECRET"] = "must-not-reach-the-session"
    try:
        home = ws.hub.home
        custodian = ws.hub.config.custodian_home
        other_file = next(extract_dir(ws.hub, ws.other).glob("*.parquet"))
        mine = workspace_dir(ws.hub, ws.pid)
        paths = ["/proc/self/environ", "/proc/1/environ", "/etc/passwd", "/etc", "/home", str(marker),
                 str(home), str(home / "guichet.toml"), str(custodian), str(other_file), str(other_file.parent),
                 str(mine / "extract" / "manifest.json"), str(mine), "/root/.ssh", "/var/run/postgresql"]
        if mode == "dedicated":  # the extract's folder is the hub's (0700), opened before the switch of user
            paths += ["/workspace/extract/manifest.json", "/workspace/extract"]
        writes = ["/workspace/extract/x", "/usr/x", "/x", "/workspace/x", str(home / "x"),
                  str(Path(session_sandbox.sys.prefix) / "x")]
        code = (f"PATHS = {json.dumps(json.dumps(paths))}\nWRITES = {json.dumps(json.dumps(writes))}\n"
                f"HOST_PID = {os.getpid()}\nMARKER = {json.dumps(str(marker))}\nKEPT = 'kept-{mode}.txt'\n"
                f"KEY_HASHES = {json.dumps(_key_hashes(ws))}\n"
                + OS_PROBE)
        r = ws.python(code)
    finally:
        del os.environ["GUICHET_PROBE_SECRET"]
    out = json.loads(r["stdout"])
    res = out["res"]
    if mode == "userns":  # the sandbox's /tmp is its own (tmpfs, its user's): the host's file stays untouched
        res.pop("write the host's /tmp")
    allowed = {k: v for k, v in res.items() if not v.startswith("refused")}
    assert allowed == {}, f"the sandbox let these through: {allowed}"
    # the root holds the runtime (wherever installed: here under /root/.pyenv and /work), /dev, the tmpfs and
    # the workspace — no /etc, /home, /proc, /var
    assert {"etc", "home", "proc", "var", "srv", "mnt"}.isdisjoint(out["root"]), out["root"]
    assert {"usr", "dev", "tmp", "workspace"} <= set(out["root"])
    assert not any(k.startswith("GUICHET") for k in out["env"]) and "must-not-reach" not in r["stdout"]
    assert out["cwd"] == "/workspace/outputs"
    assert out["uid"] == session_sandbox.DEFAULT_UID  # never 0 inside, in either mode
    assert len(out["fds"]) == 1  # beyond stdio: the answer's pipe only (the job's, with the keys, was closed)
    assert marker.read_text() == "host tmp" and not (home / "x").exists()
    kept = mine / "outputs" / f"kept-{mode}.txt"
    assert kept.read_text() == "stays in the workspace"
    marker.unlink()


def test_nothing_is_written_outside_the_workspace(ws: Ws) -> None:
    home = ws.hub.home

    def files() -> dict[str, int]:
        out = {}
        for p in home.rglob("*"):
            if p.is_file():
                out[str(p.relative_to(home))] = p.stat().st_mtime_ns
        return out

    before = files()
    ws.sql("SELECT BEN_SEX_COD, count(*) AS n FROM IR_BEN_R GROUP BY ALL")
    ws.python("import tempfile\nopen('f.csv', 'w').write('a,b\\n')\n"
              "open(tempfile.gettempdir() + '/scratch', 'w').write('x')")
    after = files()
    changed = {p for p in set(after) | set(before) if before.get(p) != after.get(p)}
    outputs = f"workspaces/{ws.pid}/outputs/"
    unexpected = {p for p in changed if not p.startswith(outputs) and not p.startswith("audit")
                  and not p.endswith((".db", ".db-journal", ".db-wal", ".db-shm", ".jsonl"))}
    assert unexpected == set(), f"written outside the workspace: {unexpected}"
    assert f"{outputs}f.csv" in changed


# --- runaway work is killed ---------------------------------------------------------------------------------------

@pytest.fixture
def short_limits(ws: Ws) -> Iterator[None]:
    props = ws.hub.config.properties
    saved = dict(props)
    props.update(workspace_session_sql_seconds=3, workspace_session_python_seconds=3)
    yield
    props.clear()
    props.update(saved)


@pytest.mark.parametrize("sql", [
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
    "SELECT sum(hash(a.PERSON_ID || b.PERSON_ID || c.PERSON_ID || d.PERSON_ID || e.PERSON_ID || f.PERSON_ID)) "
    "FROM ER_PRS_F a, ER_PRS_F b, ER_PRS_F c, ER_PRS_F d, ER_PRS_F e, ER_PRS_F f, ER_PRS_F g, ER_PRS_F h",
])
def test_runaway_queries_are_stopped_and_logged(ws: Ws, short_limits: None, sql: str) -> None:
    with pytest.raises(SessionFailed) as err:
        ws.sql(sql)
    _one_line_no_leak(err.value)
    assert "time limit" in err.value.message or "INTERRUPT" in err.value.message.upper() \
        or "timeout" in err.value.message.lower(), err.value.message
    last = ws.runs()[-1]
    assert last.outcome in ("killed", "failed") and last.exit == 2 and last.kind == "sql"


def _running(token: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and token.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def test_a_script_past_its_time_limit_is_killed_with_its_children(ws: Ws, short_limits: None) -> None:
    token = f"runaway_{secrets.token_hex(4)}"
    code = ("import os, subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', '{token} = 1\\nwhile True: pass'], start_new_session=True)\n"
            "if os.fork() == 0:\n    os.setsid()\n    while True: pass\n"
            "print('started', flush=True)\nwhile True:\n    pass\n")
    with pytest.raises(SessionFailed, match="stopped past its time limit") as err:
        ws.python(code)
    assert err.value.stdout == b"started\n"
    last = ws.runs()[-1]
    assert last.outcome == "killed" and last.kind == "python" and last.cpu_s > 0
    for _ in range(50):  # the kernel tears the pid namespace down asynchronously
        if not _running(token):
            break
        time.sleep(0.1)
    assert _running(token) == [], "a process the script started outlived the session"


# --- access follows the permit at every call ------------------------------------------------------------------------

def _edit_permit(ws: Ws, **changes: Any) -> dict[str, Any]:
    with ws.hub.store.write() as s:
        p = s.get(Permit, ws.pid)
        assert p is not None
        saved = {k: getattr(p, k) for k in changes}
        for k, v in changes.items():
            setattr(p, k, v)
    return saved


def test_access_follows_the_permit_at_every_call(ws: Ws) -> None:
    with pytest.raises(Refused, match="bob is not named on permit"):
        ws.sql("SELECT count(*) FROM IR_BEN_R", who="bob")
    with pytest.raises(Refused, match="needs the role researcher"):
        ws.sql("SELECT count(*) FROM IR_BEN_R", who="claire")
    cases = [
        ({"valid_from": TODAY + timedelta(days=3)}, "not in force yet"),
        ({"valid_until": TODAY - timedelta(days=1)}, "is expired"),
        ({"state": "revoked"}, "is revoked"),
    ]
    with ws.hub.store.read() as s:
        document = dict(s.get(Permit, ws.pid).document)  # type: ignore[union-attr]
    removed = dict(document, people=[p for p in document.get("people", []) if p.get("name") != "alice"])
    cases.append(({"document": removed}, "alice is not named on permit"))
    for change, why in cases:
        saved = _edit_permit(ws, **change)
        try:
            with pytest.raises(Refused, match=why) as err:
                ws.sql("SELECT count(*) FROM IR_BEN_R")
            _one_line_no_leak(err.value)
            with pytest.raises(Refused, match=why):
                ws.python("print('never runs')")
        finally:
            _edit_permit(ws, **saved)
    # the attestation lapses: suspended (alice is the permit's only attested person) — refused too
    with ws.hub.store.write() as s:
        atts = list(s.execute(select(Attestation).where(Attestation.username == "alice")).scalars())
        kept = {a.id: a.valid_until for a in atts}
        for a in atts:
            a.valid_until = TODAY - timedelta(days=1)
    try:
        with pytest.raises(Refused, match=r"suspended|no valid training attestation"):
            ws.sql("SELECT count(*) FROM IR_BEN_R")
    finally:
        with ws.hub.store.write() as s:
            for a in s.execute(select(Attestation).where(Attestation.username == "alice")).scalars():
                a.valid_until = kept[a.id]
    assert ws.sql("SELECT count(*) AS n FROM IR_BEN_R")["rows"] == [[20]]  # restored: open again


def test_history_is_the_permits_people_and_operators_only(ws: Ws) -> None:
    runs = session_services.history(ws.hub, ws.actor("alice"), permit_id=ws.pid)
    assert runs and {"who", "when", "code_sha256", "rows", "exit", "cpu_s"} <= set(runs[0])
    assert all(len(r["code_sha256"]) == 64 for r in runs)
    assert session_services.history(ws.hub, ws.actor(ws.hub.config.operator), permit_id=ws.pid) == runs
    with pytest.raises(Refused, match="not named on permit"):
        session_services.history(ws.hub, ws.actor("bob"), permit_id=ws.pid)


# --- through the command line -------------------------------------------------------------------------------------

def test_cli_sql_prints_rows_and_refusals_exit_2_in_one_line(ws: Ws) -> None:
    from tests.conftest import run_cli

    base = ["--home", str(ws.hub.home), "--as", "alice"]
    r = run_cli(["workspace", "sql", ws.pid, "SELECT BEN_SEX_COD, count(*) AS n FROM IR_BEN_R GROUP BY ALL ORDER BY ALL",
                 *base])
    assert r.code == 0, r.stderr
    assert r.stdout.splitlines() == ["BEN_SEX_COD,n", "1,10", "2,10"]
    r = run_cli(["workspace", "sql", ws.pid, "SELECT PERSON_ID FROM IR_BEN_R", "--format", "json", "--max-rows", "3",
                 *base])
    answer = json.loads(r.stdout)
    assert r.code == 0 and len(answer["rows"]) == 3 and answer["truncated"] is True and answer["columns"] == ["PERSON_ID"]
    for sql in ("SELECT * FROM read_csv('/etc/passwd')", "SELECT no_such_column FROM IR_BEN_R"):
        r = run_cli(["workspace", "sql", ws.pid, sql, *base])
        assert r.code == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stderr.startswith("guichet: ") and "Traceback" not in r.stderr
    r = run_cli(["workspace", "history", ws.pid, "--json", *base])
    runs = json.loads(r.stdout)
    assert r.code == 0 and [x["exit"] for x in runs[-4:]] == [0, 0, 2, 2]
    assert runs[-3]["rows"] == 3 and runs[-1]["code_sha256"] == hashlib.sha256(
        b"SELECT no_such_column FROM IR_BEN_R").hexdigest()


def test_cli_python_returns_what_the_script_prints_and_keeps_its_files(ws: Ws, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    base = ["--home", str(ws.hub.home), "--as", "alice"]
    script = tmp_path / "analysis.py"
    script.write_text("import sys\nfrom guichet.workspace.sandbox_api import connect\n"
                      "n = connect().execute('SELECT count(DISTINCT PERSON_ID) FROM ER_PRS_F').fetchone()[0]\n"
                      "open('persons.txt', 'w').write(str(n))\nprint('persons', n)\nprint('note', file=sys.stderr)\n")
    r = run_cli(["workspace", "python", ws.pid, str(script), *base])
    assert r.code == 0, r.stderr
    assert r.stdout == "persons 18\n" and r.stderr == "note\n"
    assert (workspace_dir(ws.hub, ws.pid) / "outputs" / "persons.txt").read_text() == "18"
    script.write_text("print('partial')\nraise ValueError('boom')\n")
    r = run_cli(["workspace", "python", ws.pid, str(script), *base])
    assert r.code == 2 and r.stdout == "partial\n"
    assert "ValueError: boom" in r.stderr and r.stderr.strip().splitlines()[-1] == \
        "guichet: the script exited with status 1"


def test_without_bubblewrap_no_session_runs_and_the_attempt_is_logged(ws: Ws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_sandbox, "BWRAP", "bwrap-not-installed")
    with pytest.raises(Refused, match="need bubblewrap"):
        ws.sql("SELECT count(*) FROM IR_BEN_R")
    last = ws.runs()[-1]
    assert last.outcome == "failed" and last.exit == 2 and "bubblewrap" in (last.message or "")


def test_a_script_uses_guichet_analysis_on_the_session_connection(ws: Ws) -> None:
    code = ("from guichet.analysis import crosstab\nfrom guichet.workspace.sandbox_api import connect\n"
            "path = crosstab('SELECT PERSON_ID, BEN_SEX_COD FROM IR_BEN_R', 'BEN_SEX_COD', out='sex.csv', "
            "person='PERSON_ID', con=connect())\nprint(open(path).read(), end='')\n")
    r = ws.python(code)
    # persons, not rows: gus has two beneficiary rows
    assert r["stdout"].splitlines() == ["BEN_SEX_COD,count", "1,9", "2,10", "Total,19"], r["stderr"]
    outputs = workspace_dir(ws.hub, ws.pid) / "outputs"
    assert (outputs / "sex.csv").exists() and (outputs / "sex.csv.meta.json").exists()
