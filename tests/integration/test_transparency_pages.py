"""The citizens' pages in-process (TestClient): every page answers in French and English without an account;
the opt-out form answers the same for a person present and absent; its rate limit is held in the database,
so that two app instances (two workers) sharing it count the same calls; complaints refuse a NIR in their text
and answer a reference; the operator's desk records an objection received by post (audited, no NIR)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from guichet.custodian import nir as nirs
from guichet.custodian import optout as register
from guichet.custodian.tables import OptOutPseudonym
from guichet.hub import Hub
from guichet.store.models import AuditEvent
from guichet.web import create_app
from tests.conftest import make_hub
from tests.web_support import add_person, csrf_of, sign_in

NIR = nirs.with_key("1850575123456")  # born May 1985
ABSENT = nirs.with_key("2920175123456")  # born January 1992, in no dataset
PAGES = ("/transparency", "/transparency/projects", "/transparency/projects?q=diabete", "/transparency/results",
         "/transparency/optout", "/transparency/optout/withdraw", "/transparency/findings",
         "/transparency/findings/withdraw", "/transparency/complaint", "/transparency/report/2026")


@pytest.fixture(params=["sqlite", "postgresql"])
def web_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    db_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    hub = make_hub(tmp_path, db_url=db_url)
    hub.db_url_for_test = db_url  # type: ignore[attr-defined]
    hub.test_apps = []  # type: ignore[attr-defined]
    yield hub
    for app in hub.test_apps:  # type: ignore[attr-defined]
        app.state.web.hub.close()
    hub.close()


def client(hub: Hub, locale: str = "en") -> TestClient:
    """An app of its own on the hub's database (as a worker of ``guichet serve``), closed with the hub."""
    app = create_app(hub.config, getattr(hub, "db_url_for_test", None))
    hub.test_apps.append(app)  # type: ignore[attr-defined]
    c = TestClient(app, raise_server_exceptions=False, base_url="http://testserver")
    c.cookies.set("guichet_lang", locale)
    return c


def _post(c: TestClient, path: str, data: dict[str, str]) -> tuple[int, str]:
    token = csrf_of(c.get(path).text)
    r = c.post(path, data={**data, "csrf_token": token})
    return r.status_code, r.text


def _receipt(html: str) -> str:
    found = re.search(r'id="receipt">([A-Z2-7]{26})<', html)
    assert found, html[:2000]
    return found.group(1)


def test_every_citizens_page_answers_in_both_languages_without_an_account(web_hub: Hub) -> None:
    for locale, word in (("en", "Object to the use of your data"), ("fr", "Enregistrer mon opposition")):
        c = client(web_hub, locale)
        for page in PAGES:
            r = c.get(page)
            assert r.status_code == 200, (locale, page, r.status_code)
            assert f'lang="{locale}"' in r.text
        assert word in c.get("/transparency/optout").text
    assert client(web_hub).get("/transparency/desk").status_code == 401  # the operator's desk needs an account


def test_the_optout_answers_alike_for_a_person_present_or_absent_and_withdraws(web_hub: Hub) -> None:
    from guichet.custodian import LocalCustodian

    LocalCustodian(web_hub.config.custodian_home).domain_key("snds")  # pseudonyms are computed for both
    c = client(web_hub)
    pages = []
    for nir, birth in ((NIR, "1985-05-03"), (ABSENT, "1992-01-20")):
        status, html = _post(c, "/transparency/optout", {"nir": nir, "birth_date": birth, "scope": "all"})
        assert status == 200
        receipt = _receipt(html)
        pages.append(html.replace(receipt, "R"))
        assert nir not in html
    assert pages[0] == pages[1]  # the same page, but for the receipt
    status, html = _post(c, "/transparency/optout/withdraw", {"receipt": receipt})
    assert status == 200 and 'id="withdrawn"' in html
    status, html = _post(c, "/transparency/optout/withdraw", {"receipt": receipt})
    assert status == 404 and "No active entry has this receipt" in html
    status, html = _post(c, "/transparency/optout", {"nir": NIR, "birth_date": "1970-01-01"})
    assert status == 400 and "could not be verified together" in html
    with web_hub.store.read() as s:
        trail = json.dumps([e.details for e in s.execute(select(AuditEvent)).scalars()])
    assert NIR not in trail and ABSENT not in trail and receipt not in trail


def test_the_rate_limit_holds_across_two_app_instances_sharing_the_database(web_hub: Hub) -> None:
    first, second = client(web_hub), client(web_hub)  # two workers: two apps, one database
    assert first.app is not second.app
    for i in range(register.PUBLIC_LIMITER.limit):
        status, _ = _post(first if i % 2 else second, "/transparency/optout",
                          {"nir": NIR, "birth_date": "1970-01-01"})  # failed verifications count too
        assert status == 400
    for c in (first, second):
        status, html = _post(c, "/transparency/optout", {"nir": NIR, "birth_date": "1985-05-03"})
        assert status == 429 and "Too many attempts" in html
    register.PUBLIC_LIMITER.clear(web_hub)
    status, _ = _post(second, "/transparency/optout", {"nir": NIR, "birth_date": "1985-05-03"})
    assert status == 200


def test_a_findings_preference_is_recorded_apart_from_objections(web_hub: Hub) -> None:
    from guichet.accounts.auth import actor_for
    from guichet.custodian import LocalCustodian, services

    LocalCustodian(web_hub.config.custodian_home).domain_key("snds")  # a domain issued: the person has pseudonyms
    c = client(web_hub, "fr")
    status, html = _post(c, "/transparency/findings", {"nir": NIR, "birth_date": "1985-05-03"})
    assert status == 200 and "découvertes importantes est enregistré" in html
    receipt = _receipt(html)
    assert services.count_optouts(web_hub, actor_for(web_hub, web_hub.config.operator)) == {"active": 0, "withdrawn": 0}
    with web_hub.store.read() as s:
        assert register.active_pseudonyms(s) == set()  # extracts are not affected
        assert len(s.execute(select(OptOutPseudonym)).scalars().all()) == 2  # though the person's are held
    status, _ = _post(c, "/transparency/optout/withdraw", {"receipt": receipt})
    assert status == 404  # a findings receipt does not withdraw an objection
    status, html = _post(c, "/transparency/findings/withdraw", {"receipt": receipt})
    assert status == 200 and 'id="withdrawn"' in html


def test_a_complaint_gets_a_reference_and_a_nir_in_it_is_refused(web_hub: Hub) -> None:
    c = client(web_hub)
    status, html = _post(c, "/transparency/complaint", {"topic": "optout", "text": f"My number is {NIR}, help"})
    assert status == 403 and "looks like a social security number" in html and NIR not in html
    status, html = _post(c, "/transparency/complaint", {"topic": "optout", "text": "I received no receipt",
                                                        "contact": "someone@example.org"})
    assert status == 200
    reference = re.search(r'id="reference">(C-\d{4}-\d{4})<', html)
    assert reference
    operator = add_person(web_hub, web_hub.config.operator, "operator")
    staff = client(web_hub)
    sign_in(staff, operator)
    page = staff.get("/transparency/complaints").text
    assert reference.group(1) in page and "I received no receipt" in page and "someone@example.org" in page
    r = staff.post(f"/transparency/complaints/{reference.group(1)}",
                   data={"status": "answered", "answer": "Receipt sent again", "csrf_token": csrf_of(page)},
                   follow_redirects=False)
    assert r.status_code == 303
    assert "Receipt sent again" in staff.get("/transparency/complaints").text
    with web_hub.store.read() as s:
        assert NIR not in json.dumps([(e.reason, e.details) for e in s.execute(select(AuditEvent)).scalars()])


def test_the_desk_records_an_objection_received_by_post_audited_without_the_nir(web_hub: Hub) -> None:
    operator = add_person(web_hub, web_hub.config.operator, "operator")
    staff = client(web_hub)
    sign_in(staff, operator)
    status, html = _post(staff, "/transparency/desk", {"nir": NIR, "birth_date": "1985-05-03", "received_by": "post",
                                                       "kind": "objection", "scope": "all"})
    assert status == 200
    _receipt(html)
    with web_hub.store.read() as s:
        events = [e for e in s.execute(select(AuditEvent)).scalars() if e.action == "optout.record"]
    details = json.loads(events[0].details) if len(events) == 1 else {}
    assert details["received_by"] == "post" and details["on_behalf"] is True
    assert NIR not in events[0].details
