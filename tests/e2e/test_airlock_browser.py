"""The output-check page in real headless Chromium: a checker opens a workspace output from the menu's form,
sees the failing cells marked in the table and explained beside it (SACRO viewer layout), follows a cell's
link to its reason, reads the page in French too; axe-core on each view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.support import Portal, axe, needs_browser, new_context, portal_hub, serving, sign_in
from tests.integration.test_airlock_page import write_outputs

pytestmark = needs_browser


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    hub, accounts = portal_hub(tmp_path_factory.mktemp("e2e-airlock"), roles=("operator", "checker"))
    write_outputs(hub.home)
    home = hub.home
    hub.close()
    with serving(home) as url:
        yield Portal(url, accounts, {})


def test_checker_reads_a_checked_output_in_english_and_french(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, portal, "checker")
    page.get_by_role("navigation").get_by_role("link", name="Output checks").click()
    page.wait_for_url(f"{portal.url}/airlock/check")
    axe(page, "a01-airlock-form")
    page.locator("#permit").fill("P-2026-0001")
    page.locator("#file").fill("tables/by_age.csv")
    page.get_by_role("button", name="Check").click()
    page.wait_for_url(f"{portal.url}/airlock/check?*")
    failing = page.locator("td.cell-fail")
    assert failing.count() >= 4  # the small cell and the cells withheld to protect it
    reasons = page.locator("aside.airlock-reasons")
    assert "small cell" in reasons.inner_text() and "complementary suppression" in reasons.inner_text()
    assert "fail" in page.locator(".facts").inner_text()
    first = failing.first.locator("a")
    target = first.get_attribute("href")
    first.click()
    assert page.url.endswith(target or "#missing")
    assert page.locator(target or "#missing").is_visible()
    axe(page, "a02-airlock-result-en")

    fr = new_context(browser, locale="fr-FR")
    page = fr.new_page()
    sign_in(page, portal, "checker")
    page.goto(f"{portal.url}/airlock/check?permit=P-2026-0001&file=plain.csv")
    text = page.locator("main").inner_text()
    assert "Cellules signalées" in text and "Moins de personnes que le seuil" in text
    assert "à examiner" in text  # a plain CSV is at best to review
    axe(page, "a03-airlock-result-fr")
    ctx.close()
    fr.close()
