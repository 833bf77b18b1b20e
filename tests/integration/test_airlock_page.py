"""The output-check page (in-process): a checker sees a workspace output's flagged cells with their reasons,
in English and French; the file must stay inside the workspace's outputs folder; a researcher may not look;
the read is audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from guichet.analysis import crosstab
from guichet.hub import Hub
from tests.airlock_support import people
from tests.web_support import add_person, sign_in

pytestmark = pytest.mark.integration


def write_outputs(home: Path, permit: str = "P-2026-0001") -> Path:
    outputs = home / "workspaces" / permit / "outputs"
    (outputs / "tables").mkdir(parents=True)
    crosstab(people(300, seed=1, rare=0.03), "sex", "age_band", out=outputs / "tables" / "by_age.csv")
    (outputs / "plain.csv").write_text("region,n\nARA,120\nBRE,4\n", encoding="utf-8")
    return outputs


@pytest.fixture
def client_hub(hub: Hub) -> tuple[TestClient, Hub]:
    from guichet.web import create_app

    write_outputs(hub.home)
    return TestClient(create_app(hub.config)), hub


def test_checker_sees_flagged_cells_with_reasons(client_hub: tuple[TestClient, Hub]) -> None:
    client, hub = client_hub
    sign_in(client, add_person(hub, "olga.checker", "checker"))
    r = client.get("/airlock/check", params={"permit": "P-2026-0001", "file": "tables/by_age.csv"})
    assert r.status_code == 200
    html = r.text
    assert 'class="cell-fail"' in html and "small cell" in html and "complementary suppression" in html
    assert html.count('class="reason-fail"') >= 4  # the primary cell and the cells that protect it
    r = client.get("/airlock/check", params={"permit": "P-2026-0001", "file": "plain.csv"},
                   headers={"accept-language": "fr"})
    assert "Moins de personnes que le seuil" in r.text and "Cellules signalées" in r.text
    for bad in ("../../../config.toml", "/etc/passwd", "tables/../../x.csv"):
        r = client.get("/airlock/check", params={"permit": "P-2026-0001", "file": bad})
        assert r.status_code == 200 and 'role="alert"' in r.text and "root:" not in r.text
    from sqlalchemy import select

    from guichet.store.models import AuditEvent
    with hub.store.read() as s:
        objects = [e.object for e in s.execute(select(AuditEvent).where(AuditEvent.action == "airlock.check"))
                   .scalars()]
    assert "permit P-2026-0001: output tables/by_age.csv" in objects


def test_researcher_may_not_see_output_checks(client_hub: tuple[TestClient, Hub]) -> None:
    client, hub = client_hub
    sign_in(client, add_person(hub, "alice.researcher", "researcher"))
    r = client.get("/airlock/check", params={"permit": "P-2026-0001", "file": "plain.csv"})
    assert r.status_code == 403


def test_the_permit_output_conditions_choose_rules_and_raise_the_threshold(hub: Hub) -> None:
    from datetime import UTC, date, datetime

    from guichet.accounts.auth import actor_for
    from guichet.airlock import services
    from guichet.permits.tables import Permit
    from tests.permit_support import sample_document

    outputs = write_outputs(hub.home, "P-2026-0001")
    (outputs / "mid.csv").write_text("region,n\nARA,120\nBRE,15\n", encoding="utf-8")
    operator = actor_for(hub, hub.config.operator)
    assert services.check_output(hub, operator, "P-2026-0001", "mid.csv").status == "review"  # 15 >= 11
    document = sample_document()
    document["output_conditions"]["min_cell"] = 20
    with hub.store.write() as s:
        s.add(Permit(id="P-2026-0001", application="A-2026-0001", org="Inserm U1018", owner="alice",
                     state="active", revision=1, document=document, valid_from=date(2026, 12, 7),
                     valid_until=date(2028, 12, 6), issued_by="operator", issued_at=datetime.now(UTC)))
    result = services.check_output(hub, operator, "P-2026-0001", "mid.csv")
    assert result.threshold == 20 and result.status == "fail"
    assert any("output conditions" in n for n in result.notes)
    assert services.check_output(hub, operator, "P-2026-0001", "mid.csv", rules="survey").rules == "survey"
