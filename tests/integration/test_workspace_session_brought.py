"""Workspace sessions and what the permit brings to them: datasets brought with ``workspace bring`` are views
in a session (SQL and Python), decrypted like the extract's tables, read-only, the project's own only; a
permit not yet in force is refused; a script running when access ends is killed at the watchdog's next check.

One hub (the handcrafted lake, two permits: ``pid`` released for sessions, ``other`` another project with a
brought dataset of its own) serves the module.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from guichet.errors import Refused
from guichet.permits.tables import Permit
from guichet.workspace import session_sandbox, session_services
from guichet.workspace.session_access import SessionFailed
from tests.workspace_support import CONTENT_2023, TODAY, Sessions, make_desk

pytestmark = pytest.mark.skipif(session_sandbox.shutil.which("bwrap") is None, reason="bubblewrap is not installed")


class Ws(Sessions):
    def python(self, code: str, who: str = "alice") -> dict[str, Any]:
        """The script's answer; a failed script fails the test with its own output."""
        try:
            return super().python(code, who)
        except SessionFailed as exc:
            raise AssertionError(f"{exc.message}\n{exc.stdout.decode()}\n{exc.stderr.decode()}") from None


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ws]:
    root = tmp_path_factory.mktemp("brought")
    desk = make_desk(root)
    other = desk.permit(CONTENT_2023, "other")
    desk.ok("workspace", "build", other)
    pid = desk.permit(CONTENT_2023, "mine")
    desk.ok("workspace", "build", pid)
    desk.ok("workspace", "release", pid, "--reason", "synthetic test data")
    strata = root / "strata.csv"
    strata.write_text("stratum,weight\n" + "".join(f"s{i},{i / 10}\n" for i in range(20)), encoding="utf-8")
    desk.ok("workspace", "bring", pid, str(strata), "--name", "strata", who="alice")
    theirs = root / "theirs.csv"
    theirs.write_text("code,score\n" + "".join(f"c{i},{i}\n" for i in range(7)), encoding="utf-8")
    desk.ok("workspace", "bring", other, str(theirs), "--name", "theirs", who="alice")
    yield Ws(desk, pid, other)
    desk.hub.close()


def test_a_brought_csv_is_a_view_for_workspace_sql(ws: Ws) -> None:
    got = ws.sql("SELECT count(*) AS n, round(sum(weight), 1) AS w FROM strata")
    assert got["columns"] == ["n", "w"] and got["rows"] == [[20, 19.0]]
    # joined with the extract's tables in one query
    got = ws.sql("SELECT count(*) FROM IR_BEN_R CROSS JOIN (SELECT * FROM strata WHERE stratum = 's3')")
    assert got["rows"] == [[20]]
    # the command line too
    out = ws.desk.ok("workspace", "sql", ws.pid, "SELECT max(stratum) AS m FROM strata", who="alice")
    assert out["rows"] == [["s9"]]


def test_a_brought_dataset_is_a_view_from_a_python_script(ws: Ws) -> None:
    script = """
import os
from guichet.workspace.sandbox_api import connect, tables
con = connect()
t = tables()
print(sorted(t))
print(t["strata"])
print(con.execute("SELECT count(*) FROM strata WHERE weight > 1").fetchone()[0])
for sql in ("DELETE FROM strata", "INSERT INTO strata VALUES ('x', 1)", "UPDATE strata SET weight = 0"):
    try:
        con.execute(sql)
        print("CHANGED", sql)
    except Exception as e:
        print("refused", type(e).__name__)
print(con.execute("SELECT count(*) FROM strata").fetchone()[0])
try:
    print(sorted(os.listdir("/workspace/brought")))
except OSError:
    print("unlisted")
try:
    open("/workspace/brought/new", "w")
    print("WROTE")
except OSError as e:
    print("readonly", e.errno)
try:
    print(open("/workspace/brought/strata.parquet", "rb").read(4))
except OSError:
    print("unreadable")
"""
    out = ws.python(script)
    lines = out["stdout"].splitlines()
    assert lines[0] == str(sorted(["ER_PHA_F", "ER_PRS_F", "IR_BEN_R", "strata"]))
    assert lines[1] == "['stratum', 'weight']"
    assert lines[2] == "9"  # weights 1.1 .. 1.9
    assert "CHANGED" not in out["stdout"] and all(line.startswith("refused") for line in lines[3:6])
    assert lines[6] == "20"  # read-only: nothing removed
    assert lines[7] in ("['strata.parquet']", "unlisted")  # this workspace's brought files only
    assert lines[8].startswith("readonly") and "WROTE" not in out["stdout"]
    assert lines[9] in ("b'PARE'", "unreadable")  # encrypted on disk (or not even readable by the session's user)
    # a later session sees the dataset whole
    assert ws.sql("SELECT count(*) FROM strata")["rows"] == [[20]]


def test_the_keys_never_reach_the_researchers_process(ws: Ws) -> None:
    """The brought dataset's key travels the keys' pipe to the decrypting child only: the researcher's process
    has no descriptor 5 open and no key bytes in its objects."""
    from guichet.custodian import custodian_for
    from guichet.workspace.build import load_manifest

    manifest = load_manifest(ws.hub, ws.pid)
    assert manifest is not None
    meta = manifest["brought"]["strata"]
    key = custodian_for(ws.hub.config, caller="workspace").unwrap(meta["key_id"], meta["wrapped"])
    script = f"""
import gc, os
key = bytes.fromhex({key.hex()!r})
key_b64 = __import__("base64").b64encode(key)
print(sorted(int(f) for f in os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else "no-proc")
found = 0
for o in gc.get_objects():
    if o is key or o is key_b64:
        continue
    if isinstance(o, (bytes, bytearray, str)):
        b = o.encode("latin-1", "ignore") if isinstance(o, str) else bytes(o)
        if key in b or key_b64 in b:
            found += 1
    elif isinstance(o, dict):
        for v in o.values():
            if isinstance(v, (bytes, str)) and v is not key and v is not key_b64:
                vb = v.encode("latin-1", "ignore") if isinstance(v, str) else v
                if key in vb or key_b64 in vb:
                    found += 1
print("found", found)
"""
    out = ws.python(script)
    assert "found 0" in out["stdout"], out["stdout"]
    assert "5]" not in out["stdout"].splitlines()[0] and ", 5," not in out["stdout"].splitlines()[0]


def test_another_projects_brought_dataset_is_not_visible(ws: Ws) -> None:
    with pytest.raises(Refused, match="theirs is not one of the extract's views") as err:
        ws.sql("SELECT count(*) FROM theirs")
    assert "\n" not in err.value.message
    script = """
import os
from guichet.workspace.sandbox_api import connect, tables
print("theirs" in tables())
try:
    connect().execute("SELECT count(*) FROM theirs").fetchall()
    print("READ")
except Exception as e:
    print("refused", type(e).__name__)
print(os.listdir("/workspace"))
"""
    out = ws.python(script)
    lines = out["stdout"].splitlines()
    assert lines[0] == "False" and lines[1].startswith("refused") and "READ" not in out["stdout"]
    assert sorted(eval(lines[2])) == ["brought", "extract", "outputs"]  # noqa: S307 - a list we printed
    # and the other project's own session sees its dataset, not ours
    ws.desk.ok("workspace", "release", ws.other, "--reason", "synthetic test data")
    other = session_services.run_sql(ws.hub, ws.actor("alice"), permit_id=ws.other, sql="SELECT count(*) FROM theirs")
    assert other["rows"] == [[7]]
    with pytest.raises(Refused, match="strata is not one of the extract's views"):
        session_services.run_sql(ws.hub, ws.actor("alice"), permit_id=ws.other, sql="SELECT count(*) FROM strata")


def test_the_page_lists_the_brought_datasets(ws: Ws) -> None:
    shown = session_services.show(ws.hub, ws.actor("alice"), permit_id=ws.pid)
    assert list(shown["brought"]) == ["strata"]
    assert shown["brought"]["strata"]["columns"] == ["stratum", "weight"]
    assert shown["brought"]["strata"]["brought_by"] == "alice"


def test_a_brought_name_that_is_an_extract_tables_is_not_a_view() -> None:
    manifest = {"files": {"IR_BEN_R": {}}, "brought": {"ir_ben_r": {"path": "ir_ben_r.parquet"},
                                                       "strata": {"path": "strata.parquet"}}}
    assert list(session_services._brought_views(manifest)) == ["strata"]



# --- a permit not yet in force: its state says so --------------------------------------------------------------

def _edit_permit(ws: Ws, **changes: Any) -> dict[str, Any]:
    with ws.hub.store.write() as s:
        p = s.get(Permit, ws.pid)
        assert p is not None
        saved = {k: getattr(p, k) for k in changes}
        for k, v in changes.items():
            setattr(p, k, v)
    return saved


def test_a_permit_before_its_first_day_is_pending_everywhere(ws: Ws) -> None:
    from guichet.permits.state import effective_state, in_force, permit_scope, person_has_access
    from guichet.workspace.build import read_brought, read_extract

    saved = _edit_permit(ws, valid_from=TODAY + timedelta(days=3))
    try:
        with ws.hub.store.read() as s:
            p = s.get(Permit, ws.pid)
            assert p is not None
            assert effective_state(s, p, TODAY) == "pending"
            assert not in_force(p, TODAY) and in_force(p, TODAY + timedelta(days=3))
            assert effective_state(s, p, TODAY + timedelta(days=3)) == "active"
            assert not person_has_access(s, p, "alice", TODAY)  # the airlock's check at submit
            assert permit_scope(s, ws.pid, TODAY)["people"] == []
        with pytest.raises(Refused, match="not in force yet"):
            read_extract(ws.hub, ws.pid, "alice")
        with pytest.raises(Refused, match="not in force yet"):
            read_brought(ws.hub, ws.pid, "strata", "alice")
        with pytest.raises(Refused, match="not in force yet"):
            ws.sql("SELECT count(*) FROM strata")
        assert session_services.show(ws.hub, ws.actor("alice"), permit_id=ws.pid)["permit"]["state"] == "pending"
        listed = ws.desk.ok("permit", "list", "--state", "pending")
        assert [p["id"] for p in (listed["permits"] if isinstance(listed, dict) else listed)] == [ws.pid]
    finally:
        _edit_permit(ws, **saved)
    assert read_brought(ws.hub, ws.pid, "strata", "alice").num_rows == 20


# --- access ends while a script runs: the watchdog's next check kills it ---------------------------------------

def test_a_running_script_is_killed_when_the_permit_is_revoked(ws: Ws) -> None:
    from guichet.workspace.session_access import outputs_dir

    marker = outputs_dir(ws.hub, ws.pid) / "started.txt"
    marker.unlink(missing_ok=True)
    props = ws.hub.config.properties
    props["workspace_session_recheck_seconds"] = 0.2
    props["workspace_session_python_seconds"] = 120  # far beyond the test: only the recheck can stop it
    result: dict[str, BaseException | dict[str, Any]] = {}

    def go() -> None:
        try:
            result["out"] = session_services.run_python(
                ws.hub, ws.actor("alice"), permit_id=ws.pid,
                script="import time\nopen('started.txt', 'w').write('yes')\nprint('working', flush=True)\n"
                       "time.sleep(100)\nprint('FINISHED')\n")
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            result["out"] = exc

    before = len(ws.runs())
    worker = threading.Thread(target=go, daemon=True)
    try:
        worker.start()
        for _ in range(600):  # the sandbox starts (a second or so); give up after a minute
            if marker.exists() or not worker.is_alive():
                break
            time.sleep(0.1)
        assert marker.exists(), f"the script did not start: {result.get('out')!r}"
        saved = _edit_permit(ws, state="revoked")
        try:
            worker.join(timeout=100)
            assert not worker.is_alive(), "the script ran on after its permit was revoked"
        finally:
            _edit_permit(ws, **saved)
    finally:
        del props["workspace_session_recheck_seconds"], props["workspace_session_python_seconds"]
    err = result["out"]
    assert isinstance(err, SessionFailed), err
    assert err.message.startswith("access ended") and "is revoked" in err.message and "\n" not in err.message
    assert b"working" in err.stdout and b"FINISHED" not in err.stdout
    runs = ws.runs()
    assert len(runs) == before + 1
    assert runs[-1].outcome == "killed" and runs[-1].exit == 2 and runs[-1].kind == "python"
    assert (runs[-1].message or "").startswith("access ended")
    # open again: the next call runs
    assert ws.sql("SELECT count(*) FROM strata")["rows"] == [[20]]


def test_the_watchdog_does_not_kill_while_access_stays_open(ws: Ws) -> None:
    ws.hub.config.properties["workspace_session_recheck_seconds"] = 0.1
    try:
        out = ws.python("import time\ntime.sleep(1)\nprint('done')\n")
    finally:
        del ws.hub.config.properties["workspace_session_recheck_seconds"]
    assert out["stdout"] == "done\n" and ws.runs()[-1].outcome == "ok"


def test_memory_is_limited_per_process_and_the_peak_is_recorded(ws: Ws) -> None:
    """Address space and data limits (``workspace_session_memory_mb``) with DuckDB's memory limit within
    them; a script allocating beyond them fails with one line; the peak resident memory of the session — a
    subprocess's included — is in the run's log."""
    props = ws.hub.config.properties
    props.update(workspace_session_memory_mb=2048, workspace_session_duckdb_memory_mb=4096)
    try:
        out = ws.python("""
import resource, subprocess, sys
from guichet.workspace.sandbox_api import connect
print(resource.getrlimit(resource.RLIMIT_AS)[0] >> 20, resource.getrlimit(resource.RLIMIT_DATA)[0] >> 20)
print(connect().execute("SELECT current_setting('memory_limit')").fetchone()[0])
subprocess.run([sys.executable, "-c", "b = bytearray(300 << 20); b[::4096] = b'x' * len(b[::4096])"], check=True)
""")
        lines = out["stdout"].splitlines()
        assert lines[0] == "2048 2048"
        assert lines[1] == "1.0 GiB"  # at most half the address space, whatever was asked
        run = ws.runs()[-1]
        assert run.outcome == "ok" and run.peak_kb >= 300 * 1024  # the subprocess's 300 MB resident
        with pytest.raises(SessionFailed) as err:
            session_services.run_python(ws.hub, ws.actor("alice"), permit_id=ws.pid,
                                        script="b = bytearray(3 << 30)\nprint('ALLOCATED')\n")
    finally:
        del props["workspace_session_memory_mb"], props["workspace_session_duckdb_memory_mb"]
    msg = err.value.message
    assert msg == ("the script exited with status 1: out of memory: the session's limit is 2048 MB of address "
                   "space per process (workspace_session_memory_mb)"), msg
    assert b"ALLOCATED" not in err.value.stdout and b"Traceback" not in err.value.stderr
    run = ws.runs()[-1]
    assert run.outcome == "failed" and run.exit == 2 and run.peak_kb > 0
