"""The datasets pages in real headless Chromium, as an operator and as a producer, each in its own
organisation: the home page's waiting panels, `/datasets`, a dataset's versions, a version's quality report
(served), and the held-version override form. Two producers deposit: cnam (the producer account's
organisation) and atih (another organisation); a producer sees its own datasets only, and another
producer's dataset is answered as if it did not exist. axe-core on every page; screenshots in
build/test-artifacts/web/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import SYNTHETIC_SNDS
from tests.e2e.support import Portal, axe, needs_browser, new_context, portal_hub, serving, sign_in
from tests.web_support import PRODUCER, register_producer

pytestmark = needs_browser

OTHER, OTHER_ORG = "atih", "ATIH (test)"
# (table, producer, status after its deposit): the synthetic-snds samples are semantically random, so the
# quality gate holds some of them (tests/integration/test_deposit_synthetic_snds.py).
DEPOSITS = (("BENEFICIAIRE/IR_BEN_R", PRODUCER, "held"),  # the operator publishes it by override
            ("DCIR_DCIRS/IR_IMB_R", PRODUCER, "held"),  # stays held: in the producer's panel
            ("Causes de décès/KI_ECD_R", PRODUCER, "published"),
            ("PMSI/PMSI MCO/T_MCOaaA", OTHER, "published"),
            ("PMSI/PMSI MCO/T_MCOaaCSTC", OTHER, "held"))
MINE = {"IR_BEN_R", "IR_IMB_R", "KI_ECD_R"}
THEIRS = {"T_MCOaaA", "T_MCOaaCSTC"}


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    from guichet.actor import system_actor
    from guichet.deposit import services as deposits
    from guichet.deposit.run import single_file_request

    hub, accounts = portal_hub(tmp_path_factory.mktemp("e2e-datasets"))
    register_producer(hub, accounts["producer"].org, PRODUCER)
    register_producer(hub, OTHER_ORG, OTHER)
    assert accounts["producer"].org != OTHER_ORG != accounts["operator"].org
    for path, producer, status in DEPOSITS:
        csv_path = SYNTHETIC_SNDS / f"{path}.csv"
        [r] = deposits.deposit(hub, system_actor(), request=single_file_request(
            csv_path, csv_path.stem, csv_path.with_suffix(".json"), producer, "replace", []))
        assert r.status == status, (path, r.status)
    home = hub.home
    hub.close()
    with serving(home) as url:
        yield Portal(url, accounts, {})


def _panel(page, title: str) -> str:  # type: ignore[no-untyped-def]
    return page.locator("li.panel").filter(has=page.get_by_role("heading", level=3, name=title)).inner_text()


def _listed(page) -> set[str]:  # type: ignore[no-untyped-def]
    return set(page.locator("#datasets tbody th a").all_inner_texts())


def test_operator_follows_every_dataset_reads_a_report_and_publishes_a_held_version(portal: Portal,  # type: ignore[no-untyped-def]
                                                                                   browser) -> None:
    url = portal.url
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, portal, "operator")
    held = _panel(page, "Versions held")
    assert {"IR_BEN_R v1", "IR_IMB_R v1", "T_MCOaaCSTC v1"} <= set(held.splitlines()), held
    assert "IR_BEN_R" in _panel(page, "Datasets with failing checks")
    axe(page, "d01-home-operator")

    page.get_by_role("navigation").get_by_role("link", name="Datasets").click()
    page.wait_for_url(f"{url}/datasets")
    assert _listed(page) == MINE | THEIRS
    row = page.locator("#datasets tbody tr").filter(has=page.get_by_role("link", name="T_MCOaaA", exact=True))
    assert OTHER in row.inner_text() and "published" in row.inner_text()
    axe(page, "d02-datasets-operator")

    page.get_by_role("link", name="IR_BEN_R", exact=True).click()
    page.wait_for_url(f"{url}/datasets/IR_BEN_R")
    version = page.locator("section#v1")
    assert "held" in version.get_by_role("heading", level=2).inner_text()
    main = page.locator("main").inner_text()
    assert PRODUCER in main and "Rows delivered" in main and "Lineage" in main
    form = version.locator("form.decision")
    assert form.get_by_role("button", name="Publish this version").is_visible()
    axe(page, "d03-dataset-held-operator")

    page.get_by_role("link", name="Quality report of this version").click()
    page.wait_for_url(f"{url}/datasets/IR_BEN_R/v1/quality")
    assert page.get_by_role("heading", level=1).inner_text() == "Quality report — IR_BEN_R version 1"
    assert "Every check" in page.locator("body").inner_text()
    axe(page, "d04-quality-report")

    page.goto(f"{url}/datasets/IR_BEN_R")
    page.get_by_label("Reason (at least 10 characters, no identifier)").fill("checked by hand: sample data")
    page.get_by_role("button", name="Publish this version").click()
    page.wait_for_url(f"{url}/datasets/IR_BEN_R?published=1")
    assert "Version 1 is published" in page.get_by_role("status").inner_text()
    assert "published" in page.locator("section#v1").get_by_role("heading", level=2).inner_text()
    assert page.locator("section#v1 form.decision").count() == 0, "a published version has no override form"
    assert "held → published: quality override" in page.locator("section#v1").inner_text()
    axe(page, "d05-dataset-published-operator")
    page.goto(f"{url}/")
    assert "IR_BEN_R v1" not in _panel(page, "Versions held").splitlines()
    ctx.close()


def test_producer_sees_its_own_datasets_only_and_cannot_override(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    url = portal.url
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, portal, "producer")
    held = set(_panel(page, "Versions held").splitlines())
    assert "IR_IMB_R v1" in held and not {line for line in held if line.startswith(tuple(THEIRS))}, held
    axe(page, "d06-home-producer")

    page.get_by_role("navigation").get_by_role("link", name="Datasets").click()
    page.wait_for_url(f"{url}/datasets")
    assert _listed(page) == MINE
    assert OTHER not in page.locator("#datasets").inner_text()
    axe(page, "d07-datasets-producer")

    page.get_by_role("link", name="IR_IMB_R", exact=True).click()
    page.wait_for_url(f"{url}/datasets/IR_IMB_R")
    assert "held" in page.locator("section#v1").get_by_role("heading", level=2).inner_text()
    assert page.locator("form.decision").count() == 0, "only an operator publishes a held version"
    axe(page, "d08-dataset-held-producer")
    page.get_by_role("link", name="Quality report of this version").click()
    page.wait_for_url(f"{url}/datasets/IR_IMB_R/v1/quality")
    assert page.get_by_role("heading", level=1).inner_text() == "Quality report — IR_IMB_R version 1"

    # another producer's dataset, its report and its override are answered as a dataset that does not exist
    nowhere = page.goto(f"{url}/datasets/NO_SUCH_TABLE")
    assert nowhere is not None and nowhere.status == 404
    absent = page.locator("main").inner_text().replace("NO_SUCH_TABLE", "T_MCOaaCSTC")
    response = page.goto(f"{url}/datasets/T_MCOaaCSTC")
    assert response is not None and response.status == 404
    assert page.locator("main").inner_text() == absent
    response = page.goto(f"{url}/datasets/T_MCOaaCSTC/v1/quality")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    assert OTHER not in page.locator("main").inner_text()
    page.goto(f"{url}/datasets/IR_IMB_R")
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    refused = page.request.post(f"{url}/datasets/IR_IMB_R/v1/override",
                                form={"reason": "a producer tries to publish", "csrf_token": csrf})
    assert refused.status == 403
    page.goto(f"{url}/datasets/IR_IMB_R")
    assert "held" in page.locator("section#v1").get_by_role("heading", level=2).inner_text(), "still held"
    ctx.close()


def test_accounts_are_in_distinct_organisations(portal: Portal) -> None:
    orgs = [a.org for a in portal.accounts.values()]
    assert len(set(orgs)) == len(orgs) == 7 and all(orgs)
