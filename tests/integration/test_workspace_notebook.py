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
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from guichet.permits.tables import Attestation
from guichet.workspace import session_lab, session_sandbox, session_services
from guichet.workspace.session_access import SessionFailed
from tests.workspace_support import CONTENT_2023, TODAY, Sessions, make_desk

MISSING = session_lab.notebook_missing()
if MISSING and os.environ.get("GUICHET_REQUIRE_ALL") == "1":
    raise RuntimeError(f"GUICHET_REQUIRE_ALL=1: {MISSING}")
pytestmark = [
    pytest.mark.skipif(session_sandbox.shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
    pytest.mark.skipif(MISSING is not None, reason=str(MISSING)),
]


def _notebook(*cells: str) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [{"cell_type": "code", "id": uuid.uuid4().hex[:8], "metadata": {}, "execution_count": None,
                   "outputs": [], "source": c} for c in cells]})


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
