"""Statistics requests in real headless Chromium, on the handcrafted lake: a researcher submits the example
specification through the form; the operator finds it in the queue with its clocks, accepts it and has the
answer computed; the checker approves the release; the researcher reads the released tables; the list in
French; axe-core on each view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.access_support import hub_with_lake
from tests.e2e.support import Account, Portal, axe, needs_browser, new_context, serving, sign_in
from tests.web_support import add_people

pytestmark = needs_browser


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    hub = hub_with_lake(tmp_path_factory.mktemp("e2e-stats"))
    people = add_people(hub, ("operator", "checker", "researcher"), suffix="e2e")
    accounts = {role: Account(p.username, role, p.password, p.totp_secret, p.org) for role, p in people.items()}
    home = hub.home
    hub.close()
    with serving(home) as url:
        yield Portal(url, accounts, {})


def test_a_statistics_request_from_the_form_to_its_released_tables(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, portal, "researcher")
    page.get_by_role("navigation").get_by_role("link", name="Statistics requests").click()
    page.wait_for_url(f"{portal.url}/stats")
    axe(page, "s01-stats-list")
    page.get_by_role("link", name="Submit a statistics request").click()
    page.wait_for_url(f"{portal.url}/stats/new")
    axe(page, "s02-stats-form")
    page.get_by_role("button", name="Submit the request").click()  # the example, as the form offers it
    page.wait_for_url("**done=submitted")
    rid = page.url.split("/stats/")[1].split("?")[0]
    assert "The request is submitted" in page.locator("main").inner_text()
    axe(page, "s03-stats-submitted")
    ctx.close()

    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, portal, "operator")
    assert rid in page.locator("main").inner_text()  # the home panel: waiting for the operator
    page.goto(f"{portal.url}/stats")
    assert "Assessment due" in page.locator("main").inner_text()
    page.get_by_role("link", name=rid).click()
    page.wait_for_url(f"{portal.url}/stats/{rid}")
    axe(page, "s04-stats-assess")
    page.locator("#assess-accept").check()
    page.locator("#assess-reason").fill("complete and proportionate")
    page.get_by_role("button", name="Record the assessment").click()
    page.wait_for_url("**done=assessed")
    page.get_by_role("button", name="Compute").click()
    page.wait_for_url("**done=answered", timeout=120_000)
    text = page.locator("main").inner_text()
    assert "answer in review" in text and "threshold" in text  # the withheld cells and why
    axe(page, "s05-stats-answered")
    ctx.close()

    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, portal, "checker")
    page.goto(f"{portal.url}/stats/{rid}")
    page.locator("#review-approve").check()
    page.locator("#review-reason").fill("small cells withheld, nothing derivable")
    page.get_by_role("button", name="Record the review").click()
    page.wait_for_url("**done=reviewed")
    assert "released" in page.locator("main").inner_text()
    axe(page, "s06-stats-reviewed")
    ctx.close()

    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, portal, "researcher")
    page.goto(f"{portal.url}/stats/{rid}")
    main = page.locator("main").inner_text()
    assert "released" in main and "persons.csv" in main and "threshold" not in main  # no reason of the check
    axe(page, "s07-stats-released")
    with page.expect_download() as dl:
        page.get_by_role("link", name="claims_model.csv").click()
    assert dl.value.suggested_filename == "claims_model.csv"
    ctx.close()
    fr = new_context(browser, locale="fr-FR")
    page = fr.new_page()
    sign_in(page, portal, "researcher")
    page.goto(f"{portal.url}/stats")
    assert "Demandes de statistiques" in page.locator("main").inner_text()
    axe(page, "s08-stats-list-fr")
    fr.close()
