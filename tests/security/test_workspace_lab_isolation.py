"""A workspace's JupyterLab is reachable by nobody else: a researcher not named on the permit cannot start one
(refused, logged), the lab's socket lives in a folder only the session's user and the hub reach, another
project's session — a script or that project's own lab — sees neither that folder nor the socket, nor this
project's files. (The portal does not proxy labs: there is no route through which another person could reach
it — ``docs/workspace.md``.)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import pytest

from guichet.errors import Refused
from tests.notebook_support import SKIPS, Lab
from tests.workspace_support import CONTENT_2023, Sessions, make_desk

pytestmark = SKIPS


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sessions]:
    desk = make_desk(tmp_path_factory.mktemp("labiso"))
    other = desk.permit(CONTENT_2023, "other")
    pid = desk.permit(CONTENT_2023, "mine")
    for p in (pid, other):
        desk.ok("workspace", "build", p)
        desk.ok("workspace", "release", p, "--reason", "synthetic test data")
    desk.hub.config.properties["workspace_session_recheck_seconds"] = 0.5
    yield Sessions(desk, pid, other)
    desk.hub.close()


def test_a_person_not_named_on_the_permit_cannot_start_its_lab(ws: Sessions) -> None:
    from guichet.workspace import session_services

    with pytest.raises(Refused, match="bob is not named on permit"):
        session_services.lab(ws.hub, ws.actor("bob"), permit_id=ws.pid)
    run = ws.runs()[-1]
    assert run.kind == "lab" and run.who == "bob" and run.outcome == "refused"
    r = ws.desk.run("workspace", "notebook", ws.pid, who="bob")
    assert r.code == 2 and "not named on permit" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_another_projects_sessions_cannot_reach_the_lab(ws: Sessions) -> None:
    mine = Lab(ws.hub, ws.actor("alice"), ws.pid).start()
    theirs: Lab | None = None
    try:
        assert mine.execute("open('mine.txt', 'w').write('secret-ish')")["error"] is None
        folder, sock = mine.folder, mine.folder / "lab.sock"
        st = os.lstat(folder)
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid != 0  # the session's user's (and root's) only
        assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o600
        probe = f"""
import os, socket
for path in ({str(sock)!r}, {str(folder)!r}, "/workspace/lab/lab.sock"):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        print("REACHED", path)
    except OSError as e:
        print("refused", type(e).__name__)
print(sorted(os.listdir("/workspace/outputs")))
"""
        # a script of the other project (no lab folder bound at all)
        from guichet.workspace import session_services

        out = session_services.run_python(ws.hub, ws.actor("alice"), permit_id=ws.other, script=probe)
        assert "REACHED" not in out["stdout"] and out["stdout"].count("refused") == 3
        assert "mine.txt" not in out["stdout"]
        # the other project's own lab: its own socket only
        theirs = Lab(ws.hub, ws.actor("alice"), ws.other).start()
        assert theirs.folder != folder
        got = theirs.execute(probe)
        assert got["error"] is None
        lines = got["text"].splitlines()
        assert lines[0] == "refused FileNotFoundError" and lines[1] == "refused FileNotFoundError"
        assert lines[2] == "REACHED /workspace/lab/lab.sock"  # its own
        assert "mine.txt" not in lines[3]
        # this lab's token does not open the other one
        assert theirs.request("GET", "api/status", token=mine.token)[0] in (401, 403)
    finally:
        if theirs is not None:
            theirs.stop()
        mine.stop()
