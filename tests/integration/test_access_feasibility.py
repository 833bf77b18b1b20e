"""``guichet application feasibility ID``: the application's criteria counted by the feasibility service —
suppressed below 11, audited under the application with the criteria's fingerprint; by the applicant only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from guichet.access import criteria as cr
from guichet.store.models import AuditEvent
from tests.access_support import EXAMPLE, example, hub_with_lake, prepare
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def test_an_applications_criteria_are_counted_and_audited(tmp_path: Path) -> None:
    hub = hub_with_lake(tmp_path)
    try:
        prepare(hub, tmp_path)
        home = str(hub.home)
        created = run_cli(["application", "create", "--file", str(EXAMPLE), "--as", "alice", "--home", home, "--json"])
        assert created.code == 0, created.stderr
        app_id = str(json.loads(created.stdout)["id"])
        r = run_cli(["application", "feasibility", app_id, "--as", "alice", "--home", home, "--json"])
        assert r.code == 0, r.stderr
        # adults on 2023-01-01 with an antidiabetic dispensed in 2023: ana alone in the handcrafted lake
        assert cr.count_persons(hub, example()["criteria"]) == 1
        assert json.loads(r.stdout) == {"persons": None, "shown": "fewer than 11"}
        for other in ("claire", "bob"):  # a reviewer (a draft is the applicant's), another applicant
            assert run_cli(["application", "feasibility", app_id, "--as", other, "--home", home]).code == 2
        with hub.store.read() as s:
            events = s.execute(select(AuditEvent).where(AuditEvent.action == "application.feasibility")
                               .order_by(AuditEvent.seq)).scalars().all()
            seen = [(e.actor, e.outcome, e.object, json.loads(e.details).get("criteria")) for e in events]
        fingerprint = cr.fingerprint(cr.canonical(example()["criteria"]))
        assert seen == [("alice", "ok", f"application:{app_id}", fingerprint)]  # the others never reached a count
    finally:
        hub.close()
