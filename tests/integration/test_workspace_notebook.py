"""JupyterLab and notebooks in a workspace session (``guichet[notebook]``): the lab runs inside the same
bubblewrap sandbox as SQL and Python runs, answers on its Unix socket only (no TCP port, in or out of the
sandbox), its kernels read the extract through ``sandbox_api.connect()`` and cannot reach the network or
files outside the workspace; the watchdog stops it when the permit is suspended, the idle check when nobody
uses it; a notebook executed headless is kept, executed, in ``outputs/``.

Needs bubblewrap and the notebook extra; without the extra the tests skip with the reason, unless
GUICHET_REQUIRE_ALL=1 (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from guichet.permits.tables import Attestation
from guichet.workspace import session_services
from guichet.workspace.session_access import SessionFailed
from tests.notebook_support import SKIPS, Lab, sandbox_sockets
from tests.notebook_support import notebook as _notebook
from tests.workspace_support import CONTENT_2023, TODAY, Sessions, make_desk

pytestmark = SKIPS


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sessions]:
    root = tmp_path_factory.mktemp("nb")
    desk = make_desk(root)
    other = desk.permit(CONTENT_2023, "other")
    pid = desk.permit(CONTENT_2023, "mine")
    desk.ok("workspace", "build", pid)
    desk.ok("workspace", "release", pid, "--reason", "synthetic test data")
    yield Sessions(desk, pid, other)
    desk.hub.close()


READ = "from guichet.workspace.sandbox_api import connect, tables\n" \
       "print(sorted(tables()), connect().execute('SELECT count(*) FROM IR_BEN_R').fetchone()[0])"


def test_a_notebook_runs_headless_and_stays_in_the_workspace(ws: Sessions) -> None:
    text = _notebook(READ, "open('from_nb.txt', 'w').write('kept')\nprint(open('from_nb.txt').read())")
    out = session_services.run_notebook(ws.hub, ws.actor("alice"), permit_id=ws.pid, notebook=text, name="study.ipynb")
    assert out["output"] == "outputs/study.executed.ipynb"
    outputs = ws.hub.home / "workspaces" / ws.pid / "outputs"
    nb = json.loads((outputs / "study.executed.ipynb").read_text())
    texts = ["".join(o.get("text", "")) for c in nb["cells"] for o in c["outputs"]]
    assert texts[0].strip() == "['ER_PHA_F', 'ER_PRS_F', 'IR_BEN_R'] 20"
    assert texts[1].strip() == "kept" and (outputs / "from_nb.txt").read_text() == "kept"
    # nothing of Jupyter's or IPython's own state lands in the workspace
    assert not {".ipython", ".jupyter", ".local", ".cache"} & {p.name for p in outputs.iterdir()}
    run = ws.runs()[-1]
    assert run.kind == "notebook" and run.outcome == "ok" and run.peak_kb > 0


def test_a_failing_cell_exits_in_one_line_and_the_notebook_is_kept(ws: Sessions) -> None:
    text = _notebook("x = 1", "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)", "print('after')")
    with pytest.raises(SessionFailed) as err:
        session_services.run_notebook(ws.hub, ws.actor("alice"), permit_id=ws.pid, notebook=text, name="net")
    assert err.value.message.startswith("the notebook failed: cell 2 failed: ") and "\n" not in err.value.message
    kept = json.loads((ws.hub.home / "workspaces" / ws.pid / "outputs" / "net.executed.ipynb").read_text())
    assert kept["cells"][1]["outputs"][0]["output_type"] == "error"
    assert kept["cells"][2]["outputs"] == []  # the run stopped at the failure
    assert ws.runs()[-1].outcome == "failed"


def test_notebook_run_from_the_command_line(ws: Sessions, tmp_path: Path) -> None:
    path = tmp_path / "cli.ipynb"
    path.write_text(_notebook("print(6 * 7)"), encoding="utf-8")
    out = ws.desk.ok("workspace", "notebook", "run", ws.pid, str(path), who="alice")
    assert out["output"] == "outputs/cli.executed.ipynb"
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json", encoding="utf-8")
    r = ws.desk.run("workspace", "notebook", "run", ws.pid, str(bad), who="alice")
    assert r.code == 2 and r.stderr.strip().endswith("notebook: not a Jupyter notebook (invalid JSON)")
    assert len(r.stderr.strip().splitlines()) == 1


def test_the_lab_answers_on_its_socket_only_and_its_kernels_read_the_extract(ws: Sessions) -> None:
    ws.hub.config.properties["workspace_session_recheck_seconds"] = 0.5
    lab = Lab(ws.hub, ws.actor("alice"), ws.pid).start()
    try:
        sock = lab.folder / "lab.sock"
        st = os.lstat(sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        assert stat.S_IMODE(os.lstat(lab.folder).st_mode) == 0o700
        assert lab.request("GET", "api/status")[0] in (401, 403)  # no token, no answer
        assert lab.request("GET", "api/status", token="wrong")[0] in (401, 403)
        assert lab.get("api/status")["kernels"] == 0
        # JupyterLab's page and its code are served (from the runtime bound read-only)
        status, page = lab.request("GET", "lab", lab.token)
        assert status == 200 and b"jupyter-config-data" in page
        script = re.search(rb'src="/workspaces/[^/]+/lab/(static/lab/main\.[^"]+)"', page)
        assert script is not None and lab.request("GET", script.group(1).decode(), lab.token)[0] == 200
        # a kernel reads the extract as a script does
        out = lab.execute(READ)
        assert out["error"] is None and out["text"].strip() == "['ER_PHA_F', 'ER_PRS_F', 'IR_BEN_R'] 20"
        # no network: no socket but Unix-domain ones
        out = lab.execute("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)")
        assert out["error"] is not None and "Errno 97" in out["error"]
        out = lab.execute("import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 8888))\ns.listen()")
        assert out["error"] is not None
        # nothing outside the workspace
        hub_home = str(ws.hub.home)
        for path in ("/etc/passwd", "/home", hub_home, hub_home + "/workspaces", "/proc/self/environ"):
            out = lab.execute(f"import os\nprint(os.listdir({path!r}) if os.path.isdir({path!r}) "
                              f"else open({path!r}).read()[:20])")
            assert out["error"] is not None and out["error"].startswith(("FileNotFoundError", "PermissionError")), path
        out = lab.execute("open('/workspace/extract/x', 'w')")
        assert out["error"] is not None and out["error"].startswith(("OSError", "PermissionError"))
        # files written stay in the workspace's outputs/
        out = lab.execute("open('from_lab.txt', 'w').write('in the workspace')")
        assert out["error"] is None
        outputs = ws.hub.home / "workspaces" / ws.pid / "outputs"
        assert (outputs / "from_lab.txt").read_text() == "in the workspace"
        # a notebook saved from the lab, and its checkpoint: the notebook in outputs/, the checkpoint not
        notebook = {"type": "notebook", "format": "json", "content": {
            "cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}}
        assert lab.request("PUT", "api/contents/saved.ipynb", lab.token, notebook)[0] in (200, 201)
        assert lab.request("POST", "api/contents/saved.ipynb/checkpoints", lab.token)[0] == 201
        assert (outputs / "saved.ipynb").is_file()
        assert not [p for p in outputs.rglob("*") if "checkpoint" in p.name]
        assert lab.get("api/status")["kernels"] == 1
        # no TCP or UDP socket in the whole sandbox (the server, its kernels); the lab's Unix socket
        sockets = sandbox_sockets(os.getpid())
        assert sockets["inet"] == []
        assert "/workspace/lab/lab.sock" in sockets["unix"]
        # a second lab of the same person on the same permit is refused while this one runs
        with pytest.raises(Exception, match="already running"):
            session_services.lab(ws.hub, ws.actor("alice"), permit_id=ws.pid)
    finally:
        result = lab.stop()
        del ws.hub.config.properties["workspace_session_recheck_seconds"]
    assert result["outcome"] == "stopped" and result["message"] == "stopped by its user", result
    assert not (lab.folder / "lab.sock").exists() and not (lab.folder / "lab.json").exists()
    runs = [r for r in ws.runs() if r.kind == "lab"]
    assert runs[-1].outcome == "refused"  # the second start, logged
    runs = runs[:-1]
    assert runs[-1].outcome == "stopped" and runs[-1].exit == 0 and runs[-1].seconds > 0
    assert runs[-1].peak_kb > 50 * 1024 and runs[-1].cpu_s > 0  # a graceful stop: the launcher reported
    from guichet.store.models import AuditEvent

    with ws.hub.store.read() as s:
        events = [e for e in s.execute(select(AuditEvent).where(AuditEvent.action == "workspace.lab")).scalars()]
    details = [json.loads(e.details) for e in events if e.outcome == "ok"]
    assert {"event": "started", "run": runs[-1].id} in details
    assert any(d.get("event") == "stopped" and d.get("run") == runs[-1].id for d in details)


def test_the_watchdog_stops_the_lab_when_the_permit_is_suspended(ws: Sessions) -> None:
    props = ws.hub.config.properties
    props["workspace_session_recheck_seconds"] = 0.3
    lab = Lab(ws.hub, ws.actor("alice"), ws.pid)
    try:
        lab.start()
        assert lab.execute("print('alive')")["text"] == "alive\n"
        with ws.hub.store.write() as s:  # no named person holds a valid attestation: the permit is suspended
            saved = {a.id: a.valid_until for a in s.execute(select(Attestation)).scalars()}
            s.execute(update(Attestation).values(valid_until=TODAY - timedelta(days=1)))
        try:
            err = lab.wait(timeout=60)
        finally:
            with ws.hub.store.write() as s:
                for a in s.execute(select(Attestation)).scalars():
                    a.valid_until = saved[a.id]
    finally:
        lab.stop()
        del props["workspace_session_recheck_seconds"]
    assert isinstance(err, SessionFailed), err
    assert err.message.startswith("access ended: the lab was stopped") and "suspended" in err.message
    assert "\n" not in err.message
    assert not (lab.folder / "lab.sock").exists()
    run = [r for r in ws.runs() if r.kind == "lab"][-1]
    assert run.outcome == "killed" and run.exit == 2


def test_an_idle_lab_stops(ws: Sessions) -> None:
    props = ws.hub.config.properties
    props.update(workspace_session_recheck_seconds=0.5, workspace_session_lab_idle_seconds=3)
    started = time.monotonic()
    try:
        lab = Lab(ws.hub, ws.actor("alice"), ws.pid).start()
        result = lab.wait(timeout=90)
    finally:
        del props["workspace_session_recheck_seconds"], props["workspace_session_lab_idle_seconds"]
    assert result["outcome"] == "stopped" and result["message"] == "the lab was stopped: idle for 3 s", result
    assert time.monotonic() - started < 90
