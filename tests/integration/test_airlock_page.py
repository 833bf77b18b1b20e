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
