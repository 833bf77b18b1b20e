"""Re-checks in real headless Chromium: an approved, released request drawn for a re-check waits in the
checker's list of re-checks, linked from their output requests (the checker took no part in its review); the checker opens it from the list,
records a concern with its reason through the form, and lands back on the list, now empty; the page in
French; axe-core on each view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guichet.accounts import services as accounts
from guichet.accounts.auth import actor_for
from guichet.actor import system_actor
from guichet.airlock import request_services as rs
from guichet.airlock.tables import OutputRequest
from tests.airlock_requests_support import add_permit, write_tables
from tests.e2e.support import Portal, axe, needs_browser, new_context, portal_hub, serving, sign_in

pytestmark = needs_browser
PERMIT = "P-2026-0001"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    hub, people = portal_hub(tmp_path_factory.mktemp("e2e-airlock-recheck"), roles=("operator", "checker", "researcher"))
    researcher = people["researcher"]
    add_permit(hub, PERMIT, [researcher.username], org=researcher.org)
    write_tables(hub)
    system = system_actor()
    for name, org in (("first.checker", "Checkers one"), ("second.checker", "Checkers two")):
        accounts.add_user(hub, system, username=name, roles=["checker"], org=org)
    req = rs.submit(hub, actor_for(hub, researcher.username), permit=PERMIT, files=["by_region.csv"], group="tables",
                    context="persons by region, synthetic", controls="counts of persons", title="Regions")["request"]
    for name in ("first.checker", "second.checker"):
        rs.review(hub, actor_for(hub, name), request=req, decision="approve", reason="counts above threshold")
    rs.release(hub, actor_for(hub, hub.config.operator), request=req)
    with hub.store.write() as s:  # drawn for the sample (the share is a hub property; here, this request)
        row = s.get(OutputRequest, req)
        assert row is not None
        row.recheck = True
    home = hub.home
    hub.close()
    with serving(home) as url:
        yield Portal(url, people, {})


def test_checker_records_a_recheck(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, portal, "checker")
    page.get_by_role("navigation").get_by_role("link", name="Output requests").click()
    page.wait_for_url(f"{portal.url}/airlock/requests")
    page.get_by_role("link", name="Requests due for your re-check: 1").click()
    page.wait_for_url(f"{portal.url}/airlock/rechecks")
    assert "Regions" in page.locator("main").inner_text()
    axe(page, "a21-airlock-rechecks")
    page.get_by_role("link", name="R-").first.click()
    page.wait_for_url(f"{portal.url}/airlock/requests/R-*")
    assert "Record a re-check" in page.locator("main").inner_text()
    axe(page, "a22-airlock-recheck-form")
    page.locator("#verdict-concern").check()
    page.locator("#recheck-reason").fill("the BRE count is close to an earlier release")
    page.get_by_role("button", name="Record my re-check").click()
    page.wait_for_url("**/airlock/rechecks?done=rechecked")
    text = page.locator("main").inner_text()
    assert "Your re-check is recorded" in text and "No request is waiting for your re-check" in text
    axe(page, "a23-airlock-rechecked")
    page.goto(f"{portal.url}/airlock/requests/R-2026-0001")
    text = page.locator("main").inner_text()
    assert "raise a concern — the BRE count is close to an earlier release" in text
    assert "Record a re-check" not in text
    fr = new_context(browser, locale="fr-FR")
    page = fr.new_page()
    sign_in(page, portal, "checker")
    page.goto(f"{portal.url}/airlock/rechecks")
    assert "Demandes à revérifier" in page.locator("main").inner_text()
    axe(page, "a24-airlock-rechecks-fr")
    ctx.close()
    fr.close()
