"""Self-service in the portal, in-process on SQLite and PostgreSQL: change one's password, replace one's
second factor, list one's sessions and sign out of the others or of all — each audited, each refusing
wrong proofs (and locking after too many), none usable with an API token."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.hub import Hub
from guichet.store.models import AuditEvent, User
from tests.conftest import make_hub
from tests.integration.test_web_api import client_for as _client_for
from tests.web_support import Person, add_person, csrf_of, sign_in

NEW_PASSWORD = "a much longer new passphrase"


@pytest.fixture(params=["sqlite", "postgresql"])
def web_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    db_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    hub = make_hub(tmp_path, db_url=db_url)
    hub.db_url_for_test = db_url  # type: ignore[attr-defined]
    yield hub
    hub.close()


def client_for(hub: Hub, **props: object) -> TestClient:
    client = _client_for(hub, **props)
    client.headers["Accept-Language"] = "en-GB"
    return client


def _events(hub: Hub, action: str) -> list[AuditEvent]:
    with hub.store.read() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars())


def _post(c: TestClient, path: str, data: dict[str, str], page: str | None = None):  # type: ignore[no-untyped-def]
    token = csrf_of(c.get(page or path).text)
    return c.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def _failures(hub: Hub, username: str) -> int:
    with hub.store.read() as s:
        return s.execute(select(User.failed_logins).where(User.username == username)).scalar_one() or 0


def test_change_password_needs_the_current_one_and_ends_the_other_sessions(web_hub: Hub) -> None:
    rita = add_person(web_hub, "rita.researcher", "researcher")
    with client_for(web_hub) as other, client_for(web_hub) as c:
        sign_in(other, rita)
        sign_in(c, rita, code=rita.code(1))  # a code works once: the next step's
        wrong = _post(c, "/account/password", {"current_password": "not it at all", "new_password": NEW_PASSWORD,
                                               "confirm_password": NEW_PASSWORD})
        assert wrong.status_code == 401 and _failures(web_hub, rita.username) == 1
        differ = _post(c, "/account/password", {"current_password": rita.password, "new_password": NEW_PASSWORD,
                                                "confirm_password": NEW_PASSWORD + "x"})
        short = _post(c, "/account/password", {"current_password": rita.password, "new_password": "short",
                                               "confirm_password": "short"})
        assert differ.status_code == 400 and short.status_code == 400
        assert other.get("/").status_code == 200, "refused changes ended nothing"
        ok = _post(c, "/account/password", {"current_password": rita.password, "new_password": NEW_PASSWORD,
                                            "confirm_password": NEW_PASSWORD})
        assert ok.status_code == 303 and ok.headers["location"] == "/account?done=password&ended=1"
        assert "Sessions ended elsewhere: 1" in c.get(ok.headers["location"]).text
        c.cookies.set("guichet_lang", "fr")
        assert "Sessions fermées ailleurs : 1" in c.get(ok.headers["location"]).text
        assert c.get("/").status_code == 200, "this session stays open"
        time.sleep(1.05)  # `other` is another app, like another worker: it may trust its cache 1 s (docs/web.md)
        assert other.get("/").status_code == 401, "the other session ended"
    with client_for(web_hub) as fresh:
        page = fresh.get("/login")
        old = fresh.post("/login", data={"username": rita.username, "password": rita.password,
                                         "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert old.status_code == 401, "the old password no longer signs in"
        page = fresh.get("/login")
        new = fresh.post("/login", data={"username": rita.username, "password": NEW_PASSWORD,
                                         "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert new.status_code == 303 and new.headers["location"] == "/login/totp", "the new one does"
    results = [e.details for e in _events(web_hub, "web.password")]
    assert any('"result":"changed"' in d for d in results) and any('"rule":"wrong current password"' in d
                                                                    for d in results)
    assert not any(NEW_PASSWORD in d or rita.password in d for d in results), "no password in the audit"


def _new_key(html: str) -> str:
    match = re.search(r'id="totp-key">([^<]+)<', html)
    assert match, "the page shows the new key"
    return match.group(1).replace(" ", "")


def test_replace_the_second_factor_with_password_and_both_codes(web_hub: Hub) -> None:
    rita = add_person(web_hub, "rita.researcher", "researcher")
    with client_for(web_hub) as c:
        sign_in(c, rita)
        page = c.get("/account/totp")
        assert page.status_code == 200 and '<svg role="img"' in page.text and "<title>" in page.text
        assert "otpauth://totp/" in page.text and "cdn" not in page.text.lower()
        key = _new_key(page.text)
        assert _new_key(c.get("/account/totp").text) == key, "the same key until it is used or expires"
        new = pyotp.TOTP(key)
        used = _post(c, "/account/totp", {"current_password": rita.password, "current_code": rita.code(),
                                          "new_code": new.now()})
        assert used.status_code == 401, "the code that signed in cannot be used again"
        wrong_new = _post(c, "/account/totp", {"current_password": rita.password, "current_code": rita.code(1),
                                               "new_code": "000000" if new.now() != "000000" else "111111"})
        assert wrong_new.status_code == 400
        ok = _post(c, "/account/totp", {"current_password": rita.password, "current_code": rita.code(1),
                                        "new_code": new.now()})
        assert ok.status_code == 303 and ok.headers["location"].startswith("/account?done=totp")
        assert any(h.startswith("guichet_totp_new=;") or h.startswith('guichet_totp_new="";')
                   for h in ok.headers.get_list("set-cookie")), "the pending key is cleared"
        assert c.get("/").status_code == 200
        assert _new_key(c.get("/account/totp").text) != key, "a later visit offers another key"
    with client_for(web_hub) as fresh:
        sign_in(fresh, replace(rita, totp_secret=key), code=pyotp.TOTP(key).at(_next_step_time()))
    with client_for(web_hub) as old_app:
        page = old_app.get("/login")
        old_app.post("/login", data={"username": rita.username, "password": rita.password,
                                     "csrf_token": csrf_of(page.text)})
        page = old_app.get("/login/totp")
        r = old_app.post("/login/totp", data={"code": rita.code(1), "csrf_token": csrf_of(page.text)},
                         follow_redirects=False)
        assert r.status_code == 401, "the old app no longer signs in"
    details = [e.details for e in _events(web_hub, "web.totp")]
    assert any('"result":"replaced"' in d for d in details)
    assert not any(key in d for d in details), "no secret in the audit"


def _next_step_time() -> float:
    return time.time() + 30  # the enrolment used the current step of the new app


def test_a_pending_key_is_bound_to_its_session(web_hub: Hub) -> None:
    rita = add_person(web_hub, "rita.researcher", "researcher")
    with client_for(web_hub) as a, client_for(web_hub) as b:
        sign_in(a, rita)
        sign_in(b, rita, code=rita.code(1))
        key = _new_key(a.get("/account/totp").text)
        stolen = a.cookies.get("guichet_totp_new") or ""
        b.cookies.set("guichet_totp_new", stolen)
        r = _post(b, "/account/totp", {"current_password": rita.password, "current_code": rita.code(-1),
                                       "new_code": pyotp.TOTP(key).now()}, page="/account")
        assert r.status_code == 400 and _new_key(r.text) != key, "another session's key is not accepted"


def test_open_sessions_and_sign_out_of_the_others_or_everywhere(web_hub: Hub) -> None:
    rita = add_person(web_hub, "rita.researcher", "researcher")
    with client_for(web_hub) as a, client_for(web_hub) as b, client_for(web_hub) as c:
        sign_in(a, rita, code=rita.code(-1))
        sign_in(b, rita)
        sign_in(c, rita, code=rita.code(1))
        page = a.get("/account/sessions")
        assert page.status_code == 200 and "Open sessions: 3" in page.text
        assert page.text.count("this session") == 1
        r = _post(a, "/account/sessions/end", {"which": "others"}, page="/account/sessions")
        assert r.status_code == 303 and r.headers["location"] == "/account/sessions?ended=2"
        assert b.get("/").status_code == 401 and c.get("/").status_code == 401 and a.get("/").status_code == 200
        bad = _post(a, "/account/sessions/end", {"which": "mine"}, page="/account/sessions")
        assert bad.status_code == 400
        r = _post(a, "/account/sessions/end", {"which": "all"}, page="/account/sessions")
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert a.get("/").status_code == 401
    events = _events(web_hub, "web.logout_all")
    assert [e.actor for e in events] == [rita.username] * 2


def test_wrong_proofs_lock_the_account_and_end_all_its_sessions(web_hub: Hub) -> None:
    rita = add_person(web_hub, "rita.researcher", "researcher")
    with client_for(web_hub, web_lockout_threshold=2) as other, client_for(web_hub, web_lockout_threshold=2) as c:
        sign_in(other, rita)
        sign_in(c, rita, code=rita.code(1))
        first = _post(c, "/account/password", {"current_password": "guess number one", "new_password": NEW_PASSWORD,
                                                "confirm_password": NEW_PASSWORD})
        assert first.status_code == 401
        second = _post(c, "/account/totp", {"current_password": "guess number two", "current_code": "123456",
                                            "new_code": "123456"})
        assert second.status_code == 401 and "locked" in second.text
        assert c.get("/").status_code == 401 and other.get("/").status_code == 401


def test_self_service_needs_a_session_not_a_token(web_hub: Hub) -> None:
    rita: Person = add_person(web_hub, "rita.researcher", "researcher")
    token = accounts.issue_token(web_hub, system_actor(), username=rita.username).token
    with client_for(web_hub) as script:
        script.headers["Authorization"] = f"Bearer {token}"
        for path in ("/account/password", "/account/totp", "/account/sessions"):
            assert script.get(path).status_code == 403, path
        r = script.post("/account/sessions/end", data={"which": "all"})
        assert r.status_code == 403
