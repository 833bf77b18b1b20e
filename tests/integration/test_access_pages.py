"""The access applications' pages, in-process with real sign-in (password then TOTP): the catalogue's basket
makes and fills a draft, the applicant's form shows its problems next to their sections, counts the criteria
and submits; the operator, the scientific committee and the authority take their steps from the reviewers'
view; the home pages list what waits for each role. An account of another organisation gets 404 for the
application, its form and its steps; a form without its CSRF token is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guichet.access import services as access
from guichet.access.pages import PLACEHOLDER, form_values
from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.hub import Hub
from guichet.web import create_app
from tests.access_support import example, hub_with_lake, prepare
from tests.web_support import PASSWORD, Person, csrf_of, sign_in

PEOPLE = ("alice", "bob", "claire", "arthur", "op.same")


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[tuple[Hub, dict[str, TestClient], dict[str, Any]]]:
    hub = hub_with_lake(tmp_path)
    actors = prepare(hub, tmp_path)
    clients: dict[str, TestClient] = {}
    app = create_app(hub.config)
    for who in (*PEOPLE, hub.config.operator):
        accounts.set_password(hub, system_actor(), username=who, password=PASSWORD)
        secret = accounts.enroll_totp(hub, system_actor(), username=who)
        c = TestClient(app, raise_server_exceptions=False, base_url="http://testserver")
        c.headers["Accept-Language"] = "en-GB"
        sign_in(c, Person(who, "", PASSWORD, secret))
        clients["operator" if who == hub.config.operator else who] = c
    with clients["alice"]:
        yield hub, clients, actors
    hub.close()


def _form(content: dict[str, Any]) -> list[tuple[str, str]]:
    values = form_values(content)
    out = [(k, v) for k, v in values.items() if k not in ("vars", "optout") and isinstance(v, str)]
    out += [("var", v) for v in values["vars"]] + [("all_var", v) for v in values["vars"]]
    if values["optout"]:
        out.append(("optout", "yes"))
    return out


def _post(c: TestClient, path: str, data: list[tuple[str, str]] | dict[str, str], page: str) -> Any:
    token = csrf_of(c.get(page).text)
    items = list(data.items()) if isinstance(data, dict) else list(data)
    form: dict[str, list[str]] = {}
    for k, v in [*items, ("csrf_token", token)]:
        form.setdefault(k, []).append(v)
    return c.post(path, data=form, follow_redirects=False)


def _draft(hub: Hub, actors: dict[str, Any], who: str = "alice") -> int:
    found = [s for s in access.list_applications(hub, actors[who], mine=True) if s.state == "draft"]
    assert found, "the basket made no draft"
    return found[-1].id


def test_from_the_basket_to_an_authorisation(portal) -> None:  # type: ignore[no-untyped-def]
    hub, cs, actors = portal
    alice = cs["alice"]
    page = alice.get("/catalogue/dcir/dictionary")
    assert page.status_code == 200 and 'action="/applications/basket"' in page.text
    assert "Your basket is empty" in page.text
    r = _post(alice, "/applications/basket", [("product", "dcir"), ("table", "ER_PRS_F"),
                                               ("back", "/catalogue/dcir/dictionary"),
                                               ("var", "BEN_NAI_ANN"), ("var", "BEN_SEX_COD")],
              "/catalogue/dcir/dictionary")
    assert r.status_code == 303 and r.headers["location"].startswith("/catalogue/dcir/dictionary?basket=2"), r.text
    app_id = _draft(hub, actors)
    page = alice.get("/catalogue/dcir/dictionary?basket=2")
    assert "2 variables added" in page.text and "requests 2 variables from 1 tables" in page.text
    assert f'href="/applications/{app_id}"' in page.text
    # a whole table from the product's page; the same variables again add nothing
    r = _post(alice, "/applications/basket", {"product": "dcir", "table": "ER_PHA_F", "whole": "yes",
                                              "back": "/catalogue/dcir"}, "/catalogue/dcir")
    assert r.status_code == 303 and r.headers["location"].startswith("/catalogue/dcir?basket="), r.text
    content = access.show(hub, actors["alice"], application_id=app_id).content
    assert [d["table"] for d in content["data"]] == ["ER_PRS_F", "ER_PHA_F"]
    assert len(content["data"][1]["variables"]) > 2
    # an outside address is never where the basket sends back
    r = _post(alice, "/applications/basket", [("product", "dcir"), ("table", "ER_PRS_F"), ("var", "BEN_SEX_COD"),
                                               ("back", "https://elsewhere.example/")], "/catalogue/dcir")
    assert r.headers["location"].startswith("/catalogue?basket=0")

    # the form: sections, the basket's placeholders, problems in place
    page = alice.get(f"/applications/{app_id}")
    assert page.status_code == 200 and 'name="var" value="dcir/ER_PRS_F/BEN_NAI_ANN" checked' in page.text
    r = _post(alice, f"/applications/{app_id}/submit", {}, f"/applications/{app_id}")
    assert r.status_code == 422 and "still to be written" in r.text
    wanted = example()
    bad = {**wanted, "criteria": {"all": [{"age": {"min": 18}, "at": "2023-01-01"}, {"codes": ["A10"], "system": "NOPE"}]},
           "public_summary": ""}
    r = _post(alice, f"/applications/{app_id}/save", _form(bad), f"/applications/{app_id}")
    assert r.status_code == 422, r.text[:2000]
    assert re.search(r'id="err-criteria">.*criteria', r.text, re.S) and 'id="err-public_summary"' in r.text
    assert 'value="{}"'.format(wanted["title"]) in r.text  # what was typed is kept
    r = _post(alice, f"/applications/{app_id}/save", [*_form({**wanted, "criteria": {}})[:0],
                                                      *[(k, v) for k, v in _form(wanted) if k != "criteria"],
                                                      ("criteria", "{not json")], f"/applications/{app_id}")
    assert r.status_code == 422 and "not valid JSON" in r.text
    # feasibility from the form, without saving
    r = _post(alice, f"/applications/{app_id}/feasibility", _form(wanted), f"/applications/{app_id}")
    assert r.status_code == 200 and 'id="feasibility"' in r.text, r.text[:3000]
    assert re.search(r"published data: (fewer than 11|[0-9,]+0)\.", r.text)
    r = _post(alice, f"/applications/{app_id}/save", _form(wanted), f"/applications/{app_id}")
    assert r.status_code == 303, r.text[:3000]
    saved = access.show(hub, actors["alice"], application_id=app_id)
    assert saved.content["data"] == wanted["data"] and saved.title == wanted["title"]
    assert PLACEHOLDER not in str(saved.content)
    r = _post(alice, f"/applications/{app_id}/submit", {}, f"/applications/{app_id}")
    assert r.status_code == 303, r.text[:3000]

    # the operator's home page and completeness check
    op = cs["operator"]
    home = op.get("/")
    assert "Applications to check for completeness" in home.text and f'href="/applications/{app_id}"' in home.text
    page = op.get(f"/applications/{app_id}")
    assert 'id="check-form"' in page.text and 'id="decision-form"' not in page.text
    r = _post(op, f"/applications/{app_id}/check", {"outcome": "incomplete", "reason": "Name the statistician's employer"},
              f"/applications/{app_id}")
    assert r.status_code == 303
    # the applicant answers: a new revision, whose changes the reviewers see
    page = alice.get("/")
    assert "Your applications to write or answer" in page.text and f"/applications/{app_id}" in page.text
    answered = {**wanted, "data_users": [*wanted["data_users"], {"name": "Chloé Roux", "role": "statistician, Inserm"}]}
    r = _post(alice, f"/applications/{app_id}/save", _form(answered), f"/applications/{app_id}")
    assert r.status_code == 303
    page = op.get(f"/applications/{app_id}")
    assert 'id="changes"' in page.text and "Chloé Roux" in page.text
    r = _post(op, f"/applications/{app_id}/check", {"outcome": "complete", "reason": "Complete"}, f"/applications/{app_id}")
    assert r.status_code == 303

    # the committee: notes (one private, one to the applicant), then the opinion
    claire = cs["claire"]
    assert "Applications waiting for a panel" in claire.get("/").text
    for audience, text in (("reviewers", "Private remark on safeguards"), ("applicant", "Who checks the outputs")):
        r = _post(claire, f"/applications/{app_id}/notes", {"section": "safeguards", "text": text, "audience": audience},
                  f"/applications/{app_id}")
        assert r.status_code == 303
    page = alice.get(f"/applications/{app_id}")
    assert "Who checks the outputs" in page.text and "Private remark" not in page.text
    assert "Private remark" in claire.get(f"/applications/{app_id}").text
    r = _post(claire, f"/applications/{app_id}/opinion", [("panel", "scientific"), ("outcome", "favourable"),
                                                          ("reason", "Sound design"), ("present", "claire"),
                                                          ("present", "marc"), ("rapporteur", "marc"),
                                                          ("vote_for", "2"), ("vote_against", "0"),
                                                          ("vote_abstain", "0"),
                                                          ("conflicts", "nina.same | works in the applicant's university")],
              f"/applications/{app_id}")
    assert r.status_code == 303, r.text[:3000]
    opinion = access.show(hub, actors["arthur"], application_id=app_id).opinions[0]
    assert opinion.rapporteur == "marc" and opinion.present == ("claire", "marc") and len(opinion.conflicts) == 1

    # the authority decides; the applicant sees it
    arthur = cs["arthur"]
    assert "Applications waiting for the decision" in arthur.get("/").text
    r = _post(arthur, f"/applications/{app_id}/decision", {"outcome": "authorise", "reason": "Favourable opinion"},
              f"/applications/{app_id}")
    assert r.status_code == 303
    page = alice.get(f"/applications/{app_id}")
    assert re.search(r'id="state">authorised<', page.text)


def test_another_organisation_sees_nothing_and_steps_out_of_turn_are_refused_in_place(portal) -> None:  # type: ignore[no-untyped-def]
    hub, cs, actors = portal
    app_id = access.create(hub, actors["alice"], content=example()).id
    bob = cs["bob"]
    for path in (f"/applications/{app_id}", f"/applications/{app_id + 1000}"):
        assert bob.get(path).status_code == 404
    for step, data in (("save", _form(example())), ("feasibility", _form(example())), ("submit", []),
                       ("withdraw", [])):
        r = _post(bob, f"/applications/{app_id}/{step}", data, "/applications")
        assert r.status_code == 404, (step, r.status_code)
    assert "Use of antidiabetic" not in bob.get("/applications").text
    # a draft is its applicant's alone, even for reviewers
    assert cs["operator"].get(f"/applications/{app_id}").status_code == 404
    # bob's basket makes his own draft, never touches alice's
    r = _post(bob, "/applications/basket", [("product", "dcir"), ("table", "ER_PRS_F"), ("var", "BEN_SEX_COD"),
                                             ("back", "/catalogue/dcir/dictionary")], "/catalogue/dcir/dictionary")
    assert r.status_code == 303
    assert _draft(hub, actors, "bob") != app_id
    assert access.show(hub, actors["alice"], application_id=app_id).revision == 1

    access.submit(hub, actors["alice"], application_id=app_id)
    # a reviewer of the applicant's organisation is refused, with the reason, and nothing moves
    assert 'id="check-form"' not in cs["op.same"].get(f"/applications/{app_id}").text  # no form it may not use
    assert 'id="check-form"' in cs["operator"].get(f"/applications/{app_id}").text
    assert 'id="decision-form"' not in cs["arthur"].get(f"/applications/{app_id}").text
    r = _post(cs["op.same"], f"/applications/{app_id}/check", {"outcome": "complete", "reason": "ok"},
              f"/applications/{app_id}")
    assert r.status_code == 403 and "own organisation" in r.text
    # a step out of turn: the decision before the opinion
    r = _post(cs["arthur"], f"/applications/{app_id}/decision", {"outcome": "authorise", "reason": "skip"},
              f"/applications/{app_id}")
    assert r.status_code == 403 and "cannot be decided" in r.text
    assert access.show(hub, actors["alice"], application_id=app_id).state == "submitted"


def test_forms_without_their_csrf_token_are_refused(portal) -> None:  # type: ignore[no-untyped-def]
    hub, cs, actors = portal
    app_id = access.create(hub, actors["alice"], content=example()).id
    alice = cs["alice"]
    for path, data in (("/applications/basket", {"product": "dcir", "table": "ER_PRS_F", "var": "BEN_SEX_COD"}),
                       (f"/applications/{app_id}/submit", {}), (f"/applications/{app_id}/withdraw", {})):
        r = alice.post(path, data=data, follow_redirects=False)
        assert r.status_code == 403, path
    assert access.show(hub, actors["alice"], application_id=app_id).state == "draft"
    assert access.show(hub, actors["alice"], application_id=app_id).revision == 1


def test_in_production_a_decision_needs_a_current_code_typed_in_its_form(tmp_path: Path) -> None:
    from dataclasses import replace

    import pyotp

    hub = hub_with_lake(tmp_path)
    actors = prepare(hub, tmp_path)
    app_id = access.create(hub, actors["alice"], content=example()).id
    access.submit(hub, actors["alice"], application_id=app_id)
    operator = hub.config.operator
    accounts.set_password(hub, system_actor(), username=operator, password=PASSWORD)
    secret = accounts.enroll_totp(hub, system_actor(), username=operator)
    with TestClient(create_app(replace(hub.config, mode="production")), raise_server_exceptions=False,
                    base_url="http://testserver") as c:
        c.headers["Accept-Language"] = "en-GB"
        person = Person(operator, "operator", PASSWORD, secret)
        sign_in(c, person, code=person.code(-1))  # the current code is kept for the decision (no replay)
        page = c.get(f"/applications/{app_id}")
        assert 'id="check-code"' in page.text
        for code in ("", "000000"):
            r = _post(c, f"/applications/{app_id}/check", {"outcome": "complete", "reason": "ok", "code": code},
                      f"/applications/{app_id}")
            assert r.status_code == 403 and "second-factor" in r.text, (code, r.status_code)
        assert access.show(hub, actors["alice"], application_id=app_id).state == "submitted"
        r = _post(c, f"/applications/{app_id}/check", {"outcome": "complete", "reason": "ok",
                                                        "code": pyotp.TOTP(secret).now()}, f"/applications/{app_id}")
        assert r.status_code == 303, r.text[:2000]
    assert access.show(hub, actors["alice"], application_id=app_id).state == "under_review"
    hub.close()


def test_the_basket_shows_to_researchers_only(portal) -> None:  # type: ignore[no-untyped-def]
    hub, cs, _actors = portal
    with TestClient(create_app(hub.config), raise_server_exceptions=False, base_url="http://testserver") as anonymous:
        for c in (anonymous, cs["operator"], cs["claire"]):
            for path in ("/catalogue", "/catalogue/dcir", "/catalogue/dcir/dictionary"):
                page = c.get(path)
                assert page.status_code == 200 and 'id="basket"' not in page.text and "/applications/basket" not in page.text
        for path in ("/catalogue", "/catalogue/dcir", "/catalogue/dcir/dictionary", "/catalogue/dcir/tables/ER_PHA_F"):
            assert 'id="basket"' in cs["alice"].get(path).text, path
        r = anonymous.post("/applications/basket", data={"product": "dcir", "table": "ER_PRS_F"}, follow_redirects=False)
        assert r.status_code in (401, 403)
    r = _post(cs["operator"], "/applications/basket", {"product": "dcir", "table": "ER_PRS_F", "var": "BEN_SEX_COD"},
              "/catalogue/dcir")
    assert r.status_code == 403

