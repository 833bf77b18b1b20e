"""The re-check form: only an independent checker may record a re-check through the page — a researcher
(the author or not) is refused by the route's permission, the request's own reviewers and a checker of the
project's organisation by the service, a post without the form's CSRF token is refused, and a second
re-check is refused; the recorded re-check goes through the service (a concern tells the operator)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.airlock import request_services as rs
from guichet.airlock.tables import OutputRecheck, OutputRequest
from guichet.hub import Hub
from guichet.permits.tables import Notification
from tests.airlock_requests_support import PERMIT, setup, write_tables
from tests.web_support import PASSWORD, Person, csrf_of, sign_in

pytestmark = pytest.mark.security
CTX = {"context": "persons by sex and region, synthetic cohort", "controls": "counts of persons, threshold 11"}


def _client(hub: Hub, username: str, role: str) -> TestClient:
    from guichet.web import create_app

    system = system_actor()
    accounts.set_password(hub, system, username=username, password=PASSWORD)
    secret = accounts.enroll_totp(hub, system, username=username)
    client = TestClient(create_app(hub.config))
    sign_in(client, Person(username, role, PASSWORD, secret, ""))
    return client


def _sampled(hub: Hub) -> str:
    """A request approved by olga and pierre, released, and drawn for a re-check."""
    a = setup(hub)
    write_tables(hub)
    req = str(rs.submit(hub, a["alice"], permit=PERMIT, files=["by_region.csv"], group="tables", title="Regions",
                        **CTX)["request"])
    for c in ("olga", "pierre"):
        rs.review(hub, a[c], request=req, decision="approve", reason="counts above threshold")
    rs.release(hub, a["operator"], request=req)
    with hub.store.write() as s:
        row = s.get(OutputRequest, req)
        assert row is not None
        row.recheck = True
    return req


def _rechecks(hub: Hub, req: str) -> list[OutputRecheck]:
    with hub.store.read() as s:
        return list(s.execute(select(OutputRecheck).where(OutputRecheck.request == req)).scalars())


def test_only_an_independent_checker_may_post_a_recheck(hub: Hub) -> None:
    req = _sampled(hub)
    url = f"/airlock/requests/{req}/recheck"
    form = {"verdict": "concern", "reason": "the region cells are close to an earlier release"}
    # researchers: the author and a colleague on the permit — the route's permission refuses them, and the
    # list of re-checks is not theirs either
    for who in ("alice", "eve"):
        client = _client(hub, who, "researcher")
        token = csrf_of(client.get("/").text)
        assert client.post(url, data={**form, "csrf_token": token}, follow_redirects=False).status_code == 403
        assert client.get("/airlock/rechecks").status_code == 403
        assert "/airlock/rechecks" not in client.get("/airlock/requests").text
    # the request's own reviewers and a checker of the project's organisation: the service refuses them, the
    # page shows them no form
    for who in ("olga", "pierre", "chk.same"):
        client = _client(hub, who, "checker")
        assert req not in client.get("/airlock/rechecks").text
        page = client.get(f"/airlock/requests/{req}") if who != "chk.same" else client.get("/")
        assert 'action="/airlock/requests/' + req + '/recheck"' not in page.text
        r = client.post(url, data={**form, "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 404 if who == "chk.same" else (r.status_code == 403 and "separation of duties" in r.text)
    assert _rechecks(hub, req) == []
    # the independent checker: without the CSRF token, or with another session's, refused
    quentin = _client(hub, "quentin", "checker")
    assert 'href="/airlock/rechecks"' in quentin.get("/airlock/requests").text
    listing = quentin.get("/airlock/rechecks")
    assert listing.status_code == 200 and req in listing.text
    page = quentin.get(f"/airlock/requests/{req}")
    assert f'action="/airlock/requests/{req}/recheck"' in page.text
    assert quentin.post(url, data=form, follow_redirects=False).status_code == 403
    other = _client(hub, "olga", "checker")
    stolen = csrf_of(other.get(f"/airlock/requests/{req}").text)
    assert quentin.post(url, data={**form, "csrf_token": stolen}, follow_redirects=False).status_code == 403
    assert _rechecks(hub, req) == []
    # a verdict outside the list, an empty reason: a 400 with the service's one-line message, nothing kept
    token = csrf_of(page.text)
    r = quentin.post(url, data={"verdict": "fine", "reason": "x", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 400 and "verdict: one of" in r.text
    r = quentin.post(url, data={"verdict": "confirmed", "reason": " ", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 400 and _rechecks(hub, req) == []
    # recorded through the service: the concern reaches the operator; a second re-check is refused
    r = quentin.post(url, data={**form, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/airlock/rechecks?done=rechecked"
    assert [(x.checker, x.verdict) for x in _rechecks(hub, req)] == [("quentin", "concern")]
    with hub.store.read() as s:
        assert any(n.recipient == hub.config.operator and req in n.subject
                   for n in s.execute(select(Notification)).scalars())
    r = quentin.post(url, data={"verdict": "confirmed", "reason": "second thoughts", "csrf_token": token},
                     follow_redirects=False)
    assert r.status_code == 403 and "already" in r.text
    assert req not in quentin.get("/airlock/rechecks").text
