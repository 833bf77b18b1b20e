"""The event table and a cohort's attrition run inside a workspace session (bubblewrap sandbox, DuckDB with
its configuration locked and external access off) on a real extract: events from the extract's tables,
the attrition table and flowchart written to outputs/ with their sidecars."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from guichet.workspace import session_sandbox, session_services
from guichet.workspace.build import workspace_dir
from tests.workspace_support import CONTENT_2023, Desk, make_desk

pytestmark = pytest.mark.skipif(session_sandbox.shutil.which("bwrap") is None, reason="bubblewrap is not installed")


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Desk, str]]:
    d = make_desk(tmp_path_factory.mktemp("analysis-session"))
    pid = d.permit(CONTENT_2023, "mine")
    d.ok("workspace", "build", pid)
    d.ok("workspace", "release", pid, "--reason", "synthetic test data")
    yield d, pid
    d.hub.close()


def python(desk: Desk, pid: str, code: str) -> dict[str, Any]:
    from guichet.accounts.auth import actor_for

    return session_services.run_python(desk.hub, actor_for(desk.hub, "alice").with_strong_auth(), permit_id=pid,
                                       script=code)


def test_events_and_attrition_in_a_session(desk: tuple[Desk, str]) -> None:
    d, pid = desk
    code = """
from guichet.access.criteria import drug_referential
from guichet.analysis.cohorts import attrition
from guichet.analysis.events import events
from guichet.workspace.sandbox_api import connect
con = events(con=connect(), drugs=dict(drug_referential()))
print(con.execute("SELECT count(*), count(DISTINCT person), count(day) FROM events").fetchone())
out, final = attrition(con, [("women", {"sex": "female"})], index={"event": "dispensing"}, out="attrition.csv")
print(open(out).read(), end="")
"""
    r = python(d, pid, code)
    lines = r["stdout"].splitlines()
    assert lines[0].startswith("(") and lines[1] == "step,count", r["stderr"]
    rows, persons, days = (int(x) for x in lines[0].strip("()").split(","))
    assert 0 < persons <= 19 and days == rows > 0  # every event has its day: the extract's DAYS_SINCE_INDEX
    counts = [int(line.split(",")[1]) for line in lines[2:]]
    assert len(counts) == 2 and counts[0] >= counts[1] > 0, r["stdout"]
    outputs = workspace_dir(d.hub, pid) / "outputs"
    for name in ("attrition.csv", "attrition.csv.meta.json", "attrition.csv.persons.parquet", "attrition.svg",
                 "attrition.svg.meta.json"):
        assert (outputs / name).exists(), name
