"""The output requests' pages in-process: a checker's list and home panel, the request page with the cells
of the chosen file, blind votes, the review form (CSRF), French; the author's view; released files served as
sandboxed attachments; another project's researcher sees nothing."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.airlock import request_services as rs
from guichet.hub import Hub
from tests.airlock_requests_support import PERMIT, outputs, setup, write_tables
from tests.web_support import PASSWORD, Person, csrf_of, sign_in

pytestmark = pytest.mark.integration
CTX = {"context": "persons by sex and region, synthetic cohort", "controls": "counts of persons, threshold 11"}


def _person(hub: Hub, username: str, role: str) -> Person:
    system = system_actor()
    accounts.set_password(hub, system, username=username, password=PASSWORD)
    secret = accounts.enroll_totp(hub, system, username=username)
    return Person(username, role, PASSWORD, secret, "")


def test_checker_and_author_pages(hub: Hub) -> None:
    from guichet.web import create_app

    a = setup(hub)
    write_tables(hub)
    (outputs(hub) / "small.csv").write_text("region,n\nARA,120\nBRE,4\n", encoding="utf-8")
    req = rs.submit(hub, a["alice"], permit=PERMIT, files=["by_region.csv", "small.csv"], group="tables",
                    title="Regions", **CTX)["request"]
    rs.review(hub, a["pierre"], request=req, decision="changes", reason="suppress the small region")
    olga = TestClient(create_app(hub.config))
    sign_in(olga, _person(hub, "olga", "checker"))
    home = olga.get("/")
    assert req in home.text
    listing = olga.get("/airlock/requests")
    assert listing.status_code == 200 and req in listing.text
    page = olga.get(f"/airlock/requests/{req}", params={"file": "small.csv"})
    assert page.status_code == 200
    assert 'class="cell-fail"' in page.text and "persons by sex and region" in page.text
    assert "suppress the small region" not in page.text  # the other vote is hidden
    r = olga.post(f"/airlock/requests/{req}/review", data={"decision": "approve", "reason": "ok",
                                                           "file": "small.csv", "csrf_token": csrf_of(page.text)},
                  follow_redirects=False)
    assert r.status_code == 403 and "justification" in r.text
    r = olga.post(f"/airlock/requests/{req}/review", data={"decision": "changes", "reason": "round BRE",
                                                           "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    page = olga.get(f"/airlock/requests/{req}", headers={"accept-language": "fr"})
    assert "modifications demandées" in page.text and "suppress the small region" in page.text
    alice = TestClient(create_app(hub.config))
    sign_in(alice, _person(hub, "alice", "researcher"))
    page = alice.get(f"/airlock/requests/{req}")
    assert page.status_code == 200 and "round BRE" in page.text and "pierre" not in page.text
    eve = TestClient(create_app(hub.config))
    sign_in(eve, _person(hub, "eve", "researcher"))
    assert eve.get(f"/airlock/requests/{req}").status_code == 404


def _released(hub: Hub) -> tuple[dict[str, Any], str]:
    """The accounts and a request released by two checkers' approvals (one file, by_region.csv)."""
    a = setup(hub)
    write_tables(hub)
    req = rs.submit(hub, a["alice"], permit=PERMIT, files=["by_region.csv"], group="g", **CTX)["request"]
    for c in ("olga", "pierre"):
        rs.review(hub, a[c], request=req, decision="approve", reason="fine")
    rs.release(hub, a["operator"], request=req)
    return a, str(req)


def test_released_files_are_sandboxed_attachments(hub: Hub) -> None:
    from guichet.web import create_app

    _, req = _released(hub)
    alice = TestClient(create_app(hub.config))
    sign_in(alice, _person(hub, "alice", "researcher"))
    r = alice.get(f"/airlock/released/{req}/by_region.csv")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in r.headers["content-security-policy"] and r.headers["x-content-type-options"] == "nosniff"
    eve = TestClient(create_app(hub.config))
    sign_in(eve, _person(hub, "eve", "researcher"))
    assert eve.get(f"/airlock/released/{req}/by_region.csv").status_code == 404


def test_a_published_result_is_downloadable_without_an_account(hub: Hub) -> None:
    from guichet.web import create_app

    a, req = _released(hub)
    anyone = TestClient(create_app(hub.config))
    url = f"/results/{req}/by_region.csv"
    assert anyone.get(url).status_code == 404  # released, not yet public: the same answer as for nothing
    assert anyone.get(f"/results/R-none/{'x' * 10}.csv").status_code == 404
    rs.publish(hub, a["alice"], request=req)
    r = anyone.get(url)
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in r.headers["content-security-policy"] and r.headers["x-content-type-options"] == "nosniff"
    assert r.content == (outputs(hub) / "by_region.csv").read_bytes()
    assert anyone.get(f"/results/{req}/by_region.csv.meta.json").status_code == 404  # only released files
    # the citizens' results page links to this address
    assert url in anyone.get("/transparency/results").text
