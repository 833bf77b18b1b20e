"""Complaints lodged side by side on SQLite and PostgreSQL: each gets its own reference, none is lost."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import select

from guichet.actor import Actor
from guichet.hub import Hub
from guichet.store.models import AuditEvent
from guichet.transparency import services
from guichet.transparency.tables import Complaint

THREADS, EACH = 6, 4


def test_concurrent_complaints_get_distinct_references(store_hub: Hub) -> None:
    hub = store_hub
    public = Actor(username="anonymous", roles=frozenset({"public"}), channel="web")

    def lodge(worker: int) -> list[str]:
        return [services.submit_complaint(hub, public, topic="other", text=f"worker {worker} complaint {i}")
                for i in range(EACH)]

    with ThreadPoolExecutor(THREADS) as pool:
        references = [r for batch in pool.map(lodge, range(THREADS)) for r in batch]

    year = datetime.now(UTC).year
    assert all(re.fullmatch(rf"C-{year}-\d{{4}}", r) for r in references)
    assert len(set(references)) == THREADS * EACH
    with hub.store.read() as s:
        stored = s.execute(select(Complaint.reference, Complaint.text)).all()
        events = s.execute(select(AuditEvent.object).where(AuditEvent.action == "complaint.submit",
                                                           AuditEvent.outcome == "ok")).scalars().all()
    assert sorted(r for r, _ in stored) == sorted(references)
    # numbered 1..N without a gap, every text kept, one audit event each
    assert sorted(int(r.rsplit("-", 1)[1]) for r in references) == list(range(1, THREADS * EACH + 1))
    assert {t for _, t in stored} == {f"worker {w} complaint {i}" for w in range(THREADS) for i in range(EACH)}
    assert sorted(events) == sorted(f"complaint:{r}" for r in references)
