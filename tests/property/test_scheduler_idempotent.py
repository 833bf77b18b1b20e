"""Whatever the permits, attestations and days, running the scheduler twice for a day has the effect of
running it once: the same database rows and the same outbox files."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.hub import Hub
from guichet.permits import services as permits
from guichet.permits.outbox import outbox_dir
from guichet.permits.tables import Attestation, JobRun, Notification, Permit
from tests.conftest import make_hub
from tests.permit_support import sample_document

BASE = date(2027, 1, 1)
PEOPLE = ("alice", "bruno", "carla")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    h = make_hub(tmp_path_factory.mktemp("scheduler"))
    for name in PEOPLE:
        accounts.add_user(h, system_actor(), username=name, roles=["researcher"], org="Inserm U1018")
    yield h
    h.close()


def _reset(hub: Hub) -> None:
    with hub.store.write() as s:
        for table in (Permit, Attestation, Notification, JobRun):
            s.execute(delete(table))
    shutil.rmtree(outbox_dir(hub.config), ignore_errors=True)


def _state(hub: Hub) -> tuple[Any, ...]:
    with hub.store.read() as s:
        rows = tuple(s.execute(select(Permit.id, Permit.state, Permit.ended_at, Permit.results_due, Permit.delete_by,
                                      Permit.keys_shredded_at.is_not(None)).order_by(Permit.id)).all())
        notes = tuple(s.execute(select(Notification.dedupe, Notification.delivered_at.is_not(None))
                                .order_by(Notification.dedupe)).all())
    files = tuple(sorted(p.name for p in outbox_dir(hub.config).glob("*.eml")))
    return rows, notes, files


permit_ends = st.lists(st.tuples(st.integers(-400, 400), st.sampled_from(PEOPLE)), max_size=4)
attestations = st.lists(st.tuples(st.sampled_from(PEOPLE), st.integers(-60, 60)), max_size=4)
days = st.lists(st.integers(0, 800), min_size=1, max_size=3).map(sorted)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ends=permit_ends, attested=attestations, offsets=days)
def test_running_the_scheduler_twice_is_running_it_once(hub: Hub, ends: list[tuple[int, str]],
                                                        attested: list[tuple[str, int]], offsets: list[int]) -> None:
    _reset(hub)
    now = datetime.now(UTC)
    with hub.store.write() as s:
        for i, (end, owner) in enumerate(ends):
            doc = sample_document()
            doc["id"] = f"P-2027-{i + 1:04d}"
            doc["people"] = [{"name": owner, "role": "principal_investigator", "attested_until": None}]
            until = BASE + timedelta(days=end)
            s.add(Permit(id=doc["id"], application=f"A-{i}", org="Inserm U1018", owner=owner, state="active",
                         revision=1, document=doc, valid_from=until - timedelta(days=365), valid_until=until,
                         extended=False, issued_by="operator", issued_at=now))
        for name, offset in attested:
            s.add(Attestation(username=name, valid_until=BASE + timedelta(days=offset), note=None, attested_by="operator",
                              created_at=now))
    operator = system_actor()
    for offset in offsets:
        day = BASE + timedelta(days=offset)
        permits.run_jobs(hub, operator, today=day)
        once = _state(hub)
        again = permits.run_jobs(hub, operator, today=day)
        assert _state(hub) == once
        assert again.changed == 0
