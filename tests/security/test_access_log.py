"""The access log: one line per authenticated request (session or API token), with the route template,
never a value from the path or the query; anonymous requests are not logged; files older than the
retention (never less than a year) are pruned. The public checkpoints page needs no account."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.audit import access
from guichet.hub import Hub
from guichet.web import create_app
from tests.conftest import make_hub, run_cli
from tests.web_support import add_person, sign_in


def test_authenticated_requests_are_logged_by_route_template_without_values(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    operator = add_person(hub, hub.config.operator, "operator")
    add_person(hub, "rita.researcher", "researcher")
    issued = accounts.issue_token(hub, system_actor(), username=hub.config.operator, scopes=("api",))
    secret_query = "q=1 85 05 75 123 456 73"
    with TestClient(create_app(hub.config), raise_server_exceptions=False, base_url="http://testserver") as c:
        assert c.get("/api/me").status_code == 401  # anonymous: not in the access log
        assert c.get("/healthz").status_code == 200
        auth = {"Authorization": f"Bearer {issued.token}"}
        assert c.get(f"/api/users/rita.researcher?{secret_query}", headers=auth).status_code == 200
        sign_in(c, operator)
        assert c.get("/accounts").status_code == 200
    lines = access.entries(hub.home)
    by_route = {(e["via"], e["method"], e["route"]): e for e in lines}
    api = by_route[("token", "GET", "/api/users/{username}")]
    assert api["actor"] == hub.config.operator and api["status"] == 200
    assert set(api) == {"at", "actor", "via", "method", "route", "status"}
    assert ("session", "GET", "/accounts") in by_route
    assert all(e["actor"] != "anonymous" for e in lines)
    raw = "".join(p.read_text() for p in access.access_dir(hub.home).iterdir())
    assert "rita.researcher" not in raw and "123 456" not in raw and "/healthz" not in raw
    assert issued.token not in raw
    for path in access.access_dir(hub.home).iterdir():
        assert path.stat().st_mode & 0o077 == 0


def test_the_access_log_is_kept_a_year_at_least(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    for day in ("2024-01-01", "2026-01-01", "2026-11-30"):
        access.record(home, actor="op", via="session", method="GET", route="/", status=200,
                      now=datetime.fromisoformat(day + "T12:00:00+00:00"))
    today = date(2026, 12, 7)
    assert access.prune(home, {"access_log_retention_days": 30}, today) == 1  # raised to 366 days: only 2024 goes
    kept = sorted(p.name for p in access.access_dir(home).iterdir())
    assert kept == ["access-2026-01-01.jsonl", "access-2026-11-30.jsonl"]
    assert access.prune(home, {}, today) == 0  # 400 days by default
    assert access.prune(home, {"access_log_retention_days": 400}, date(2027, 12, 7)) == 1


def test_published_checkpoints_are_public_and_verify(tmp_path: Path) -> None:
    from guichet.audit.checkpoint import SignedCheckpoint, signature_ok
    from guichet.custodian.audit_trail import daily_checkpoint

    hub: Hub = make_hub(tmp_path)
    signed = daily_checkpoint(hub)  # the scheduler's entry point, as the system actor
    assert run_cli(["audit", "checkpoint", "--home", str(hub.home)]).code == 0
    with TestClient(create_app(hub.config), raise_server_exceptions=False, base_url="http://testserver") as c:
        r = c.get("/transparency/checkpoints.json")
    assert r.status_code == 200
    data = r.json()
    assert data["checkpoints"][0]["seq"] == signed.seq and len(data["checkpoints"]) == 2
    assert all(signature_ok(SignedCheckpoint.from_dict(cp), data["public_key"]) for cp in data["checkpoints"])
    assert json.dumps(data).count("BEGIN") == 0  # no private key material, only the raw public key
