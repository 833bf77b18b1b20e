"""The citizens' pages in real headless Chromium, without an account, at a phone's width (375 px) and on a
desktop: the plain-language registry and its search, the opt-out round trip (objection, receipt, withdrawal),
the findings preference, the complaint form (a NIR refused with a clear message, then a reference), the
results and the activity report — axe-core on each page (0 serious or critical violations), no horizontal
scrolling on the phone. Screenshots in build/test-artifacts/web/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from guichet.access import services as access
from guichet.custodian import nir as nirs
from guichet.permits import permit_services as permits
from guichet.permits import services as permit_desk
from tests.access_support import example, hub_with_lake, prepare
from tests.e2e.support import Account, Portal, axe, needs_browser, serving, sign_in
from tests.web_support import add_person

pytestmark = needs_browser
PHONE = {"width": 375, "height": 812}
NIR = nirs.with_key("1850575123456")


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Portal]]:
    """One authorised project with its permit, one refused; served once for the module's tests."""
    root = tmp_path_factory.mktemp("e2e-transparency")
    hub = hub_with_lake(root)
    actors = prepare(hub, root)
    bob, op = actors["bob"], actors["operator"]
    permit_desk.attest_user(hub, op, username="bob", until=datetime.now(UTC).date() + timedelta(days=400))
    apps = []
    for outcome in ("favourable", "unfavourable"):
        content = example()
        if outcome == "unfavourable":
            content["title"] = "Sommeil et écrans chez les adolescents"
        app = access.create(hub, bob, content=content).id
        access.submit(hub, bob, application_id=app)
        access.check(hub, op, application_id=app, complete=True, reason="all sections present")
        access.opinion(hub, actors["claire"], application_id=app, outcome=outcome, reason="panel's view",
                       present=["marc"], vote={"for": 2, "against": 0, "abstain": 0} if outcome == "favourable"
                       else {"for": 0, "against": 2, "abstain": 0})
        access.decide(hub, actors["arthur"], application_id=app, authorise=outcome == "favourable",
                      reason="as the opinion")
        apps.append(app)
    permits.estimate_fees(hub, op, application_id=apps[0])
    permits.accept_estimate(hub, bob, application_id=apps[0])
    pid = permits.issue(hub, op, application_id=apps[0]).id
    desk = add_person(hub, "desk.operator", "operator")
    accounts = {"operator": Account(desk.username, "operator", desk.password, desk.totp_secret, desk.org)}
    home = hub.home
    hub.close()
    with serving(home) as url:
        yield url, pid, Portal(url, accounts, {})


def _context(browser: Any, locale: str = "en-GB", phone: bool = True) -> Any:
    return browser.new_context(locale=locale, bypass_csp=True, viewport=PHONE if phone else None)


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url}: {width} px wide on a 375 px screen"


def test_the_plain_registry_searched_on_a_phone(portal, browser) -> None:  # type: ignore[no-untyped-def]
    url, pid, _ = portal
    ctx = _context(browser)
    page = ctx.new_page()
    page.goto(f"{url}/transparency")
    assert "How is my health data used?" in page.locator("h1").inner_text()
    _fits(page)
    axe(page, "t01-transparency-home-phone")
    page.get_by_role("link", name="Projects").first.click()
    page.wait_for_url(f"{url}/transparency/projects")
    main = page.locator("main").inner_text()
    assert "2 projects." in main and pid in main and "Université de test" not in main  # bob's organisation
    assert "Pharma test" in main and "Refused." in main and "Authorised: the project may use the data" in main
    _fits(page)
    axe(page, "t02-projects-phone")
    page.locator("#q").fill("ecrans adolescents")  # without accents: found all the same
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(f"{url}/transparency/projects?q=ecrans+adolescents")
    main = page.locator("main").inner_text()
    assert "1 of 2 projects match" in main and "Sommeil et écrans" in main and pid not in main
    axe(page, "t03-projects-search-phone")
    page.goto(f"{url}/transparency/projects?q=consumption+datamart")  # a word of the product's catalogue title
    assert "2 of 2 projects match" in page.locator("main").inner_text()
    page.goto(f"{url}/transparency/results")
    assert pid in page.locator("main").inner_text()
    _fits(page)
    axe(page, "t04-results-phone")
    year = datetime.now(UTC).year
    page.goto(f"{url}/transparency/report/{year}")
    main = page.locator("main").inner_text()
    assert "2\napplications received" in main and "0\nstatistics requests received" in main
    assert page.locator("svg.chart").count() == 3
    _fits(page)
    axe(page, "t05-report-phone")
    ctx.close()


def test_opt_out_and_withdraw_in_the_browser(portal, browser) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = portal
    ctx = _context(browser, "fr-FR")
    page = ctx.new_page()
    page.goto(f"{url}/transparency/optout")
    assert page.locator("html").get_attribute("lang") == "fr"
    _fits(page)
    axe(page, "t06-optout-form-phone")
    page.locator("#nir").fill(NIR)
    page.locator("#birth_date").fill("1985-05-03")
    page.locator("#scope").select_option("research")
    page.get_by_role("button", name="Enregistrer mon opposition").click()
    receipt = page.locator("#receipt").inner_text().strip()
    assert len(receipt) == 26 and "Votre opposition est enregistrée" in page.locator("main").inner_text()
    assert NIR not in page.content()
    _fits(page)
    axe(page, "t07-optout-receipt-phone")
    page.get_by_role("link", name="Retirer mon opposition").click()
    page.wait_for_url(f"{url}/transparency/optout/withdraw")
    axe(page, "t08-optout-withdraw-phone")
    page.locator("#receipt").fill(receipt)
    page.get_by_role("button", name="Retirer").click()
    assert "Votre opposition est retirée" in page.locator("#withdrawn").inner_text()
    page.goto(f"{url}/transparency/optout/withdraw")
    page.locator("#receipt").fill(receipt)
    page.get_by_role("button", name="Retirer").click()  # once withdrawn, the receipt is spent
    assert "Aucune inscription active n'a ce reçu" in page.locator("#form-error").inner_text()
    axe(page, "t09-optout-withdraw-error-phone")
    page.goto(f"{url}/transparency/findings")
    axe(page, "t10-findings-phone")
    page.locator("#nir").fill(NIR)
    page.locator("#birth_date").fill("1985-05-03")
    page.get_by_role("button", name="Enregistrer mon choix").click()
    assert len(page.locator("#receipt").inner_text().strip()) == 26
    ctx.close()


def test_a_complaint_on_a_desktop(portal, browser) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = portal
    ctx = _context(browser, phone=False)
    page = ctx.new_page()
    page.goto(f"{url}/transparency/complaint")
    axe(page, "t11-complaint-form")
    page.locator("#topic").select_option("optout")
    page.locator("#text").fill(f"My number is {NIR} and I got no receipt")
    page.get_by_role("button", name="Send my complaint").click()
    error = page.locator("#form-error").inner_text()
    assert "looks like a social security number" in error and NIR not in page.content()
    assert page.locator("#text").input_value() == ""  # the identifier is not echoed back
    axe(page, "t12-complaint-refused")
    page.locator("#text").fill("I got no receipt after objecting")
    page.locator("#contact").fill("someone@example.org")
    page.get_by_role("button", name="Send my complaint").click()
    reference = page.locator("#reference").inner_text().strip()
    assert reference.startswith(f"C-{datetime.now(UTC).year}-")
    axe(page, "t13-complaint-reference")
    ctx.close()


def test_the_desk_records_an_objection_received_by_post(portal, browser) -> None:  # type: ignore[no-untyped-def]
    url, _, staff = portal
    ctx = _context(browser, phone=False)
    page = ctx.new_page()
    sign_in(page, staff, "operator")
    page.goto(f"{url}/transparency/desk")
    axe(page, "t14-desk")
    page.locator("#received_by").select_option("post")
    page.locator("#nir").fill(nirs.with_key("2920175123456"))
    page.locator("#birth_date").fill("1992-01-20")
    page.get_by_role("button", name="Record").click()
    assert len(page.locator("#receipt").inner_text().strip()) == 26
    axe(page, "t15-desk-receipt")
    page.goto(f"{url}/transparency/complaints")
    assert page.locator("h1").inner_text() == "Complaints"  # (their content: tests/integration/test_transparency_pages.py)
    axe(page, "t16-complaints-list")
    ctx.close()
