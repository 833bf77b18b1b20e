"""The web app in-process (TestClient) on SQLite and PostgreSQL: sign-in, lockout, replay, CSRF, sessions,
languages, permissions of every route, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from guichet.accounts.model import split_token
from guichet.config import save_config
from guichet.hub import Hub
from guichet.store.models import AuditEvent, User
from guichet.web import create_app
from tests.conftest import make_hub
from tests.web_support import Person, add_person, csrf_of, sign_in


@pytest.fixture(params=["sqlite", "postgresql"])
def web_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    db_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    hub = make_hub(tmp_path, db_url=db_url)
    hub.db_url_for_test = db_url  # type: ignore[attr-defined]
    yield hub
    hub.close()


def client_for(hub: Hub, **props: object) -> TestClient:
    config = hub.config.with_properties(**props) if props else hub.config
    if props:
        save_config(config)
    app = create_app(config, getattr(hub, "db_url_for_test", None))
    return TestClient(app, raise_server_exceptions=False, base_url="http://testserver")


@pytest.fixture
def people(web_hub: Hub) -> dict[str, Person]:
    return {
        "operator": add_person(web_hub, web_hub.config.operator, "operator"),
        "researcher": add_person(web_hub, "rita.researcher", "researcher"),
        "auditor": add_person(web_hub, "adam.auditor", "auditor"),
    }


def _events(hub: Hub, action: str) -> list[AuditEvent]:
    with hub.store.read() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars())


def test_sign_in_with_password_and_code_then_pages_and_api(web_hub: Hub, people: dict[str, Person]) -> None:
    with client_for(web_hub) as c:
        assert c.get("/").status_code == 401
        sign_in(c, people["operator"])
        home = c.get("/")
        assert home.status_code == 200 and "Guichet" in home.text
        for path in ("/account", "/accounts", "/audit"):
            assert c.get(path).status_code == 200, path
        me = c.get("/api/me").json()
        assert me["username"] == web_hub.config.operator and me["via"] == "session" and me["has_totp"]
        cookie = c.cookies.get("guichet_session")
        assert cookie and "operator" not in cookie
    results = [e.details for e in _events(web_hub, "web.login_totp")]
    assert any('"result":"signed in"' in d for d in results)
    assert all(e.actor == "anonymous" for e in _events(web_hub, "web.login"))


def test_session_cookie_flags(web_hub: Hub, people: dict[str, Person]) -> None:
    with client_for(web_hub) as c:
        page = c.get("/login")
        r = c.post("/login", data={"username": people["researcher"].username, "password": people["researcher"].password,
                                   "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        totp = c.get("/login/totp")
        r = c.post("/login/totp", data={"code": people["researcher"].code(), "csrf_token": csrf_of(totp.text)},
                   follow_redirects=False)
        header = next(v for v in r.headers.get_list("set-cookie") if v.startswith("guichet_session="))
        assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    with client_for(web_hub, web_secure_cookies=True) as c:
        page = c.get("/login")
        assert "Secure" in page.headers["set-cookie"]


def test_wrong_passwords_lock_the_account_until_an_operator_unlocks_it(web_hub: Hub, people: dict[str, Person]) -> None:
    rita = people["researcher"]
    with client_for(web_hub, web_lockout_threshold=3) as c:
        for _ in range(3):
            page = c.get("/login")
            r = c.post("/login", data={"username": rita.username, "password": "wrong password!!",
                                       "csrf_token": csrf_of(page.text)})
            assert r.status_code == 401
        page = c.get("/login")
        r = c.post("/login", data={"username": rita.username, "password": rita.password, "csrf_token": csrf_of(page.text)},
                   follow_redirects=False)
        assert r.status_code == 401, "a locked account must refuse even the right password"
    with web_hub.store.read() as s:
        user = s.execute(select(User).where(User.username == rita.username)).scalar_one()
        assert user.locked_until is not None and user.failed_logins == 3
    with client_for(web_hub) as op:
        sign_in(op, people["operator"])
        locks = op.get("/api/lockouts").json()
        assert [k["username"] for k in locks] == [rita.username] and locks[0]["locked_until"]
        page = op.get("/accounts")
        assert f"/accounts/{rita.username}/unlock" in page.text
        r = op.post(f"/accounts/{rita.username}/unlock", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 303
    assert [e.outcome for e in _events(web_hub, "user.unlock")] == ["ok"]
    with client_for(web_hub) as c:
        sign_in(c, rita)


def test_wrong_codes_count_and_a_used_code_is_refused_as_replay(web_hub: Hub, people: dict[str, Person]) -> None:
    rita = people["researcher"]
    code = rita.code()
    with client_for(web_hub) as c:
        sign_in(c, rita, code)
    with client_for(web_hub) as c:
        page = c.get("/login")
        c.post("/login", data={"username": rita.username, "password": rita.password, "csrf_token": csrf_of(page.text)})
        totp = c.get("/login/totp")
        r = c.post("/login/totp", data={"code": code, "csrf_token": csrf_of(totp.text)}, follow_redirects=False)
        assert r.status_code == 401, "the same code must not open a second session"
        r = c.post("/login/totp", data={"code": "000000" if code != "000000" else "111111",
                                        "csrf_token": csrf_of(totp.text)}, follow_redirects=False)
        assert r.status_code == 401
        assert c.get("/").status_code == 401
    details = [e.details for e in _events(web_hub, "web.login_totp")]
    assert any("code already used" in d for d in details) and any("wrong code" in d for d in details)
    with web_hub.store.read() as s:
        assert s.execute(select(User.failed_logins).where(User.username == rita.username)).scalar_one() == 2


def test_account_without_second_factor_cannot_sign_in(web_hub: Hub) -> None:
    nobody = add_person(web_hub, "no.totp", "researcher", totp=False)
    with client_for(web_hub) as c:
        page = c.get("/login")
        r = c.post("/login", data={"username": nobody.username, "password": nobody.password,
                                   "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 401 and c.get("/login/totp", follow_redirects=False).status_code == 303


def test_rate_limit_per_client_address(web_hub: Hub, people: dict[str, Person]) -> None:
    with client_for(web_hub, web_rate_limit_attempts=3) as c:
        codes = []
        for _ in range(4):
            page = c.get("/login")
            codes.append(c.post("/login", data={"username": "ghost", "password": "x" * 12,
                                                "csrf_token": csrf_of(page.text)}).status_code)
        assert codes == [401, 401, 401, 429]
        r = c.post("/login", data={"username": people["operator"].username, "password": people["operator"].password,
                                   "csrf_token": csrf_of(c.get("/login").text)})
        assert r.status_code == 429, "the limit holds for every account from that address"
    assert all('"obj"' not in e.details for e in _events(web_hub, "web.login"))
    assert {e.object for e in _events(web_hub, "web.login")} == {"user:unknown"}


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(web_hub: Hub, people: dict[str, Person]) -> None:
    with client_for(web_hub) as c:
        sign_in(c, people["auditor"])
        r = c.post("/language", data={"locale": "fr", "next": "/"})
        assert r.status_code == 403 and "Ce formulaire a expiré" in r.text  # default language: fr
        r = c.post("/language", data={"locale": "fr", "csrf_token": "forged"})
        assert r.status_code == 403
        r = c.put("/api/me/locale", json={"locale": "fr"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
        r = c.put("/api/me/locale", json={"locale": "fr"}, headers={"X-CSRF-Token": csrf_of(c.get("/").text)})
        assert r.status_code == 200
    with web_hub.store.read() as s:
        assert s.execute(select(User.locale).where(User.username == people["auditor"].username)).scalar_one() == "fr"


def test_language_choice_is_remembered_and_formats_follow(web_hub: Hub, people: dict[str, Person]) -> None:
    with client_for(web_hub) as c:
        page = c.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert 'lang="en"' in page.text and "Sign in" in page.text
        page = c.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
        assert 'lang="fr"' in page.text and "Connexion" in page.text
        sign_in(c, people["operator"])
        r = c.post("/language", data={"locale": "en", "next": "/account", "csrf_token": csrf_of(c.get("/").text)},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/account"
        account = c.get("/account", headers={"Accept-Language": "fr"})
        assert "My account" in account.text
        r = c.post("/language", data={"locale": "fr", "next": "https://evil.example/", "csrf_token": csrf_of(account.text)},
                   follow_redirects=False)
        assert r.headers["location"] == "/"
        account = c.get("/account")
        assert "Mon compte" in account.text and " à " in account.text  # a French date and time
    with web_hub.store.read() as s:
        assert s.execute(select(User.locale).where(User.username == web_hub.config.operator)).scalar_one() == "fr"
    with client_for(web_hub) as c:  # a new browser: the account's choice wins over the browser's
        sign_in(c, people["operator"], people["operator"].code(1))
        assert 'lang="fr"' in c.get("/", headers={"Accept-Language": "en"}).text


def test_sign_out_ends_the_session_in_the_database(web_hub: Hub, people: dict[str, Person]) -> None:
    with client_for(web_hub) as c:
        sign_in(c, people["researcher"])
        stolen = c.cookies.get("guichet_session")
        r = c.post("/logout", data={"csrf_token": csrf_of(c.get("/").text)}, follow_redirects=False)
        assert r.status_code == 303
    with client_for(web_hub) as thief:
        thief.cookies.set("guichet_session", stolen or "")
        assert thief.get("/").status_code == 401


def test_sign_out_takes_effect_at_once_on_the_worker_despite_its_session_cache(web_hub: Hub,
                                                                              people: dict[str, Person]) -> None:
    with client_for(web_hub, web_session_cache_seconds=3600) as c:  # a cache that would hide it for an hour
        sign_in(c, people["researcher"])
        assert c.get("/").status_code == 200 and c.get("/").status_code == 200  # the second from the cache
        copy = c.cookies.get("guichet_session") or ""
        assert c.post("/logout", data={"csrf_token": csrf_of(c.get("/").text)}).status_code == 200
        c.cookies.set("guichet_session", copy)  # the same session in another tab
        assert c.get("/").status_code == 401


def test_an_account_disabled_in_the_portal_is_refused_at_once_on_the_worker(web_hub: Hub,
                                                                           people: dict[str, Person]) -> None:
    with client_for(web_hub, web_session_cache_seconds=3600) as c:
        sign_in(c, people["researcher"])
        assert c.get("/").status_code == 200 and c.get("/").status_code == 200  # the second from the cache
        rita = c.cookies.get("guichet_session") or ""
        c.cookies.clear()
        sign_in(c, people["operator"])
        operator = c.cookies.get("guichet_session") or ""
        token = csrf_of(c.get("/accounts").text)
        own = c.post(f"/accounts/{people['operator'].username}/disable", data={"csrf_token": token})
        assert own.status_code == 403, "not one's own account (separation of duties)"
        r = c.post("/accounts/rita.researcher/disable", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        assert "Account rita.researcher disabled" in c.get(r.headers["location"], headers={"Accept-Language": "en"}).text
        c.cookies.clear()
        c.cookies.set("guichet_session", rita)
        assert c.get("/").status_code == 401, "refused at once despite an hour-long cache"
        c.cookies.clear()
        c.cookies.set("guichet_session", operator)
        r = c.post("/accounts/rita.researcher/enable", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        assert "Account rita.researcher enabled again" in c.get(r.headers["location"],
                                                                headers={"Accept-Language": "en"}).text


def _probe(c: TestClient, method: str, path: str) -> int:
    url = path.replace("{username}", "adam.auditor")  # someone else
    body = {"json": {"locale": "fr"}} if path == "/api/me/locale" else {}
    return c.request(method, url, **body).status_code


def _operations(c: TestClient) -> list[tuple[str, str, str]]:
    spec = c.get("/api/openapi.json").json()
    return [(m.upper(), p, op["x-permission"]) for p, ops in spec["paths"].items() for m, op in ops.items()]


def test_every_route_refuses_without_credentials_and_with_the_wrong_role(web_hub: Hub, people: dict[str, Person]) -> None:
    from guichet.governance import ACTIONS

    with client_for(web_hub) as anon:
        ops = _operations(anon)
        assert len(ops) >= 18
        for method, path, permission in ops:
            status = _probe(anon, method, path)
            if permission == "public":
                assert status != 401, (method, path)
            else:
                assert status == 401, (method, path, status)
    with client_for(web_hub) as rita:
        sign_in(rita, people["researcher"])
        token = csrf_of(rita.get("/").text)
        rita.headers["X-CSRF-Token"] = token
        for method, path, permission in ops:
            if permission == "public" or path in ("/logout",):
                continue
            spec = ACTIONS[permission]
            if "researcher" in spec.roles or ("self" in spec.roles and "{username}" not in path):
                continue
            assert _probe(rita, method, path) == 403, (method, path)
    denied = [e for e in _events(web_hub, "user.list") if e.outcome == "refused"]
    assert denied and denied[-1].actor == "rita.researcher"


def test_api_tokens_for_scripts(web_hub: Hub, people: dict[str, Person]) -> None:
    from guichet.accounts import services as accounts
    from guichet.actor import system_actor

    issued = accounts.issue_token(web_hub, system_actor(), username="adam.auditor", scopes=("api",))
    cli_only = accounts.issue_token(web_hub, system_actor(), username="adam.auditor", scopes=("cli",))
    with client_for(web_hub) as c:
        auth = {"Authorization": f"Bearer {issued.token}"}
        assert c.get("/api/me", headers=auth).json()["via"] == "token"
        assert len(c.get("/api/users", headers=auth).json()) == 3
        assert c.get("/api/audit/verify", headers=auth).json()["ok"] is True
        assert c.post("/api/users/rita.researcher/unlock", headers=auth).status_code == 403
        r = c.get("/api/me", headers={"Authorization": f"Bearer {cli_only.token}"})
        assert r.status_code == 401 and "not valid for api" in r.json()["error"]["message"]
        r = c.get("/api/me", headers={"Authorization": "Bearer gch_nope_nope"})
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        parts = split_token(issued.token)  # the secret may itself contain "_": split as the hub does
        assert parts is not None and parts[1] not in r.text and "gch_nope_nope" not in r.text


def test_errors_are_json_for_the_api_and_pages_for_people(web_hub: Hub, people: dict[str, Person]) -> None:
    with client_for(web_hub) as c:
        r = c.get("/api/nothing-here")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = c.get("/nothing-here", headers={"Accept-Language": "fr"})
        assert r.status_code == 404 and "Page introuvable" in r.text and "<h1>" in r.text
        r = c.get("/api/users")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
        sign_in(c, people["operator"])
        token = csrf_of(c.get("/").text)
        r = c.put("/api/me/locale", json={"locale": "1850775123456 secret"}, headers={"X-CSRF-Token": token})
        assert r.status_code == 422 and "locale" in r.json()["error"]["message"]
        assert "1850775123456" not in r.text
        r = c.get("/api/users/nobody.here")
        assert r.status_code == 404
        r = c.delete("/api/me")
        assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_health_and_readiness(web_hub: Hub) -> None:
    with client_for(web_hub) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json() == {"status": "ready"}
        assert "set-cookie" not in c.get("/healthz").headers
