"""The activity report against a scripted history with known dates and counts: applications received,
granted and refused through the access services, decision times in working days (a public holiday inside
one), a permit with its invoice, objections recorded and withdrawn month by month, a complaint — in 2025,
with events in 2024 and 2026 that must not count. Checked as JSON, as the CLI's text and HTML (charts as
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
    assert r["statistics_requests"] == {"offered": False, "count": None}
    assert r["releases"] == {"offered": False, "count": None}
    o = r["optouts"]
    assert o["recorded_per_month"] == [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert o["withdrawn_per_month"] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert (o["recorded"], o["withdrawn"], o["active_at_end"]) == (3, 1, 3)  # Dec 2024 + 2 of January
    assert r["findings_preferences"] == {"recorded": 1, "active_at_end": 1}
    assert r["complaints"] == {"received": 1, "by_status": {"received": 1}}
    assert r["results_overdue"] == []  # the permit is still valid: no results due yet
    assert r["products"] and all(p["id"] for p in r["products"])


def test_overdue_results_are_listed_once_the_deadline_passed(history: dict[str, Any]) -> None:
    from sqlalchemy import update

    from guichet.permits.tables import Permit

    hub = history["hub"]
    with hub.store.write() as s:
        s.execute(update(Permit).where(Permit.id == history["permit"]).values(results_due=date(2025, 10, 1)))
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
    finally:
        with hub.store.write() as s:
            s.execute(update(Permit).where(Permit.id == history["permit"]).values(results_due=None))


def test_the_cli_writes_the_report_as_text_json_and_html(history: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "activity.html"
    r = run_cli(["report", "activity", "--period", "2025", "--home", str(history["home"]), "--html", str(out)])
    assert r.code == 0, r.stderr
    assert "Applications: 3 received, 1 granted, 1 refused; median decision time 7 working days" in r.stdout
    assert "Statistics requests: not yet offered; releases: not yet offered" in r.stdout
    assert "Objections: 3 recorded, 1 withdrawn, 3 active at the end" in r.stdout
    html = out.read_text(encoding="utf-8")
    assert html.count("<svg") == 3 and "<script" not in html and "http" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert "Objections recorded per month: Jan 2, Feb 1, Mar 0" in html
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
        assert "<strong>7</strong> délai médian" in text and "pas encore proposé" in text
        assert "Oppositions enregistrées par mois : janv 2, févr 1" in text and text.count("<svg") == 3
        assert c.get("/transparency/report/1999").status_code == 422
    finally:
        app.state.web.hub.close()
