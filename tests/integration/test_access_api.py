"""The applications' JSON API with API tokens: the whole path to an authorisation; a decision without a
current second-factor code in X-Guichet-TOTP is refused (a token alone never decides), as is a wrong code
and a step from the applicant's organisation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.hub import Hub
from guichet.web import create_app
from tests.application_support import example, hub_with_lake, prepare


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Hub, dict[str, tuple[str, str]]]]:
    hub = hub_with_lake(tmp_path)
    prepare(hub, tmp_path)
    creds = {}
    for who in ("alice", "operator", "op.same", "claire", "arthur"):
        token = accounts.issue_token(hub, system_actor(), username=who).token
        secret = accounts.enroll_totp(hub, system_actor(), username=who)
        creds[who] = (token, secret)
    with TestClient(create_app(hub.config), raise_server_exceptions=False, base_url="http://testserver") as c:
        yield c, hub, creds
    hub.close()


def _h(creds: dict[str, tuple[str, str]], who: str, totp: bool = False, wrong: bool = False) -> dict[str, str]:
    token, secret = creds[who]
    headers = {"authorization": f"Bearer {token}"}
    if totp:
        code = pyotp.TOTP(secret).now()
        headers["x-guichet-totp"] = code if not wrong else f"{(int(code) + 500000) % 1000000:06d}"
    return headers


def test_the_path_to_an_authorisation_through_the_api(api: tuple[TestClient, Hub, dict[str, tuple[str, str]]]) -> None:
    c, _hub, creds = api
    r = c.post("/api/applications", json=example(), headers=_h(creds, "alice"))
    assert r.status_code == 200, r.text
    app = r.json()["id"]
    assert c.post(f"/api/applications/{app}/submit", headers=_h(creds, "alice")).json()["state"] == "submitted"

    # a token alone never decides; a wrong code neither; the applicant's organisation never
    r = c.post(f"/api/applications/{app}/check", json={"complete": True, "reason": "ok"}, headers=_h(creds, "operator"))
    assert r.status_code == 403 and "second-factor" in r.text
    r = c.post(f"/api/applications/{app}/check", json={"complete": True, "reason": "ok"},
               headers=_h(creds, "operator", totp=True, wrong=True))
    assert r.status_code == 403
    r = c.post(f"/api/applications/{app}/check", json={"complete": True, "reason": "ok"},
               headers=_h(creds, "op.same", totp=True))
    assert r.status_code == 403 and "own organisation" in r.text
    assert c.get(f"/api/applications/{app}", headers=_h(creds, "alice")).json()["state"] == "submitted"

    r = c.post(f"/api/applications/{app}/check", json={"complete": True, "reason": "complete"},
               headers=_h(creds, "operator", totp=True))
    assert r.status_code == 200 and r.json()["state"] == "under_review", r.text
    r = c.post(f"/api/applications/{app}/decision", json={"authorise": True, "reason": "skip"},
               headers=_h(creds, "arthur", totp=True))
    assert r.status_code == 403 and "cannot be decided" in r.text
    r = c.post(f"/api/applications/{app}/notes", json={"section": "safeguards", "text": "who checks outputs",
                                                     "to_applicant": True}, headers=_h(creds, "claire"))
    assert r.status_code == 200, r.text
    r = c.post(f"/api/applications/{app}/opinion", json={"outcome": "favourable", "reason": "sound design"},
               headers=_h(creds, "claire", totp=True))
    assert r.status_code == 200 and r.json()["state"] == "opinion", r.text
    r = c.post(f"/api/applications/{app}/decision", json={"authorise": True, "reason": "favourable opinion"},
               headers=_h(creds, "arthur"))
    assert r.status_code == 403
    r = c.post(f"/api/applications/{app}/decision", json={"authorise": True, "reason": "favourable opinion"},
               headers=_h(creds, "arthur", totp=True))
    assert r.status_code == 200 and r.json()["state"] == "authorised", r.text
    shown = c.get(f"/api/applications/{app}", headers=_h(creds, "alice")).json()
    assert [h["to"] for h in shown["history"]] == ["draft", "submitted", "under_review", "opinion", "authorised"]
    assert [n["section"] for n in shown["notes"]] == ["safeguards"]
    listed = c.get("/api/applications", params={"state": "authorised"}, headers=_h(creds, "arthur")).json()
    assert [a["id"] for a in listed] == [app]
    assert c.get(f"/api/applications/{app}/diff", headers=_h(creds, "claire")).json()["changes"] == []


def test_invalid_application_names_the_path(api: tuple[TestClient, Hub, dict[str, tuple[str, str]]]) -> None:
    c, _hub, creds = api
    bad = example()
    bad["data"][0]["variables"] = ["NOPE"]
    r = c.post("/api/applications", json=bad, headers=_h(creds, "alice"))
    assert r.status_code == 400 and "data[0].variables[0]" in r.text
    assert c.post("/api/applications", json=example(), headers=_h(creds, "claire")).status_code == 403
