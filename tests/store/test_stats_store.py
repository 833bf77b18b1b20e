"""Statistics requests on both metadata stores (migration 0020): a request stored with its JSON specification
and answer, dates and clocks read back, assessed, listed and shown; the public registry reads a released one."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from guichet.accounts import services as accounts
from guichet.accounts.auth import actor_for
from guichet.actor import Actor, system_actor
from guichet.hub import Hub
from guichet.stats import services
from guichet.stats.tables import StatsRequest

pytestmark = pytest.mark.store
SPEC = json.loads((Path(__file__).resolve().parents[2] / "examples" / "statistics-request.json").read_text("utf-8"))


def test_stats_request_round_trip(store_hub: Hub) -> None:
    for u, role, org in (("alice", "researcher", "Lab A"), ("bob", "researcher", "Lab B")):
        accounts.add_user(store_hub, system_actor(), username=u, roles=[role], org=org)
    now = datetime.now(UTC)
    with store_hub.store.write() as s:
        s.add(StatsRequest(id="S-2026-0001", requester="alice", org="Lab A", title=SPEC["title"], spec=SPEC,
                           state="submitted", received_at=now, assessment_due=date(2027, 3, 8), answer={}))
        s.add(StatsRequest(id="S-2026-0002", requester="bob", org="Lab B", title="released one", spec=SPEC,
                           state="released", received_at=now, assessment_due=date(2027, 3, 8), released_at=now,
                           reviewed_by="olga", answer={"status": "released", "files": [], "tables": []}))
    alice, operator = actor_for(store_hub, "alice"), actor_for(store_hub, store_hub.config.operator)
    shown = services.show(store_hub, alice, request="S-2026-0001")
    assert shown["spec"] == SPEC and shown["assessment_due"] == "2027-03-08" and shown["state"] == "submitted"
    out = services.assess(store_hub, operator, request="S-2026-0001", accept=True, reason="complete")
    assert out["state"] == "accepted" and out["answer_due"] is not None
    assert [r["id"] for r in services.listing(store_hub, alice)] == ["S-2026-0001"]
    assert [r["id"] for r in services.listing(store_hub, operator, state="accepted")] == ["S-2026-0001"]
    public = services.registry(store_hub, Actor("anonymous", frozenset()))
    assert [(e["request"], e["checkers"]) for e in public] == [("S-2026-0002", 1)]
