"""A permit's life through the command line: estimate, acceptance, issue, export and verification, amend
(narrowing at once, widening after approval), extend, expiry by the scheduler, revocation with exclusion;
each person's access follows their own training attestation."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from guichet.permits.state import person_has_access
from guichet.permits.tables import Permit
from tests.access_support import APPLICANT_ORG, EXAMPLE, CliCalls, hub_with_lake, prepare
from tests.conftest import run_cli

TODAY = datetime.now(UTC).date()


@dataclass
class Desk(CliCalls):
    home: Path
    hub: Any

    def refused(self, *args: str, who: str | None = None, says: str = "") -> str:
        r = self.run(*args, who=who)
        assert r.code == 2, (r.stdout, r.stderr)
        assert says in r.stderr, r.stderr
        return str(r.stderr)

    def authorised(self, who: str = "alice") -> int:
        app = int(self.ok("application", "create", "--file", str(EXAMPLE), who=who)["id"])
        self.ok("application", "submit", str(app), who=who)
        self.ok("application", "check", str(app), "--complete", "--reason", "all sections present")
        self.ok("review", "opinion", str(app), "--favourable", "--reason", "sound design", "--present", "marc",
                "--vote", "2,0,0", who="claire")
        self.ok("review", "decide", str(app), "--authorise", "--reason", "favourable opinion", who="arthur")
        return app


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """One hub for the module (its lake holds the handcrafted delivery the example's criteria need): each test
    makes its own applications."""
    root = tmp_path_factory.mktemp("permits")
    hub = hub_with_lake(root)
    prepare(hub, root)
    d = Desk(hub.home, hub)
    d.ok("user", "add", "bruno", "--role", "researcher", "--org", APPLICANT_ORG)
    until = (TODAY + timedelta(days=400)).isoformat()
    for who in ("alice", "bruno", "bob"):
        d.ok("user", "attest", who, "--until", until)
    yield d
    hub.close()


def test_issue_export_verify_amend_extend_expire(desk: Desk, tmp_path: Path) -> None:
    app = str(desk.authorised())
    desk.refused("permit", "issue", app, says="no accepted fee estimate")
    desk.refused("permit", "estimate", app, who="bob", says="permit.estimate")  # not the applicant, not an operator
    est = desk.ok("permit", "estimate", app, "--compute-hours", "100", who="alice")["estimate"]
    assert est["state"] == "proposed" and est["org_kind"] == "academic" and est["total_cents"] == 0
    desk.refused("permit", "accept-estimate", app, who="bob", says="")
    assert desk.ok("permit", "accept-estimate", app, who="alice")["estimate"]["state"] == "accepted"
    desk.refused("permit", "issue", app, "--person", "cnam", says="training attestation")
    desk.refused("permit", "issue", app, who="op.same", says="own organisation")
    permit = desk.ok("permit", "issue", app, "--person", "bruno")["permit"]
    pid = permit["id"]
    assert pid.startswith(f"P-{TODAY.year}-") and permit["state"] == "active" and permit["revision"] == 1
    assert [(p["name"], p["role"], p["access"]) for p in permit["people"]] == [
        ("alice", "principal_investigator", True), ("bruno", "member", True)]
    doc = permit["document"]
    assert doc["data"]["tables"] == ["ER_PHA_F", "ER_PRS_F"] and doc["population"]["period"]["end"] == "2023-12-31"
    assert doc["validity"]["start"] == TODAY.isoformat() and doc["pseudonymisation"] == "pseudonymised"
    desk.refused("permit", "issue", app, says="already has its permit")
    with desk.hub.store.read() as s:  # the accepted estimate became the permit's invoice
        from sqlalchemy import select

        from guichet.permits.tables import Invoice

        invoice = s.execute(select(Invoice).where(Invoice.permit_id == pid)).scalar_one()
        assert (invoice.total_cents, invoice.status, invoice.application) == (0, "issued", app)
        assert [ln["item"] for ln in invoice.lines][:4] == ["application", "products", "months", "compute_hours"]

    out = tmp_path / "permit.json"
    assert desk.ok("permit", "show", pid, who="bruno")["id"] == pid  # named on it
    hidden = desk.run("permit", "show", pid, who="bob")  # neither holds it nor is named on it
    assert hidden.code != 0 and f"no permit {pid}" in hidden.stderr and "bob" not in hidden.stderr
    assert desk.run("permit", "export", pid, "--out", str(tmp_path / "x.json"), who="bob").code != 0
    assert not (tmp_path / "x.json").exists()
    desk.ok("permit", "export", pid, "--out", str(out), who="alice")
    key = desk.ok("permit", "key")
    assert run_cli(["permit", "verify", str(out), "--key-id", key["key_id"]]).code == 0
    data = json.loads(out.read_text())
    data["permit"]["people"].append({"name": "mallory", "role": "member", "attested_until": None})
    out.write_text(json.dumps(data))
    assert run_cli(["permit", "verify", str(out)]).code == 1

    # narrowing: at once
    p2 = desk.ok("permit", "amend", pid, "--remove-person", "bruno", "--reason", "left the team")["permit"]
    assert p2["revision"] == 2 and [p["name"] for p in p2["people"]] == ["alice"]
    desk.refused("permit", "amend", pid, "--remove-person", "alice", "--reason", "x", says="principal investigator")
    # widening: requested, then approved by an authority
    p3 = desk.ok("permit", "amend", pid, "--add-variable", "ER_PHA_F.PHA_ACT_PRU", "--reason", "price needed")["permit"]
    assert p3["revision"] == 2 and p3["pending_amendments"][0]["change"] == "add_variable"
    desk.refused("permit", "amend", pid, "--add-variable", "ER_PHA_F.NOPE", "--reason", "x", says="dictionary")
    amendment = str(p3["pending_amendments"][0]["id"])
    p4 = desk.ok("permit", "approve", pid, amendment, "--reason", "proportionate", who="arthur")["permit"]
    assert p4["revision"] == 3 and {"table": "ER_PHA_F", "variable": "PHA_ACT_PRU"} in p4["document"]["data"]["variables"]
    # one extension, at most the first length
    end = date.fromisoformat(p4["valid_until"])
    desk.refused("permit", "extend", pid, "--until", (end + timedelta(days=3000)).isoformat(), "--reason", "x",
                 says="first length")
    p5 = desk.ok("permit", "extend", pid, "--until", (end + timedelta(days=180)).isoformat(), "--reason", "follow-up")
    assert p5["permit"]["extended"] and p5["permit"]["revision"] == 4
    desk.refused("permit", "extend", pid, "--until", (end + timedelta(days=200)).isoformat(), "--reason", "x",
                 says="already extended")
    desk.ok("permit", "export", pid, "--out", str(out), "--revision", "4")
    assert run_cli(["permit", "verify", str(out)]).code == 0
    assert json.loads(out.read_text())["permit"]["validity"]["extension"]["reason"] == "follow-up"

    # the scheduler expires it after its last day; then it cannot change
    after = (end + timedelta(days=181)).isoformat()
    run = desk.ok("jobs", "run", "--now", after)
    assert f"permit:{pid}" in {i for j in run["jobs"] if j["job"] == "permits.expire" for i in j["items"]}
    assert desk.ok("jobs", "run", "--now", after)["changed"] == 0
    shown = desk.ok("permit", "show", pid, who="alice")
    assert shown["state"] == "expired" and shown["results_due"] and shown["delete_by"]
    desk.refused("permit", "amend", pid, "--remove-person", "alice", "--reason", "x", says="expired")
    assert {p["id"]: p["state"] for p in desk.ok("permit", "list", who="alice")}[pid] == "expired"
    assert pid not in {p["id"] for p in desk.ok("permit", "list", who="bob")}


def test_an_expired_attestation_suspends_that_person_only(desk: Desk) -> None:
    app = str(desk.authorised())
    desk.ok("permit", "estimate", app)
    desk.ok("permit", "accept-estimate", app, who="alice")
    pid = desk.ok("permit", "issue", app)["permit"]["id"]
    desk.ok("user", "add", "carla", "--role", "researcher", "--org", APPLICANT_ORG)
    desk.refused("permit", "amend", pid, "--add-person", "carla", "--reason", "joins", says="training attestation")
    desk.ok("user", "attest", "carla", "--until", (TODAY + timedelta(days=10)).isoformat())
    pending = desk.ok("permit", "amend", pid, "--add-person", "carla", "--reason", "joins the team")["permit"]
    assert [p["name"] for p in pending["people"]] == ["alice"]  # widening: not before approval
    desk.refused("permit", "approve", pid, str(pending["pending_amendments"][0]["id"]), "--reason", "ok",
                 says="permit.approve")  # the operator who asked does not approve
    added = desk.ok("permit", "approve", pid, str(pending["pending_amendments"][0]["id"]), "--reason", "ok",
                    who="arthur")["permit"]
    assert [(p["name"], p["access"]) for p in added["people"]] == [("alice", True), ("carla", True)]
    with desk.hub.store.read() as s:
        from guichet.permits.state import effective_state

        permit = s.get(Permit, pid)
        assert permit is not None
        day = TODAY + timedelta(days=11)  # carla's attestation ended: her access only is suspended
        assert not person_has_access(s, permit, "carla", day)
        assert person_has_access(s, permit, "alice", day) and effective_state(s, permit, day) == "active"
        later = TODAY + timedelta(days=401)  # nobody holds one any more: the permit is suspended
        assert effective_state(s, permit, later) == "suspended"
        assert not person_has_access(s, permit, "mallory", TODAY)


def test_revocation_excludes_the_organisation(desk: Desk) -> None:
    app = str(desk.authorised(who="bob"))  # an industry applicant: priced
    other = str(desk.authorised(who="bob"))  # authorised before the revocation
    assert desk.ok("permit", "estimate", app)["estimate"]["total_cents"] > 0
    desk.ok("permit", "accept-estimate", app, who="bob")
    pid = desk.ok("permit", "issue", app)["permit"]["id"]
    desk.refused("permit", "revoke", pid, "--reason", "breach", "--exclude-years", "6", says="")
    out = desk.ok("permit", "revoke", pid, "--reason", "data shared outside the workspace", "--exclude-years", "2",
                  who="arthur")["permit"]
    assert out["state"] == "revoked" and out["exclude_until"] == TODAY.replace(year=TODAY.year + 2).isoformat()
    assert out["document"]["revocation"]["reason"] == "data shared outside the workspace"
    desk.refused("permit", "revoke", pid, "--reason", "again", who="arthur", says="already revoked")
    desk.refused("permit", "estimate", other, says="excluded from access until")
    later = str(desk.ok("application", "create", "--file", str(EXAMPLE), who="bob")["id"])
    desk.refused("application", "submit", later, who="bob", says="excluded from access until")
    assert desk.ok("application", "show", later, who="bob")["state"] == "draft"
    assert desk.ok("permit", "show", pid)["state"] == "revoked"


def test_the_public_registry_and_its_feeds(desk: Desk, tmp_path: Path) -> None:
    from xml.etree import ElementTree as ET

    from starlette.testclient import TestClient

    from guichet.web import create_app

    app = str(desk.authorised())
    desk.ok("permit", "estimate", app)
    desk.ok("permit", "accept-estimate", app, who="alice")
    pid = desk.ok("permit", "issue", app, "--person", "bruno")["permit"]["id"]
    waiting = int(desk.ok("application", "create", "--file", str(EXAMPLE), who="alice")["id"])
    desk.ok("application", "submit", str(waiting), who="alice")
    with TestClient(create_app(desk.hub.config)) as client:  # nobody signed in: a citizen
        data = client.get("/registry.json").json()
        key = desk.ok("permit", "key")
        assert data["hub"]["signing_key"]["key_id"] == key["key_id"]
        assert data["hub"]["signing_key"]["public_key"] == key["public_key"]
        by_id = {a["id"]: a for a in data["applications"]}
        granted = by_id[f"A-{app}"]
        assert granted["status"] == "authorised" and granted["permit"] == pid
        assert granted["organisation"] == APPLICANT_ORG and granted["principal_investigator"] == "Dr Alice Martin"
        assert granted["decision"]["outcome"] == "authorised" and granted["decision"]["reason"] == "favourable opinion"
        assert granted["decision"]["publish_by"] > granted["decision"]["date"]
        assert [o["outcome"] for o in granted["opinions"]] == ["favourable"]
        assert by_id[f"A-{waiting}"]["status"] == "submitted" and by_id[f"A-{waiting}"]["due"]
        assert {p["id"]: p["state"] for p in data["permits"]}[pid] == "active"
        text = client.get("/registry.json").text
        for personal in ("alice", "bruno", "\"bob\""):  # no account names, no named people
            assert personal not in text.replace("Alice Martin", "")
        page = client.get("/registry")
        assert page.status_code == 200 and pid in page.text and "Dr Alice Martin" in page.text
        assert "bruno" not in page.text
        assert pid in client.get("/registry", params={"product": "dcir"}).text
        assert 'href="/catalogue/dcir"' in page.text  # the registry links to the product...
        assert 'href="/registry?product=dcir"' in client.get("/catalogue/dcir").text  # ...and back
        assert pid not in client.get("/registry", params={"product": "pmsi"}).text
        atom = client.get("/registry.atom")
        assert atom.headers["content-type"].startswith("application/atom+xml")
        feed = ET.fromstring(atom.content)  # noqa: S314 - the hub's own feed, made by this test
        ns = {"a": "http://www.w3.org/2005/Atom"}
        titles = [e.findtext("a:title", namespaces=ns) for e in feed.findall("a:entry", ns)]
        assert any(pid in (t or "") for t in titles) and any("authorised" in (t or "") for t in titles)
        schema = client.get("/registry/permit.schema.json")
        assert schema.status_code == 200 and json.loads(schema.text)["$defs"]["permit"]["properties"]["format"]


def test_the_scheduler_lapses_flags_and_tells_applicants_once(desk: Desk) -> None:
    from sqlalchemy import select

    from guichet.permits.tables import Notification

    # one application left incomplete (the applicant never answers), one waiting for its completeness check
    waiting = int(desk.ok("application", "create", "--file", str(EXAMPLE), who="alice")["id"])
    desk.ok("application", "submit", str(waiting), who="alice")
    silent = int(desk.ok("application", "create", "--file", str(EXAMPLE), who="alice")["id"])
    desk.ok("application", "submit", str(silent), who="alice")
    desk.ok("application", "check", str(silent), "--incomplete", "--reason", "the ethics section is empty")
    day = (TODAY + timedelta(days=60)).isoformat()
    first = {j["job"]: set(j["items"]) for j in desk.ok("jobs", "run", "--now", day)["jobs"]}
    assert first["applications.lapse"] == {f"application:{silent}"}
    assert f"application:{waiting}" in first["applications.overdue"]
    assert f"application:{silent}" in first["applications.notify"]  # incomplete, lapsed
    assert desk.ok("application", "show", str(silent), who="alice")["state"] == "lapsed"
    assert desk.ok("jobs", "run", "--now", day)["changed"] == 0
    with desk.hub.store.read() as s:
        notes = s.execute(select(Notification.recipient, Notification.subject, Notification.delivered_at)).all()
    assert all(n.delivered_at is not None for n in notes)
    assert any(n.recipient == "alice" and f"Application {silent}: lapsed" == n.subject for n in notes)
    assert any(n.recipient == "operator" and "overdue" in n.subject for n in notes)
    assert len(list((desk.home / "outbox").glob("*.eml"))) == len(notes)  # every message delivered once


def test_the_permit_page_for_its_holder_and_the_overdue_panel(desk: Desk) -> None:
    from starlette.testclient import TestClient

    from guichet.accounts import services as accounts
    from guichet.actor import system_actor
    from guichet.web import create_app
    from tests.web_support import PASSWORD, Person, sign_in

    app = str(desk.authorised())
    desk.ok("permit", "estimate", app)
    desk.ok("permit", "accept-estimate", app, who="alice")
    pid = desk.ok("permit", "issue", app, "--person", "bruno")["permit"]["id"]
    people = {}
    for name in ("alice", "bob", "operator"):
        accounts.set_password(desk.hub, system_actor(), username=name, password=PASSWORD)
        people[name] = Person(name, "x", PASSWORD, accounts.enroll_totp(desk.hub, system_actor(), username=name))
    with TestClient(create_app(desk.hub.config)) as client:
        assert client.get(f"/permits/{pid}").status_code == 401
        sign_in(client, people["alice"])
        page = client.get(f"/permits/{pid}")
        assert page.status_code == 200
        for text in (pid, "bruno", "PHA_PRS_C13", "Université de test", "guichet permit verify"):
            assert text in page.text
    with TestClient(create_app(desk.hub.config)) as client:
        sign_in(client, people["bob"])  # another researcher: not theirs, answered as not found
        assert client.get(f"/permits/{pid}").status_code == 404
    with TestClient(create_app(desk.hub.config)) as client:
        sign_in(client, people["operator"])
        assert client.get(f"/permits/{pid}").status_code == 200
        home = client.get("/")
        text = html.unescape(home.text)
        assert home.status_code == 200 and ("Nothing is overdue" in text or "Rien n'est en retard" in text)


def test_the_demo_stage_issues_and_verifies_the_sample_permit(desk: Desk) -> None:
    from guichet.accounts.auth import actor_for
    from guichet.demo.permit import permit_stage
    from guichet.demo.run import DemoRequest, DemoRun

    operator = actor_for(desk.hub, desk.hub.config.operator).with_strong_auth()
    run = DemoRun(DemoRequest(home=desk.home), desk.hub, operator, accounts={"researcher": "alice"})
    part, lines = permit_stage(run)
    assert part == {"issued": False} and lines == [] and "permit" not in run.extra
    run.extra["application"] = {"id": desk.authorised()}
    part, lines = permit_stage(run)
    assert part == {"issued": True, "verified": True}
    permit = run.extra["permit"]
    assert permit["state"] == "active" and permit["verified"] and permit["fees"] == "0.00 EUR"
    assert run_cli(["permit", "verify", permit["file"]]).code == 0
