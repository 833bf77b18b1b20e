"""The permission matrix of the access workflow: every transition tried by an account of every role, by
another applicant and from the applicant's organisation. The expected answer is written out here from the
issue's rules (not read from the permission table): a refused step raises, is audited, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from guichet.access import services as access
from guichet.actor import Actor
from guichet.errors import Hidden, NotFound, Refused
from guichet.hub import Hub
from guichet.store.models import AuditEvent
from tests.application_support import ACCOUNTS, example, hub_with_lake, prepare

ACTORS = [*ACCOUNTS, "operator"]
# The accounts of the applicant's organisation and the account of the same role elsewhere.
TWIN = {"op.same": "operator", "nina.same": "claire", "auth.same": "arthur"}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, dict[str, Actor]]]:
    root: Path = tmp_path_factory.mktemp("access-matrix")
    hub = hub_with_lake(root)
    actors = prepare(hub, root)
    yield hub, actors
    hub.close()


def _in_state(hub: Hub, a: dict[str, Actor], state: str) -> int:
    app = access.create(hub, a["alice"], content=example()).id
    if state == "draft":
        return app
    access.submit(hub, a["alice"], application_id=app)
    if state == "submitted":
        return app
    if state == "incomplete":
        access.check(hub, a["operator"], application_id=app, complete=False, reason="questions")
        return app
    access.check(hub, a["operator"], application_id=app, complete=True, reason="complete")
    if state == "under_review":
        return app
    access.opinion(hub, a["claire"], application_id=app, outcome="favourable", reason="sound")
    assert state == "opinion"
    return app


# action -> (the state it is tried in, the call, who may do it)
STEPS: dict[str, tuple[str, Callable[[Hub, Actor, int], Any], set[str]]] = {
    "application.submit": ("draft", lambda h, w, i: access.submit(h, w, application_id=i), {"alice"}),
    "application.withdraw": ("under_review", lambda h, w, i: access.withdraw(h, w, application_id=i), {"alice"}),
    "application.answer": ("incomplete", lambda h, w, i: access.answer(h, w, application_id=i, content=example()),
                           {"alice"}),
    "application.check": ("submitted", lambda h, w, i: access.check(h, w, application_id=i, complete=True, reason="ok"),
                          {"operator"}),
    "application.opinion": ("under_review", lambda h, w, i: access.opinion(h, w, application_id=i, outcome="favourable",
                                                                           reason="sound"), {"claire", "marc"}),
    "application.opinion_citizens": ("under_review", lambda h, w, i: access.opinion(
        h, w, application_id=i, outcome="favourable", reason="useful", panel="citizens"), {"paul"}),
    "application.decide": ("opinion", lambda h, w, i: access.decide(h, w, application_id=i, authorise=True, reason="ok"),
                           {"arthur"}),
    "application.extend": ("opinion", lambda h, w, i: access.extend(h, w, application_id=i, reason="more time"),
                           {"arthur"}),
    "application.note": ("under_review", lambda h, w, i: access.note(h, w, application_id=i, section="data",
                                                                     text="why this table"),
                         {"operator", "claire", "marc", "paul", "arthur"}),
}


def _audit(hub: Hub) -> int:
    with hub.store.read() as s:
        return int(s.execute(select(func.count()).select_from(AuditEvent)).scalar_one())


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("who", ACTORS)
def test_every_step_by_every_account(desk: tuple[Hub, dict[str, Actor]], step: str, who: str) -> None:
    hub, a = desk
    state, call, allowed = STEPS[step]
    app = _in_state(hub, a, state)
    before = access.show(hub, a["alice"], application_id=app).to_dict()
    events = _audit(hub)
    if who in allowed:
        call(hub, a[who], app)
        assert _audit(hub) > events
        return
    with pytest.raises((Refused, Hidden, NotFound)) as refused:
        call(hub, a[who], app)
    after = access.show(hub, a["alice"], application_id=app).to_dict()
    assert after == before, f"{step} refused to {who} changed the application"
    assert _audit(hub) == events + 1, "the refusal is not in the audit trail (exactly once)"
    if TWIN.get(who) in allowed:  # the role allows it: only the organisation refuses it
        assert "own organisation" in str(refused.value), str(refused.value)


def test_lapse_is_the_operators(desk: tuple[Hub, dict[str, Actor]]) -> None:
    hub, a = desk
    for who in ACTORS:
        if a[who].roles & {"operator"}:
            assert isinstance(access.lapse(hub, a[who]), list)
        else:
            with pytest.raises(Refused):
                access.lapse(hub, a[who])


def test_decisions_need_the_second_factor(desk: tuple[Hub, dict[str, Actor]]) -> None:
    """Without a current TOTP code (production, or an API token) no check, opinion or decision is taken."""
    from dataclasses import replace

    hub, a = desk
    app = _in_state(hub, a, "submitted")
    weak = {u: replace(actor, strong_auth=False) for u, actor in a.items()}
    with pytest.raises(Refused, match="second-factor"):
        access.check(hub, weak["operator"], application_id=app, complete=True, reason="ok")
    access.check(hub, a["operator"], application_id=app, complete=True, reason="ok")
    with pytest.raises(Refused, match="second-factor"):
        access.opinion(hub, weak["claire"], application_id=app, outcome="favourable", reason="sound")
    access.opinion(hub, a["claire"], application_id=app, outcome="favourable", reason="sound")
    with pytest.raises(Refused, match="second-factor"):
        access.decide(hub, weak["arthur"], application_id=app, authorise=True, reason="ok")
    assert access.show(hub, a["alice"], application_id=app).state == "opinion"
