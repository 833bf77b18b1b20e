"""An access application in real headless Chromium, from the catalogue's basket to the authorisation, on the
web foundation's e2e fixtures (``guichet serve`` subprocess, sign-in with password and TOTP, axe-core on
every page): a researcher ticks variables on the dictionary page, fills the form, counts the criteria and
submits; the operator checks it complete; a member of the scientific committee gives a favourable opinion;
the authority authorises; the applicant reads "authorised". Screenshots in build/test-artifacts/web/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.access_support import example, hub_with_lake, prepare
from tests.e2e.support import Account, Portal, axe, needs_browser, new_context, serving, sign_in

pytestmark = needs_browser
PEOPLE = ("alice", "claire", "arthur")


@pytest.fixture(scope="module")
def access_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """The handcrafted lake with its catalogue, accounts of every role in distinct organisations, the
    panels; the researcher, committee member, authority and operator can sign in."""
    from guichet.accounts import services as accounts
    from guichet.actor import system_actor

    root = tmp_path_factory.mktemp("e2e-access")
    hub = hub_with_lake(root)
    prepare(hub, root)
    people = {}
    for who in (*PEOPLE, hub.config.operator):
        password = f"{who}-password-e2e"
        accounts.set_password(hub, system_actor(), username=who, password=password)
        secret = accounts.enroll_totp(hub, system_actor(), username=who)
        people[who] = Account(who, who, password, secret)
    people["operator"] = people.pop(hub.config.operator)
    home = hub.home
    hub.close()
    with serving(home) as url:
        yield Portal(url, people, {})


def test_from_the_catalogue_basket_to_an_authorisation(access_portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    portal, url = access_portal, access_portal.url
    wanted = example()

    # the researcher fills the basket from the dictionary page
    alice = new_context(browser).new_page()
    sign_in(alice, portal, "alice")
    alice.goto(f"{url}/catalogue/dcir/dictionary")
    assert "Your basket is empty" in alice.locator("#basket").inner_text()
    axe(alice, "a01-dictionary-basket")
    for item in wanted["data"]:
        for variable in item["variables"]:
            alice.locator(f"#pick-{item['table']}-{variable}").check()
        alice.get_by_role("button", name=f"Add the ticked variables of {item['table']} to my application").click()
        alice.wait_for_url(re.compile(r".*/catalogue/dcir/dictionary\?basket=\d+"))
    summary = alice.locator("#basket").inner_text()
    assert "requests 6 variables from 2 tables" in summary, summary
    axe(alice, "a02-dictionary-basket-filled")
    alice.get_by_role("link", name="Open your draft application").click()
    alice.wait_for_url(re.compile(r".*/applications/\d+$"))
    app_url = alice.url
    axe(alice, "a03-form-draft")

    # the form: the sections, the criteria and their feasibility count, then save and submit
    alice.locator("#f-title").fill(wanted["title"])
    alice.locator("#f-inv-name").fill(wanted["investigator"]["name"])
    alice.locator("#f-inv-role").fill(wanted["investigator"]["role"])
    alice.locator("#f-users").fill("\n".join(f"{p['name']} | {p['role']}" for p in wanted["data_users"]))
    alice.locator("#f-interest").fill(wanted["public_interest"])
    alice.locator("#f-benefit").fill(wanted["expected_benefit"])
    alice.locator("#f-criteria").fill(json.dumps(wanted["criteria"], indent=2))
    alice.locator("#f-id-just").fill(wanted["identification"]["justification"])
    alice.locator("#f-safeguards").fill(wanted["safeguards"])
    alice.locator("#f-resources").fill(wanted["resources"])
    alice.locator("#f-ethics").fill(wanted["ethics"]["assessment"])
    alice.locator("#f-summary").fill(wanted["public_summary"])
    alice.get_by_role("button", name="Count the persons (feasibility)").click()
    alice.wait_for_selector("#feasibility")
    shown = alice.locator("#feasibility").inner_text()
    assert re.search(r"published data: (fewer than 11|[0-9,]+0)\.", shown), shown
    assert alice.locator("#f-title").input_value() == wanted["title"]  # the count keeps what was typed
    axe(alice, "a04-form-feasibility")
    alice.get_by_role("button", name="Save the draft").click()
    alice.wait_for_url(re.compile(r".*\?done=saved$"))
    alice.get_by_role("button", name="Submit the application").click()
    alice.wait_for_url(re.compile(r".*\?done=submitted$"))
    assert alice.locator("#state").inner_text().startswith("submitted")
    axe(alice, "a05-submitted")

    # the operator: the home page's panel, then the completeness check
    op = new_context(browser).new_page()
    sign_in(op, portal, "operator")
    panel = op.locator("li.panel", has_text="Applications to check for completeness")
    assert wanted["title"] in panel.inner_text()
    axe(op, "a06-operator-home")
    op.goto(app_url)
    axe(op, "a07-operator-review")
    op.get_by_label("complete: to the scientific opinion").check()
    op.locator("#check-reason").fill("Every section is complete")
    op.get_by_role("button", name="Record the check").click()
    op.wait_for_url(re.compile(r".*\?done=checked$"))
    assert op.locator("#state").inner_text() == "under review"

    # the scientific committee's opinion
    claire = new_context(browser).new_page()
    sign_in(claire, portal, "claire")
    assert wanted["title"] in claire.locator("li.panel", has_text="waiting for a panel").inner_text()
    claire.goto(app_url)
    axe(claire, "a08-committee-review")
    claire.get_by_label("favourable", exact=True).check()
    claire.locator("#op-reason").fill("Sound design and proportionate data")
    claire.get_by_role("button", name="Record the opinion").click()
    claire.wait_for_url(re.compile(r".*\?done=opinion$"))

    # the authority's decision
    arthur = new_context(browser).new_page()
    sign_in(arthur, portal, "arthur")
    assert wanted["title"] in arthur.locator("li.panel", has_text="waiting for the decision").inner_text()
    arthur.goto(app_url)
    axe(arthur, "a09-authority-decision")
    arthur.get_by_label("authorise", exact=True).check()
    arthur.locator("#dec-reason").fill("Favourable scientific opinion; safeguards adequate")
    arthur.get_by_role("button", name="Record the decision").click()
    arthur.wait_for_url(re.compile(r".*\?done=decided$"))

    # the applicant reads the decision
    alice.goto(app_url)
    assert alice.locator("#state").inner_text() == "authorised"
    assert "Favourable scientific opinion" in alice.locator("#decision").inner_text()
    axe(alice, "a10-authorised")
