"""Issue 21's gaps closed: ``recall --suspend`` suspends the permit through ``permit.suspend`` (every read path
then refuses it, reinstating opens it again; the holder and an operator of its organisation may not suspend
or reinstate it), and the sampled approved requests are re-checked by an independent checker (a concern
tells the operator and is counted in the metrics)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from guichet.accounts import services as accounts
from guichet.accounts.auth import actor_for
from guichet.actor import system_actor
from guichet.airlock import request_services as rs
from guichet.errors import Refused
from guichet.hub import Hub
from guichet.permits import permit_services as ps
from guichet.permits.tables import Notification
from guichet.store.models import AuditEvent
from guichet.workspace.build import check_access, read_extract
from guichet.workspace.session_services import run_sql
from tests.airlock_requests_support import ORG, PERMIT, outputs, setup, write_tables

pytestmark = pytest.mark.integration

CTX = {"context": "persons by sex and region, synthetic cohort", "controls": "counts of persons, threshold 11"}


def _strong(a: dict) -> dict:
    """Suspending is a decision: it needs a second factor (the CLI's development mode gives one)."""
    return {k: v.with_strong_auth() for k, v in a.items()}


def _released(hub: Hub, a: dict) -> str:
    write_tables(hub)
    req = rs.submit(hub, a["alice"], permit=PERMIT, files=["by_region.csv"], group="tables", **CTX)["request"]
    for c in ("olga", "pierre"):
        rs.review(hub, a[c], request=req, decision="approve", reason="counts above threshold")
    rs.release(hub, a["operator"], request=req)
    return req


def _resubmit_works(hub: Hub, a: dict) -> str:
    (outputs(hub) / "again.csv").write_text("region,n\nARA,120\nBRE,140\n", encoding="utf-8")
    r = rs.submit(hub, a["alice"], permit=PERMIT, files=["again.csv"], group="more", **CTX)
    return str(r["request"])


def test_recall_with_suspend_closes_every_read_path_until_reinstated(hub: Hub) -> None:
    a = setup(hub)
    req = _released(hub, a)
    assert check_access(hub, PERMIT, "alice")["state"] == "active"
    with pytest.raises(Refused, match="second-factor"):  # a decision: refused as a whole without a second factor
        rs.recall(hub, a["operator"], request=req, reason="a cell found disclosive after release", suspend=True)
    assert rs.show(hub, a["operator"], request=req)["state"] == "released"
    a = _strong(a)
    r = rs.recall(hub, a["operator"], request=req, reason="a cell found disclosive after release", suspend=True)
    assert r["state"] == "recalled" and r["permit_state"] == "suspended"
    info = ps.show(hub, a["operator"], permit_id=PERMIT)
    assert info.state == "suspended" and info.suspension is not None
    assert info.suspension["source"] == f"output request {req}" and "disclosive" in info.suspension["reason"]
    with pytest.raises(Refused, match="suspended"):
        check_access(hub, PERMIT, "alice")
    with pytest.raises(Refused, match="suspended"):
        read_extract(hub, PERMIT, "alice")
    with pytest.raises(Refused, match="suspended"):
        run_sql(hub, a["alice"], permit_id=PERMIT, sql="SELECT 1")
    with pytest.raises(Refused, match="open access"):
        _resubmit_works(hub, a)
    with hub.store.read() as s:
        events = [(e.actor, e.outcome) for e in s.execute(select(AuditEvent).where(
            AuditEvent.action == "permit.suspend", AuditEvent.object == f"permit:{PERMIT}")).scalars()]
        told = [n.subject for n in s.execute(select(Notification)).scalars()]
    assert events == [(hub.config.operator, "ok")]  # its own audit event, beside the recall's
    assert any("suspended" in t for t in told)
    # the holder may not lift it; an operator reinstates it and access opens again
    with pytest.raises(Refused):
        ps.reinstate(hub, a["alice"], permit_id=PERMIT, reason="we fixed the table")
    info = ps.reinstate(hub, a["operator"], permit_id=PERMIT, reason="incident reviewed, table withdrawn")
    assert info.state == "active" and info.suspension is None
    assert check_access(hub, PERMIT, "alice")["state"] == "active"
    assert _resubmit_works(hub, a).startswith("R-")
    with pytest.raises(Refused, match="not suspended"):
        ps.reinstate(hub, a["operator"], permit_id=PERMIT, reason="again")


def test_suspend_and_reinstate_separation_of_duties(hub: Hub) -> None:
    a = _strong(setup(hub))
    system = system_actor()
    accounts.add_user(hub, system, username="op.same", roles=["operator"], org=ORG)
    accounts.add_user(hub, system, username="arthur", roles=["authority"], org="Data protection authority")
    same = actor_for(hub, "op.same").with_strong_auth()
    with pytest.raises(Refused):  # the applicant (the permit's holder): not an operator, and not_owner
        ps.suspend(hub, a["alice"], permit_id=PERMIT, reason="pausing our own project")
    with pytest.raises(Refused, match=r"organisation|org"):
        ps.suspend(hub, same, permit_id=PERMIT, reason="an incident")
    req = _released(hub, a)
    with pytest.raises(Refused, match="--suspend"):  # refused as a whole: nothing recalled
        rs.recall(hub, same, request=req, reason="an incident", suspend=True)
    assert rs.show(hub, a["operator"], request=req)["state"] == "released"
    info = ps.suspend(hub, actor_for(hub, "arthur").with_strong_auth(), permit_id=PERMIT, reason="a breach under investigation")
    assert info.state == "suspended"
    with pytest.raises(Refused, match="already suspended"):
        ps.suspend(hub, a["operator"], permit_id=PERMIT, reason="twice")
    # a recall with --suspend on a permit already suspended leaves the suspension as it is
    r = rs.recall(hub, a["operator"], request=req, reason="the same incident", suspend=True)
    assert r["permit_state"] == "suspended"
    with pytest.raises(Refused, match=r"organisation|org"):
        ps.reinstate(hub, same, permit_id=PERMIT, reason="cleared")
    assert ps.reinstate(hub, a["operator"], permit_id=PERMIT, reason="cleared").state == "active"


def test_sampled_request_is_rechecked_by_an_independent_checker(hub: Hub) -> None:
    a = setup(hub)
    hub.config.properties[rs.RECHECK_PROPERTY] = 1.0  # every approved request is drawn
    req = _released(hub, a)
    assert rs.show(hub, a["operator"], request=req)["recheck"] is True
    waiting = {c: [x for x in rs.waiting(hub, a[c]) if x["recheck"]] for c in ("olga", "pierre", "quentin", "chk.same")}
    assert [x["request"] for x in waiting["quentin"]] == [req]
    assert waiting["olga"] == waiting["pierre"] == waiting["chk.same"] == []
    for c in ("olga", "pierre", "chk.same"):  # its reviewers, a checker of the project's organisation
        with pytest.raises(Refused):
            rs.recheck(hub, a[c], request=req, verdict="confirmed", reason="looks fine")
    with pytest.raises(Refused):
        rs.recheck(hub, a["alice"], request=req, verdict="confirmed", reason="mine is fine")
    m = rs.metrics(hub, a["operator"])
    assert m["recheck_pending"] == [req] and m["rechecks"] == {}
    r = rs.recheck(hub, a["quentin"], request=req, verdict="concern",
                   reason="the region cells are close to an earlier release")
    assert r["verdict"] == "concern" and r["operator_told"] == hub.config.operator
    with hub.store.read() as s:
        notes = [(n.recipient, n.subject) for n in s.execute(select(Notification)).scalars()]
    assert (hub.config.operator, f"Output request {req}: a re-check raised a concern") in notes
    m = rs.metrics(hub, a["operator"])
    assert m["rechecks"] == {"concern": 1} and m["recheck_concerns"] == [req] and m["recheck_pending"] == []
    with pytest.raises(Refused, match="already"):
        rs.recheck(hub, a["quentin"], request=req, verdict="confirmed", reason="second thoughts")
    assert rs.show(hub, a["operator"], request=req)["rechecks"][0]["verdict"] == "concern"
    assert not [x for x in rs.waiting(hub, a["quentin"]) if x["recheck"]]


def test_recheck_cli_and_unsampled_requests(hub: Hub) -> None:
    from guichet.airlock.tables import OutputRequest
    from tests.conftest import run_cli

    a = setup(hub)
    hub.config.properties[rs.RECHECK_PROPERTY] = 0.0
    req = _released(hub, a)
    home = str(hub.config.home)
    r = run_cli(["airlock", "recheck", req, "--confirm", "--reason", "fine", "--home", home, "--json", "--as", "quentin"])
    assert r.code == 2 and "not drawn" in r.stderr
    with hub.store.write() as s:
        s.get(OutputRequest, req).recheck = True  # type: ignore[union-attr]
    r = run_cli(["airlock", "recheck", req, "--reason", "fine", "--home", home, "--as", "quentin"])
    assert r.code == 2
    r = run_cli(["airlock", "recheck", req, "--confirm", "--reason", "the decision stands", "--home", home, "--json",
                 "--as", "quentin"])
    assert r.code == 0 and json.loads(r.stdout)["verdict"] == "confirmed"
    assert rs.metrics(hub, a["operator"])["rechecks"] == {"confirmed": 1}
    r = run_cli(["permit", "suspend", PERMIT, "--reason", "incident", "--home", home, "--json", "--as", "alice"])
    assert r.code == 2
    r = run_cli(["permit", "suspend", PERMIT, "--reason", "incident", "--home", home, "--json",
                 "--as", hub.config.operator])
    assert r.code == 0 and json.loads(r.stdout)["permit"]["state"] == "suspended"
    r = run_cli(["permit", "reinstate", PERMIT, "--reason", "cleared", "--home", home, "--json",
                 "--as", hub.config.operator])
    assert r.code == 0 and json.loads(r.stdout)["permit"]["state"] == "active"


def test_recheck_on_the_checkers_home_and_list(hub: Hub) -> None:
    from starlette.testclient import TestClient

    from guichet.web import create_app
    from tests.web_support import PASSWORD, Person, sign_in

    a = setup(hub)
    hub.config.properties[rs.RECHECK_PROPERTY] = 1.0
    req = _released(hub, a)
    system = system_actor()
    accounts.set_password(hub, system, username="quentin", password=PASSWORD)
    secret = accounts.enroll_totp(hub, system, username="quentin")
    quentin = TestClient(create_app(hub.config))
    sign_in(quentin, Person("quentin", "checker", PASSWORD, secret, ""))
    home = quentin.get("/", headers={"accept-language": "fr"})
    assert home.status_code == 200 and req in home.text and "à revérifier" in home.text
    listing = quentin.get("/airlock/requests", headers={"accept-language": "en"})
    assert listing.status_code == 200 and req in listing.text and "(re-check)" in listing.text
