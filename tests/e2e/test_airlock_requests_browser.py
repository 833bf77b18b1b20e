"""Output requests in real headless Chromium: a checker finds the request waiting on the home page and in the
menu, opens it, reads the failing cells of a file, records a review through the form without seeing the other
vote; the page in French; axe-core on each view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guichet.accounts.auth import actor_for
from guichet.airlock import request_services as rs
from tests.airlock_requests_support import add_permit, outputs, write_tables
from tests.e2e.support import Portal, axe, needs_browser, new_context, portal_hub, serving, sign_in

pytestmark = needs_browser
PERMIT = "P-2026-0001"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    hub, accounts = portal_hub(tmp_path_factory.mktemp("e2e-airlock-requests"),
                               roles=("operator", "checker", "researcher"))
    researcher = accounts["researcher"]
    add_permit(hub, PERMIT, [researcher.username], org=researcher.org)
    write_tables(hub)
    (outputs(hub) / "small.csv").write_text("region,n\nARA,120\nBRE,4\n", encoding="utf-8")
    rs.submit(hub, actor_for(hub, researcher.username), permit=PERMIT, files=["by_region.csv", "small.csv"],
              group="tables", context="persons by region, synthetic", controls="counts of persons", title="Regions")
    home = hub.home
    hub.close()
    with serving(home) as url:
        yield Portal(url, accounts, {})


def test_checker_reviews_a_request(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, portal, "checker")
    assert "Regions" in page.locator("main").inner_text()  # the home panel
    page.get_by_role("navigation").get_by_role("link", name="Output requests").click()
    page.wait_for_url(f"{portal.url}/airlock/requests")
    axe(page, "a11-airlock-requests")
    page.get_by_role("link", name="R-").first.click()
    page.wait_for_url(f"{portal.url}/airlock/requests/R-*")
    page.get_by_role("link", name="small.csv").click()
    page.wait_for_url("**file=small.csv")
    assert page.locator("td.cell-fail").count() >= 1
    assert "hidden until your own review" in page.locator("main").inner_text()
    axe(page, "a12-airlock-request")
    page.locator("#decision-changes").check()
    page.locator("#reason").fill("withhold the small region")
    page.get_by_role("button", name="Record my review").click()
    page.wait_for_url("**done=reviewed")
    assert "Your review is recorded" in page.locator("main").inner_text()
    axe(page, "a13-airlock-reviewed")
    fr = new_context(browser, locale="fr-FR")
    page = fr.new_page()
    sign_in(page, portal, "checker")
    page.goto(f"{portal.url}/airlock/requests")
    assert "Demandes de sortie" in page.locator("main").inner_text()
    axe(page, "a14-airlock-requests-fr")
    ctx.close()
    fr.close()
