"""The activity report against a scripted history with known dates and counts: applications received,
granted and refused through the access services, decision times in working days (a public holiday inside
one), a permit with its invoice, objections recorded and withdrawn month by month, a complaint, releases of
results from the airlock (released, rejected, recalled; one published, one private) — in 2025, with events
in 2024 and 2026 that must not count. Checked as JSON, as the CLI's text and HTML (charts as
inline SVG), and as the public page /transparency/report/2025."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guichet.access import services as access
from guichet.custodian import nir as nirs
from guichet.custodian import services as custodian
from guichet.permits import permit_services as permits
from guichet.permits import services as permit_desk
from guichet.transparency import services as transparency
from guichet.web import create_app
from guichet.web.login import PUBLIC
from tests.access_support import example, hub_with_lake, prepare
from tests.conftest import run_cli

NIRS = [nirs.with_key(f"18505751234{i:02d}") for i in range(10)]  # all born in May 1985


class Clock:
    """The services' clocks moved to a given day (the hub's code reads them through these functions)."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.mp = mp

    def at(self, day: date) -> None:
        moment = datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)
        self.mp.setattr(access, "_now", lambda: moment)
        self.mp.setattr(access, "today", lambda: day)
        self.mp.setattr(permits, "_now", lambda: moment)
        self.mp.setattr(custodian, "_today", lambda: day)
        self.mp.setattr(transparency, "_now", lambda: moment)


LIVE = ("R-2024-0001", "R-2025-0001")  # the released, not recalled, requests of the scripted history


def _moment(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)


def _airlock_history(hub: Any, permit: str) -> None:
    """Output requests of the permit with known dates, written as the airlock's services leave them (the
    airlock's own tests drive those services; here only what the report and the pages count matters).
    2025: 3 submitted; R-2025-0001 released 3 April with 2 output files (and a supporting one), published;
    R-2025-0002 rejected; R-2025-0003 released 4 August (1 file), recalled 10 September; turnarounds 30 h,
    10 h, 50 h (median 30). Outside 2025: R-2024-0001 released in December 2024 and never published;
    R-2026-0001 submitted in 2026."""
    from guichet.airlock.tables import OutputFile, OutputRequest

    released = hub.home / "outputs" / "released"
    script = [  # id, title, state, submitted, decided, released, published, output files, recalled on
        ("R-2024-0001", "Private draft tables", "released", _moment(date(2024, 12, 20)),
         _moment(date(2024, 12, 23)), _moment(date(2024, 12, 23), 15), False, ["draft.csv"], None),
        ("R-2025-0001", "Screen time by age band", "released", _moment(date(2025, 4, 1)),
         _moment(date(2025, 4, 2), 16), _moment(date(2025, 4, 3)), True, ["by_age.csv", "figure.svg"], None),
        ("R-2025-0002", "Rare diagnoses by commune", "rejected", _moment(date(2025, 6, 2)),
         _moment(date(2025, 6, 2), 20), None, False, ["communes.csv"], None),
        ("R-2025-0003", "Sleep and screens by region", "recalled", _moment(date(2025, 8, 1)),
         _moment(date(2025, 8, 3), 12), _moment(date(2025, 8, 4)), True, ["regions.csv"], date(2025, 9, 10)),
        ("R-2026-0001", "Follow-up tables", "checked", _moment(date(2026, 1, 5)), None, None, False,
         ["follow_up.csv"], None),
    ]
    with hub.store.write() as s:
        for rid, title, state, submitted, decided, out, published, names, recalled in script:
            s.add(OutputRequest(id=rid, permit=permit, project=permit, org="org", author="bob", title=title,
                                state=state, turn=1, groups={}, proposed=[], reasons=[], recheck=False,
                                published=published, submitted_at=submitted, decided_at=decided, released_at=out))
            for name in [*names, "notes.txt"]:
                supporting = name == "notes.txt"
                path = released / rid / name
                if out is not None and not supporting and recalled is None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text("a,b\n1,2\n", encoding="utf-8")
                s.add(OutputFile(request=rid, turn=1, path=name, group="outputs", supporting=supporting,
                                 sha256="0" * 64, size=8, status="pass", check={}, ledger=[],
                                 released_path=str(path) if out is not None and not supporting else None,
                                 released_sha256="1" * 64 if out is not None and not supporting else None,
                                 recalled_at=_moment(recalled) if recalled and not supporting else None,
                                 recall_reason="a small cell was found after release" if recalled and not supporting
                                 else None))


def _application(hub: Any, who: Any) -> int:
    return access.create(hub, who, content=example()).id


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("activity")
    hub = hub_with_lake(root)
    actors = prepare(hub, root)
    mp = pytest.MonkeyPatch()
    clock = Clock(mp)
    bob, claire, arthur, op = actors["bob"], actors["claire"], actors["arthur"], actors["operator"]
    try:
        permit_desk.attest_user(hub, op, username="bob", until=date(2027, 12, 31))
        # 1. received Mon 3 March 2025, authorised Mon 17 March: 10 working days; permit and invoice on the 18th
        clock.at(date(2025, 3, 3))
        a1 = _application(hub, bob)
        access.submit(hub, bob, application_id=a1)
        access.check(hub, op, application_id=a1, complete=True, reason="all sections present")
        access.opinion(hub, claire, application_id=a1, outcome="favourable", reason="sound design",
                       present=["marc"], vote={"for": 2, "against": 0, "abstain": 0})
        clock.at(date(2025, 3, 17))
        access.decide(hub, arthur, application_id=a1, authorise=True, reason="favourable opinion")
        clock.at(date(2025, 3, 18))
        estimate = permits.estimate_fees(hub, op, application_id=a1)
        permits.accept_estimate(hub, bob, application_id=a1)
        permit = permits.issue(hub, op, application_id=a1)
        # 2. received Mon 5 May 2025, refused Mon 12 May: 4 working days (Thursday 8 May is a holiday)
        clock.at(date(2025, 5, 5))
        a2 = _application(hub, bob)
        access.submit(hub, bob, application_id=a2)
        access.check(hub, op, application_id=a2, complete=True, reason="all sections present")
        access.opinion(hub, claire, application_id=a2, outcome="unfavourable", reason="no public interest shown",
                       present=["marc"], vote={"for": 0, "against": 2, "abstain": 0})
        clock.at(date(2025, 5, 12))
        access.decide(hub, arthur, application_id=a2, authorise=False, reason="unfavourable opinion")
        # 3. received in November 2025, still under review; 4. received in 2024; 5. a draft (never received)
        clock.at(date(2025, 11, 3))
        a3 = _application(hub, bob)
        access.submit(hub, bob, application_id=a3)
        clock.at(date(2024, 12, 2))
        access.submit(hub, bob, application_id=_application(hub, bob))
        _application(hub, bob)
        # objections: Dec 2024 (active through 2025), 2 in Jan 2025, 1 in Feb 2025 withdrawn in June, 1 in 2026
        receipts = []
        for i, day in enumerate([date(2024, 12, 1), date(2025, 1, 15), date(2025, 1, 20), date(2025, 2, 10),
                                 date(2026, 1, 5)]):
            clock.at(day)
            receipts.append(custodian.add_optout(hub, PUBLIC, nir=NIRS[i], birth_date="1985-05-03", min_seconds=0))
        clock.at(date(2025, 6, 2))
        custodian.withdraw_optout(hub, PUBLIC, receipt=receipts[3].receipt)
        custodian.decline_findings(hub, PUBLIC, nir=NIRS[5], birth_date="1985-05-03", min_seconds=0)
        clock.at(date(2025, 9, 1))
        transparency.submit_complaint(hub, PUBLIC, topic="optout", text="No receipt received")
        _airlock_history(hub, permit.id)
    finally:
        mp.undo()
    yield {"hub": hub, "home": hub.home, "permit": permit.id, "fees": estimate.total_cents,
           "report": transparency.activity_report(hub, PUBLIC, year=2025, today=date(2026, 12, 7))}
    hub.close()


def test_every_figure_of_the_year(history: dict[str, Any]) -> None:
    r = history["report"]
    assert (r["period"], r["from"], r["to"], r["as_of"]) == ("2025", "2025-01-01", "2025-12-31", "2025-12-31")
    a = r["applications"]
    assert (a["received"], a["granted"], a["refused"]) == (3, 1, 1)
    assert a["received_per_month"] == [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0]
    assert r["decision_time"] == {"unit": "working days", "decisions": 2, "median": 7.0, "min": 4, "max": 10}
    assert r["permits_issued"] == 1
    assert history["fees"] > 0  # an industry applicant pays
    assert r["fees"] == {"currency": "EUR", "invoices": 1, "invoiced_cents": history["fees"], "paid_cents": 0}
    assert r["statistics_requests"] == {"offered": True, "received": 0, "released": 0, "refused": 0,
                                        "in_progress_now": 0}
    assert r["releases"] == {"offered": True, "submitted": 3, "released": 2, "rejected": 1, "files_released": 3,
                             "turnaround_hours_median": 30.0, "recalled": 1}
    o = r["optouts"]
    assert o["recorded_per_month"] == [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert o["withdrawn_per_month"] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert (o["recorded"], o["withdrawn"], o["active_at_end"]) == (3, 1, 3)  # Dec 2024 + 2 of January
    assert r["findings_preferences"] == {"recorded": 1, "active_at_end": 1}
    assert r["complaints"] == {"received": 1, "by_status": {"received": 1}}
    assert r["results_overdue"] == []  # the permit is still valid: no results due yet
    assert r["products"] and all(p["id"] for p in r["products"])


def test_overdue_means_past_the_deadline_without_a_published_release(history: dict[str, Any]) -> None:
    """With its live releases recalled, a permit past its results deadline is overdue; with a published
    release it is not (a recalled one does not count; past the deadline a release is public, EHDS Art 61)."""
    from sqlalchemy import update

    from guichet.airlock.tables import OutputRequest
    from guichet.permits.tables import Permit

    hub = history["hub"]
    with hub.store.write() as s:
        s.execute(update(Permit).where(Permit.id == history["permit"]).values(results_due=date(2025, 10, 1)))
        s.execute(update(OutputRequest).where(OutputRequest.id.in_(LIVE)).values(state="recalled"))
    try:
        late = transparency.activity_report(hub, PUBLIC, year=2025, today=date(2025, 12, 31))["results_overdue"]
        assert [(x["permit"], x["results_due"], x["days_late"]) for x in late] == [(history["permit"], "2025-10-01", 91)]
        app = create_app(hub.config)
        try:
            c = TestClient(app)
            c.cookies.set("guichet_lang", "en")
            page = c.get("/transparency/projects").text
            assert f"Permit {history['permit']}" in page and "results due by 2025-10-01" in page
        finally:
            app.state.web.hub.close()
        with hub.store.write() as s:
            s.execute(update(OutputRequest).where(OutputRequest.id.in_(LIVE)).values(state="released"))
        assert transparency.overdue_results(hub, PUBLIC, today=date(2025, 12, 31)) == []
        # past the deadline, the private 2024 release becomes public too (EHDS Art 61)
        shown = transparency.published_results(hub, PUBLIC, today=date(2025, 12, 31))[history["permit"]]
        assert [r["request"] for r in shown] == ["R-2024-0001", "R-2025-0001", "R-2025-0003"]
    finally:
        with hub.store.write() as s:
            s.execute(update(Permit).where(Permit.id == history["permit"]).values(results_due=None))
            s.execute(update(OutputRequest).where(OutputRequest.id.in_(LIVE)).values(state="released"))


def test_the_citizens_pages_show_published_releases_and_recalls(history: dict[str, Any]) -> None:
    shown = transparency.published_results(history["hub"], PUBLIC, today=date(2026, 12, 7))
    assert list(shown) == [history["permit"]]
    first, recalled = shown[history["permit"]]
    assert (first["request"], first["title"], first["date"], first["types"]) == (
        "R-2025-0001", "Screen time by age band", "2025-04-03", ["csv", "svg"])
    assert [f["href"] for f in first["files"]] == ["/results/R-2025-0001/by_age.csv",
                                                  "/results/R-2025-0001/figure.svg"]
    assert (recalled["state"], recalled["files"], recalled["recall_reason"], recalled["recalled"]) == (
        "recalled", [], "a small cell was found after release", "2025-09-10")
    app = create_app(history["hub"].config)
    try:
        c = TestClient(app)
        c.cookies.set("guichet_lang", "en")
        results = c.get("/transparency/results").text
        assert "No result has been published" not in results
        assert "Screen time by age band — released on 2025-04-03 (csv, svg):" in results
        assert 'href="/results/R-2025-0001/by_age.csv"' in results
        assert ("Sleep and screens by region — released on 2025-08-04, then recalled: a small cell was found "
                "after release") in results
        assert "Private draft tables" not in results and "Rare diagnoses" not in results
        projects = c.get("/transparency/projects", params={"q": "screen time"}).text
        assert "Screen time by age band" in projects and 'href="/results/R-2025-0001/figure.svg"' in projects
        c.cookies.set("guichet_lang", "fr")
        fr = c.get("/transparency/results").text
        assert "Screen time by age band — sorti le 2025-04-03 (csv, svg) :" in fr and "puis retiré" in fr
    finally:
        app.state.web.hub.close()


def test_the_cli_writes_the_report_as_text_json_and_html(history: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "activity.html"
    r = run_cli(["report", "activity", "--period", "2025", "--home", str(history["home"]), "--html", str(out)])
    assert r.code == 0, r.stderr
    assert "Applications: 3 received, 1 granted, 1 refused; median decision time 7 working days" in r.stdout
    assert "Statistics requests: 0 received, 0 answers released, 0 refused, 0 in progress" in r.stdout
    assert ("Releases of results: 3 requests submitted, 2 released (3 files), 1 rejected, 1 recalled; "
            "median turnaround 30 hours") in r.stdout
    assert "Objections: 3 recorded, 1 withdrawn, 3 active at the end" in r.stdout
    html = out.read_text(encoding="utf-8")
    assert html.count("<svg") == 3 and "<script" not in html and "http" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert "Objections recorded per month: Jan 2, Feb 1, Mar 0" in html
    assert '<th scope="row">Files released</th><td>3</td>' in html and 'lang="en"' in html
    assert '<th scope="row">Statistics requests received</th><td>0</td>' in html
    fr = tmp_path / "activite.html"
    r = run_cli(["report", "activity", "--period", "2025", "--home", str(history["home"]), "--html", str(fr),
                 "--lang", "fr"])
    assert r.code == 0, r.stderr
    html = fr.read_text(encoding="utf-8")
    assert 'lang="fr"' in html and "rapport d&#x27;activité 2025" in html
    assert '<th scope="row">Demandes reçues</th><td>3</td>' in html
    assert '<th scope="row">Sorties retirées</th><td>1</td>' in html
    assert "Oppositions enregistrées par mois : janv 2, févr 1" in html and "Applications" not in html
    j = run_cli(["report", "activity", "--period", "2025", "--home", str(history["home"]), "--json"])
    assert json.loads(j.stdout)["applications"]["granted"] == 1
    bad = run_cli(["report", "activity", "--period", "25", "--home", str(history["home"])])
    assert bad.code == 2


def test_the_public_page_shows_the_same_figures_in_french(history: dict[str, Any]) -> None:
    app = create_app(history["hub"].config)
    try:
        c = TestClient(app)
        c.cookies.set("guichet_lang", "fr")
        page = c.get("/transparency/report/2025")
        assert page.status_code == 200 and 'lang="fr"' in page.text
        text = page.text
        assert "<strong>3</strong> demandes reçues" in text and "<strong>1</strong> demandes accordées" in text
        assert "<strong>7</strong> délai médian" in text and "<strong>0</strong> demandes de statistiques reçues" in text
        assert "<strong>2</strong> demandes sorties" in text and "<strong>3</strong> fichiers sortis" in text
        assert "<strong>30</strong> délai médian de traitement" in text and "<strong>1</strong> sorties retirées" in text
        assert "Oppositions enregistrées par mois : janv 2, févr 1" in text and text.count("<svg") == 3
        assert c.get("/transparency/report/1999").status_code == 422
    finally:
        app.state.web.hub.close()
