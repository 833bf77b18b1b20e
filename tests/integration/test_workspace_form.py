"""The application form asks for exact dates (and a per-person date shift) and warns, in French and in
English, that exact dates allow cross-project linkage; what it saves reaches the permit's ``data.granted``,
which the extract reads."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guichet.access import services as access
from guichet.access.contents import EXACT_FIELDS
from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.permits.issuing import build_document
from guichet.web import create_app
from guichet.workspace import rules
from tests.access_support import example, hub_with_lake, prepare
from tests.web_support import PASSWORD, Person, csrf_of, sign_in

LOCALES = Path(__file__).parents[2] / "src" / "guichet" / "access" / "locales"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, TestClient, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("workspace-form")
    hub = hub_with_lake(root)
    actors = prepare(hub, root)
    accounts.set_password(hub, system_actor(), username="alice", password=PASSWORD)
    secret = accounts.enroll_totp(hub, system_actor(), username="alice")
    c = TestClient(create_app(hub.config), raise_server_exceptions=False, base_url="http://testserver")
    sign_in(c, Person("alice", "", PASSWORD, secret))
    with c:
        yield hub, c, actors
    hub.close()


def _text(lang: str, key: str) -> str:
    return str(json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))[key])


def test_the_exact_fields_are_the_ones_an_extract_coarsens() -> None:
    assert EXACT_FIELDS == rules.DATE_FIELDS | set(rules.REMOVED_FIELDS)


def test_the_form_warns_that_exact_dates_allow_linkage_and_saves_the_grant(portal: Any) -> None:
    hub, c, actors = portal
    app = access.create(hub, actors["alice"], content=example()).id
    for lang in ("en", "fr"):
        c.headers["Accept-Language"] = "fr-FR" if lang == "fr" else "en-GB"
        page = c.get(f"/applications/{app}")
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert 'id="w-exact"' in page.text and _text(lang, "form.exact.warning") in text
        assert _text(lang, "form.exact.warning.title") in text
        assert 'name="exact" value="dcir/ER_PRS_F/EXE_SOI_DTD"' in page.text
        assert 'name="exact" value="dcir/ER_PRS_F/BEN_SEX_COD"' not in page.text  # not an identifying field
        assert 'name="id_date_shift"' in page.text
    # the exact date and a 20-day shift, saved with the rest of the form
    from tests.integration.test_access_pages import _form

    c.headers["Accept-Language"] = "en-GB"
    form = [*_form(example()), ("exact", "dcir/ER_PRS_F/EXE_SOI_DTD"), ("exact", "dcir/ER_PRS_F/BEN_SEX_COD")]
    form = [(k, v) for k, v in form if k != "id_date_shift"] + [("id_date_shift", "20")]
    data: dict[str, list[str]] = {}
    for k, v in [*form, ("csrf_token", csrf_of(c.get(f"/applications/{app}").text))]:
        data.setdefault(k, []).append(v)
    r = c.post(f"/applications/{app}/save", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    content = access.show(hub, actors["alice"], application_id=app).content
    prs = next(d for d in content["data"] if d["table"] == "ER_PRS_F")
    assert prs["granted"] == ["EXE_SOI_DTD"]  # BEN_SEX_COD is no identifying field: not granted
    assert content["identification"]["date_shift_days"] == 20
    page = c.get(f"/applications/{app}")
    assert 'name="exact" value="dcir/ER_PRS_F/EXE_SOI_DTD" checked' in page.text
    # the permit's document carries the grant and the shift (what the extract reads)
    doc = build_document(permit_id="P-2026-0001", issued=date(2026, 1, 5), hub_name="t",
                         application={"content": content, "label": "A"}, org="o", org_kind="academic",
                         principal_investigator="alice", people=[], start=date(2026, 1, 5),
                         end=date(2027, 1, 4), max_days=365,
                         fees={"currency": "EUR", "total_cents": 0, "schedule": "s", "lines": []}, properties={})
    assert doc["data"]["granted"] == ["ER_PRS_F.EXE_SOI_DTD"] and doc["data"]["date_shift_days"] == 20
