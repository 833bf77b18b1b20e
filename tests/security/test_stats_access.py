"""Statistics requests are their requester's: another organisation's researcher is answered "not found" for
reading one and refused (audited) for acting on one; wrong roles are refused and audited; separation of duties
holds (an operator of the requester's organisation does not assess it); identifiers typed in any free-text
field of a specification or a reason are refused before anything is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from guichet.store.models import AuditEvent
from tests.criteria_support import nir
from tests.stats_support import StatsDesk, make_desk, spec

pytestmark = pytest.mark.security


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StatsDesk]:
    d = make_desk(tmp_path_factory.mktemp("stats-sec"))
    yield d
    d.hub.close()


def _refusals(desk: StatsDesk, action: str, actor: str) -> int:
    with desk.hub.store.read() as s:
        return len(list(s.execute(select(AuditEvent).where(AuditEvent.action == action, AuditEvent.actor == actor,
                                                            AuditEvent.outcome == "refused")).scalars()))


def test_another_organisations_researcher_cannot_see_or_act_on_a_request(desk: StatsDesk) -> None:
    rid = desk.request(spec([{"name": "everyone", "kind": "count"}]), name="mine")
    before = _refusals(desk, "stats.show", "bob")
    r = desk.run("stats", "show", rid, who="bob")  # bob: a researcher of another organisation
    assert r.code == 2 and f"no statistics request {rid}" in r.stderr
    assert _refusals(desk, "stats.show", "bob") == before + 1  # audited as a refusal, answered as not found
    assert rid not in {x["id"] for x in desk.ok("stats", "list", who="bob")}
    assert rid in {x["id"] for x in desk.ok("stats", "list", who="alice")}
    for args in (("assess", rid, "--accept", "--reason", "fine by me"), ("answer", rid),
                 ("review", rid, "--approve", "--reason", "fine by me")):
        before = _refusals(desk, f"stats.{args[0]}", "bob")
        out = desk.run("stats", *args, who="bob")
        assert out.code == 2 and "needs the role" in out.stderr
        assert _refusals(desk, f"stats.{args[0]}", "bob") == before + 1
    # released, its file is the requester's: bob is answered "not found" (and the refusal audited)
    desk.ok("stats", "assess", rid, "--accept", "--reason", "complete", who="operator")
    assert desk.ok("stats", "answer", rid, who="operator")["status"] == "review"
    desk.ok("stats", "review", rid, "--approve", "--reason", "one cell of 19 persons", who="olga")
    from guichet.accounts.auth import actor_for
    from guichet.errors import NotFound
    from guichet.stats import services

    assert services.download(desk.hub, actor_for(desk.hub, "alice"), request=rid, name="everyone.csv").is_file()
    before = _refusals(desk, "stats.download", "bob")
    with pytest.raises(NotFound, match="no statistics request"):
        services.download(desk.hub, actor_for(desk.hub, "bob"), request=rid, name="everyone.csv")
    assert _refusals(desk, "stats.download", "bob") == before + 1
    r = desk.run("stats", "show", rid, who="bob")
    assert r.code == 2 and "not found" not in r.stdout and f"no statistics request {rid}" in r.stderr


def test_wrong_roles_and_separation_of_duties_are_refused_and_audited(desk: StatsDesk) -> None:
    rid = desk.request(spec([{"name": "everyone", "kind": "count"}]), name="duties")
    r = desk.run("stats", "assess", rid, "--accept", "--reason", "my own request", who="alice")
    assert r.code == 2 and "needs the role" in r.stderr
    r = desk.run("stats", "assess", rid, "--accept", "--reason", "a colleague's request", who="op.same")
    assert r.code == 2 and "own organisation" in r.stderr
    assert _refusals(desk, "stats.assess", "op.same") >= 1
    r = desk.run("stats", "assess", rid, "--accept", "--reason", "committee first", who="claire")
    assert r.code == 2 and "an operator assesses it first" in r.stderr
    desk.ok("stats", "assess", rid, "--accept", "--reason", "complete", who="operator")
    r = desk.run("stats", "answer", rid, who="olga")  # a checker does not compute
    assert r.code == 2 and "needs the role" in r.stderr
    r = desk.run("stats", "request", "--file", str(desk.root / "duties.json"), who="olga")
    assert r.code == 2 and "needs the role" in r.stderr


@pytest.mark.parametrize("where", ["title", "requester", "purpose", "safeguards", "legal_basis"])
def test_identifiers_in_free_text_are_refused(desk: StatsDesk, where: str) -> None:
    content = spec([{"name": "everyone", "kind": "count"}])
    number = nir(1, "1980-07-02", "13", "055", 7)
    if where == "requester":
        content["requester"]["functions"] = f"in charge of the patient {number}"
    elif where == "purpose":
        content["purpose"]["description"] = f"follow up the person {number} over the year"
    else:
        content[where] = f"about the person {number} and others"
    path = desk.root / f"nir-{where}.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    before = len(desk.ok("stats", "list", who="alice"))
    r = desk.run("stats", "request", "--file", str(path), who="alice")
    assert r.code == 2 and "looks like it contains a NIR" in r.stderr and number not in r.stderr
    assert len(desk.ok("stats", "list", who="alice")) == before  # nothing stored


def test_identifiers_in_reasons_are_refused(desk: StatsDesk) -> None:
    rid = desk.request(spec([{"name": "everyone", "kind": "count"}]), name="reason")
    number = nir(2, "1950-03-15", "13", "055", 1)
    r = desk.run("stats", "assess", rid, "--refuse", "--reason", f"the person {number} asked", who="operator")
    assert r.code == 2 and "looks like it contains a NIR" in r.stderr
    assert desk.ok("stats", "show", rid, who="alice")["state"] == "submitted"
