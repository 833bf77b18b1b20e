"""Every path of an application through the command line: approval, refusal, revision, lapse, withdrawal;
and steps out of turn, by the wrong role or from the applicant's organisation exit 2 with their reason and
change nothing but the audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from guichet.store.models import AuditEvent
from tests.access_support import CliCalls
from tests.application_support import EXAMPLE, example, hub_with_lake, lake_unchecked, prepare
from tests.conftest import make_hub, run_cli


@dataclass
class Desk(CliCalls):
    home: Path
    root: Path
    hub: Any

    def refused(self, *args: str, who: str | None = None, says: str = "") -> str:
        before = self.show(1) if self._exists(1) else None
        events = self.audit_count()
        r = self.run(*args, who=who)
        assert r.code == 2, (r.stdout, r.stderr)
        assert r.stdout == ""
        assert says in r.stderr, r.stderr
        if before is not None:
            assert self.show(1) == before, "a refused step changed the application"
        assert self.audit_count() > events, "the refusal is not in the audit trail"
        return r.stderr

    def _exists(self, app_id: int) -> bool:
        return self.run("application", "show", str(app_id), who="alice").code == 0

    def show(self, app_id: int, who: str = "alice") -> dict[str, Any]:
        """As the applicant sees it (reviewers see no draft)."""
        return self.ok("application", "show", str(app_id), who=who)  # type: ignore[no-any-return]

    def audit_count(self) -> int:
        with self.hub.store.read() as s:
            return int(s.execute(select(func.count()).select_from(AuditEvent)).scalar_one())

    def new(self, who: str = "alice") -> int:
        return int(self.ok("application", "create", "--file", str(EXAMPLE), who=who)["id"])

    def to_review(self, who: str = "alice") -> int:
        app = self.new(who)
        self.ok("application", "submit", str(app), who=who)
        self.ok("application", "check", str(app), "--complete", "--reason", "all sections present")
        return app


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    hub = hub_with_lake(tmp_path)
    prepare(hub, tmp_path)
    yield Desk(hub.home, tmp_path, hub)
    hub.close()


def test_approval_with_both_panels(desk: Desk) -> None:
    app = desk.new()
    shown = desk.show(app)
    assert shown["state"] == "draft" and shown["due"] is None and shown["org_kind"] == "academic"
    submitted = desk.ok("application", "submit", str(app), who="alice")
    assert submitted["state"] == "submitted" and submitted["due"]
    desk.ok("application", "check", str(app), "--complete", "--reason", "all sections present")
    desk.ok("review", "opinion", str(app), "--favourable", "--reason", "useful to patients", "--panel", "citizens",
            who="paul")
    desk.ok("review", "opinion", str(app), "--favourable", "--reason", "sound design", "--present", "marc",
            "--vote", "2,0,0", "--conflict", "nina.same:works in the applicant's university", who="claire")
    out = desk.ok("review", "decide", str(app), "--authorise", "--reason", "favourable opinion", who="arthur")
    assert out["state"] == "authorised"
    shown = desk.show(app)
    assert [h["to"] for h in shown["history"]] == ["draft", "submitted", "under_review", "opinion", "authorised"]
    assert shown["decision_reason"] == "favourable opinion" and shown["due"] is None
    panels = {o["panel"]: o for o in shown["opinions"]}
    assert panels["citizens"]["binding"] is False and panels["scientific"]["binding"] is True
    assert panels["scientific"]["conflicts"] == [{"member": "nina.same", "declaration": "works in the applicant's university"}]
    assert panels["scientific"]["present"] == ["claire", "marc"]


def test_refusal_after_an_unfavourable_opinion(desk: Desk) -> None:
    app = desk.to_review()
    desk.ok("review", "opinion", str(app), "--unfavourable", "--reason", "no public benefit shown", who="claire")
    desk.refused("review", "decide", str(app), "--authorise", "--reason", "we disagree", who="arthur",
                 says="may only refuse")
    out = desk.ok("review", "decide", str(app), "--refuse", "--reason", "unfavourable scientific opinion", who="arthur")
    assert out["state"] == "refused"
    desk.refused("application", "withdraw", str(app), who="alice", says="cannot be withdrawn")


def test_incomplete_then_revision_with_differences_and_notes(desk: Desk) -> None:
    app = desk.new()
    desk.ok("application", "submit", str(app), who="alice")
    out = desk.ok("application", "check", str(app), "--incomplete", "--reason", "ethics committee missing")
    assert out["state"] == "incomplete" and out["due"] is None and out["answer_due"]
    revised = example()
    revised["safeguards"] = revised["safeguards"] + " Outputs are checked twice."
    path = desk.root / "v2.json"
    path.write_text(json.dumps(revised), encoding="utf-8")
    out = desk.ok("application", "answer", str(app), "--file", str(path), who="alice")
    assert out["state"] == "submitted" and out["revision"] == 2
    desk.ok("application", "check", str(app), "--complete", "--reason", "complete now")
    desk.ok("review", "note", str(app), "--section", "safeguards", "--text", "who checks outputs?", "--to-applicant",
            who="claire")
    desk.ok("review", "note", str(app), "--section", "data", "--text", "is ER_PRS_F needed at all", who="claire")
    out = desk.ok("review", "opinion", str(app), "--revise", "--reason", "justify every variable", who="claire")
    assert out["state"] == "revise"
    applicant_view = desk.ok("application", "show", str(app), who="alice")
    assert [n["audience"] for n in applicant_view["notes"]] == ["applicant"], "a private note reached the applicant"
    assert len(desk.show(app, who="claire")["notes"]) == 2
    revised["data"][0]["variables"] = ["BEN_NAI_ANN", "BEN_SEX_COD"]
    path.write_text(json.dumps(revised), encoding="utf-8")
    out = desk.ok("application", "answer", str(app), "--file", str(path), who="alice")
    assert out["state"] == "under_review" and out["revision"] == 3
    d = desk.ok("application", "diff", str(app), who="claire")
    assert d["from"] == 2 and d["to"] == 3 and [c["section"] for c in d["changes"]] == ["data"]
    d = desk.ok("application", "diff", str(app), "--from", "1", "--to", "3", who="claire")
    assert {c["section"] for c in d["changes"]} == {"data", "safeguards"}
    desk.ok("review", "opinion", str(app), "--favourable", "--reason", "justified now", who="marc")
    assert desk.ok("review", "decide", str(app), "--authorise", "--reason", "ok", who="arthur")["state"] == "authorised"


def test_lapse_when_the_applicant_does_not_answer(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    import guichet.access.services as services

    app = desk.new()
    desk.ok("application", "submit", str(app), who="alice")
    out = desk.ok("application", "check", str(app), "--incomplete", "--reason", "ethics committee missing")
    answer_due = date.fromisoformat(out["answer_due"])
    assert desk.ok("application", "lapse", who="operator")["lapsed"] == []
    monkeypatch.setattr(services, "today", lambda: answer_due + timedelta(days=1))
    desk.refused("application", "answer", str(app), "--file", str(EXAMPLE), who="alice", says="time to answer ended")
    assert desk.ok("application", "lapse", who="operator")["lapsed"] == [app]
    assert desk.show(app)["state"] == "lapsed"
    desk.refused("application", "answer", str(app), "--file", str(EXAMPLE), who="alice", says="cannot be answered")


def test_withdrawal(desk: Desk) -> None:
    app = desk.to_review()
    out = desk.ok("application", "withdraw", str(app), "--reason", "funding ended", who="alice")
    assert out["state"] == "withdrawn"
    desk.refused("review", "opinion", str(app), "--favourable", "--reason", "late", who="claire", says="withdrawn")


def test_out_of_turn_wrong_role_and_same_organisation(desk: Desk) -> None:
    app = desk.new()
    assert app == 1
    desk.refused("application", "check", "1", "--complete", "--reason", "too early", says="no application 1")
    desk.refused("review", "decide", "1", "--authorise", "--reason", "too early", who="arthur", says="no application 1")
    desk.ok("application", "submit", "1", who="alice")
    desk.refused("application", "submit", "1", who="alice", says="cannot be submitted")
    desk.refused("review", "opinion", "1", "--favourable", "--reason", "skip the check", who="claire",
                 says="cannot be given a scientific opinion")
    desk.refused("review", "decide", "1", "--authorise", "--reason", "skip everything", who="arthur",
                 says="cannot be decided")
    desk.refused("application", "check", "1", "--complete", "--reason", "my own", who="op.same",
                 says="from their own organisation")
    desk.refused("application", "check", "1", "--complete", "--reason", "not mine", who="alice",
                 says="needs the role operator")
    desk.refused("application", "withdraw", "1", who="bob", says="no application 1")
    desk.ok("application", "check", "1", "--complete", "--reason", "complete")
    desk.refused("review", "opinion", "1", "--favourable", "--reason", "mine", who="nina.same",
                 says="from their own organisation")
    desk.refused("review", "opinion", "1", "--favourable", "--reason", "mine", "--present", "nina.same", who="claire",
                 says="applicant's organisation")
    desk.refused("review", "opinion", "1", "--favourable", "--reason", "not a member", who="paul",
                 says="not a member of the scientific panel")
    desk.ok("review", "opinion", "1", "--favourable", "--reason", "fine", who="claire")
    desk.refused("review", "decide", "1", "--authorise", "--reason", "mine", who="auth.same",
                 says="from their own organisation")
    desk.refused("review", "decide", "1", "--authorise", "--reason", "not mine", who="claire",
                 says="needs the role authority")
    desk.ok("review", "extend", "1", "--reason", "linkage to assess", who="arthur")
    desk.refused("review", "extend", "1", "--reason", "again", who="arthur", says="already extended once")
    r = desk.run("review", "decide", "1", "--authorise", "--reason", "", who="arthur")
    assert r.code == 2 and "reason" in r.stderr


def test_invalid_applications_name_the_path(desk: Desk) -> None:
    bad = example()
    bad["data"][1]["variables"].append("NOT_A_VARIABLE")
    del bad["public_summary"]
    bad["purpose"] = "curiosity"
    path = desk.root / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    r = desk.run("application", "create", "--file", str(path), who="alice")
    assert r.code == 2
    assert "purpose: must be one of" in r.stderr  # what a draft holds is checked...
    assert "public_summary" not in r.stderr  # ...and a draft may leave a section out until its submission
    bad = example()
    bad["data"][1]["variables"].append("NOT_A_VARIABLE")
    bad["data"][0]["table"] = "ER_XYZ_F"
    path.write_text(json.dumps(bad), encoding="utf-8")
    r = desk.run("application", "create", "--file", str(path), who="alice")
    assert r.code == 2
    assert "data[1].variables[2]: 'NOT_A_VARIABLE' is not a variable of dcir.ER_PHA_F" in r.stderr
    assert "data[0].table" in r.stderr
    assert desk.ok("application", "list", who="alice") == []
    unfinished = example()
    del unfinished["public_summary"]
    path.write_text(json.dumps(unfinished), encoding="utf-8")
    app = desk.ok("application", "create", "--file", str(path), who="alice")["id"]
    r = desk.run("application", "submit", str(app), who="alice")
    assert r.code == 2 and "required field 'public_summary' is missing" in r.stderr, r.stderr


def test_list_and_visibility(desk: Desk) -> None:
    a1 = desk.to_review()
    a2 = desk.new("bob")
    assert [a["id"] for a in desk.ok("application", "list", who="alice")] == [a1]
    assert [a["id"] for a in desk.ok("application", "list", who="bob")] == [a2]
    assert [a["id"] for a in desk.ok("application", "list", who="claire")] == [a1], "a draft reached a reviewer"
    assert [a["id"] for a in desk.ok("application", "list", "--state", "under_review", who="arthur")] == [a1]
    desk.refused("application", "show", str(a2), who="alice", says=f"no application {a2}")


@pytest.fixture
def unchecked() -> Iterator[None]:
    with lake_unchecked():
        yield


def test_production_decisions_need_a_current_totp_code(tmp_path: Path, unchecked: None) -> None:
    """In production each command needs the account's token; checks, opinions and decisions also --totp."""
    import pyotp

    from guichet.accounts import services as accounts
    from guichet.actor import system_actor
    from guichet.catalogue import services as catalogue
    from guichet.config import write_private_file
    from guichet.demo.catalogue import schema_folder

    hub = make_hub(tmp_path, mode="production")
    try:
        catalogue.load_schemas(hub, system_actor(), folder=schema_folder())  # the dictionary, no data
        prepare(hub, tmp_path)
        files, secrets = {}, {}
        for who in ("alice", "operator"):
            files[who] = tmp_path / f"{who}.token"
            write_private_file(files[who], accounts.issue_token(hub, system_actor(), username=who).token)
            secrets[who] = accounts.enroll_totp(hub, system_actor(), username=who)

        def run(who: str, *args: str, totp: str | None = None) -> Any:
            extra = ["--totp", totp] if totp else []
            return run_cli([*args, "--home", str(hub.home), "--json", "--as", who, "--token-file", str(files[who]),
                            *extra])

        r = run("alice", "application", "create", "--file", str(EXAMPLE))
        assert r.code == 0, r.stderr
        app = str(json.loads(r.stdout)["id"])
        assert run("alice", "application", "submit", app).code == 0
        r = run("operator", "application", "check", app, "--complete", "--reason", "complete")
        assert r.code == 2 and "second-factor" in r.stderr
        r = run("operator", "application", "check", app, "--complete", "--reason", "complete", totp="000000")
        assert r.code == 2 and "wrong or expired code" in r.stderr
        r = run("operator", "application", "check", app, "--complete", "--reason", "complete",
                totp=pyotp.TOTP(secrets["operator"]).now())
        assert r.code == 0, r.stderr
        assert json.loads(r.stdout)["state"] == "under_review"
    finally:
        hub.close()


def test_a_draft_may_leave_sections_out_until_it_is_submitted(desk: Desk) -> None:
    """A draft grows (from the catalogue's basket, one table at a time): only its title is required, and what it
    holds is checked; submission asks for every section and changes nothing when one is missing."""
    partial = {"title": "A study being written", "data": example()["data"][:1]}
    path = desk.root / "partial.json"
    path.write_text(json.dumps(partial), encoding="utf-8")
    app = int(desk.ok("application", "create", "--file", str(path), who="alice")["id"])
    assert desk.show(app)["state"] == "draft"
    r = desk.run("application", "submit", str(app), who="alice")
    assert r.code == 2 and "required field" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert desk.show(app)["state"] == "draft"
    bad = dict(partial, data=[dict(example()["data"][0], variables=["NO_SUCH_VARIABLE"])])
    path.write_text(json.dumps(bad), encoding="utf-8")
    r = desk.run("application", "create", "--file", str(path), who="alice")
    assert r.code == 2 and "data[0].variables[0]" in r.stderr, r.stderr  # what a draft holds is checked
    full = desk.root / "full.json"
    full.write_text(json.dumps(example()), encoding="utf-8")
    desk.ok("application", "answer", str(app), "--file", str(full), who="alice")
    assert desk.ok("application", "submit", str(app), who="alice")["state"] == "submitted"
