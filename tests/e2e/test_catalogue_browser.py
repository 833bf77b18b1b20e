"""The catalogue, the producers' channel and the linkage review in real headless Chromium, on the web
foundation's e2e fixtures (``guichet serve`` subprocess, sign-in helper, axe-core on every page): search with
and without accents, a product, its dictionary and quality summary; a producer uploads a delivery, reads its
receipt and rejection report, and `guichet delivery send` resumes through the API; an operator reviews a
linkage pair. Screenshots in build/test-artifacts/web/."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import SNDS_SCHEMAS, run_cli
from tests.e2e.support import Portal, needs_browser, portal_hub, serving
from tests.e2e.support import axe as _axe
from tests.e2e.support import new_context as _context
from tests.e2e.support import sign_in as _sign_in
from tests.integration.test_catalogue_deliveries import delivery_zip
from tests.web_support import PRODUCER, register_producer

pytestmark = needs_browser


@pytest.fixture(scope="module")
def hub_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Portal, Path, str]]:
    """A portal with one account per role (each in its own organisation), two catalogue products, the
    producer cnam of the producer account's organisation, and one linkage run with pairs in the review queue."""
    import shutil

    from guichet.actor import Actor
    from guichet.catalogue import services as catalogue
    from guichet.demo.catalogue import DEMO_PROPERTIES
    from guichet.linkage import services as linkage
    from guichet.linkage.run import LinkRequest
    from guichet.linkage.tables import ReviewPair

    root = tmp_path_factory.mktemp("e2e-catalogue")
    hub, accounts = portal_hub(root)
    ops = Actor(hub.config.operator, frozenset({"operator"}), strong_auth=True)
    schemas = root / "schemas"
    for name in ("BENEFICIAIRE", "Causes de décès"):
        shutil.copytree(SNDS_SCHEMAS / name, schemas / name)
    catalogue.configure(hub, ops, properties=DEMO_PROPERTIES)
    catalogue.load_schemas(hub, ops, folder=schemas)
    private = register_producer(hub, accounts["producer"].org, PRODUCER)
    key = root / "cnam-private.pem"
    key.write_text(private or "", encoding="utf-8")
    key.chmod(0o600)
    linkage.run_linkage(hub, ops, request=LinkRequest(_review_delivery(root, hub.home), compare_baselines=False))
    with hub.store.read() as s:
        assert s.execute(select(ReviewPair.id).where(ReviewPair.status == "open")).first(), \
            "the synthetic delivery must put pairs in the clerical-review band"
    home = hub.home
    hub.close()
    with serving(home) as url:
        yield Portal(url, accounts, {}), root, url


def _review_delivery(root: Path, home: Path) -> Path:
    """A pseudonymised synthetic delivery whose linkage puts death certificates in the clerical-review band
    (0.2-0.9): 4,000 people, the ``hard`` noise profile, seed 21 (3 pairs in the band; the linkage is
    seeded, so the same pairs every run)."""
    clear, level1, key = root / "synth", root / "level1", root / "snds.key"
    assert run_cli(["synth", "--persons", "4000", "--start", "2023-01-01", "--end", "2023-12-31", "--seed", "21",
                    "--profile", "hard", "--out", str(clear), "--json"]).code == 0
    assert run_cli(["custodian", "domain-key", "--home", str(home), "--domain", "snds", "--out", str(key)]).code == 0
    assert run_cli(["producer", "pseudonymise", str(clear), "--manifest", str(clear / "manifest.toml"),
                    "--key-file", str(key), "--out", str(level1), "--json"]).code == 0
    return level1


def test_search_with_and_without_accents_product_dictionary_and_quality(hub_portal, browser) -> None:  # type: ignore[no-untyped-def]
    _portal, _root, url = hub_portal
    ctx = _context(browser)
    page = ctx.new_page()
    page.goto(f"{url}/catalogue")
    _axe(page, "c01-catalogue")
    for query in ("décès", "DECES"):
        page.goto(f"{url}/catalogue")
        page.get_by_role("searchbox").first.fill(query) if page.get_by_role("searchbox").count() \
            else page.locator("input[name=q]").first.fill(query)
        page.locator("input[name=q]").first.press("Enter")
        page.wait_for_url(f"{url}/catalogue/search?q=*")
        assert page.locator("a[href='/catalogue/causes-de-deces']").count() >= 1, query
    _axe(page, "c02-search")
    page.locator("a[href='/catalogue/causes-de-deces']").first.click()
    page.wait_for_url(f"{url}/catalogue/causes-de-deces")
    assert page.locator("#quality").is_visible()
    _axe(page, "c03-product")
    page.goto(f"{url}/catalogue/beneficiaire")
    page.get_by_role("link", name="IR_BEN_R").first.click() if page.get_by_role("link", name="IR_BEN_R").count() \
        else page.goto(f"{url}/catalogue/beneficiaire/dictionary")
    page.goto(f"{url}/catalogue/beneficiaire/dictionary")
    assert "BEN_SEX_COD" in page.locator("main").inner_text()
    _axe(page, "c04-dictionary")
    ctx.close()


def test_producer_uploads_a_delivery_and_reads_receipt_and_rejection_report(hub_portal, browser,  # type: ignore[no-untyped-def]
                                                                           tmp_path: Path) -> None:
    portal, root, url = hub_portal
    data = delivery_zip(bad_rows=2)
    zipped = tmp_path / "delivery.zip"
    zipped.write_bytes(data)
    ctx = _context(browser)
    page = ctx.new_page()
    _sign_in(page, portal, "producer")
    page.get_by_role("navigation").get_by_role("link", name="Deliveries").click()
    page.wait_for_url(f"{url}/deliveries")
    _axe(page, "c05-deliveries")
    page.locator("#file").set_input_files(str(zipped))
    page.locator("#sha256").fill(hashlib.sha256(data).hexdigest())
    page.get_by_role("button", name="Send and deposit").click()
    page.wait_for_url(f"{url}/deliveries/dl*")
    main = page.locator("main").inner_text()
    assert hashlib.sha256(data).hexdigest() in main and "cnam.producer" in main
    assert "Rejection report" in main and "BEN_NIR_PSA" in main and "open-report" in main
    assert "not-a-pseudonym" not in main, "identifier cells stay sealed on the hub"
    _axe(page, "c06-receipt-and-rejections")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the sealed rejection report (JSON)").click()
    report = tmp_path / "report.json"
    download.value.save_as(str(report))
    opened = subprocess.run([sys.executable, "-m", "guichet", "delivery", "open-report", str(report), "--key-file",
                             str(root / "cnam-private.pem"), "--json"], capture_output=True, text=True)
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.count("not-a-pseudonym") == 2
    ctx.close()


def test_delivery_send_uses_the_resumable_api(hub_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from guichet.accounts import services as accounts
    from guichet.actor import system_actor
    from guichet.hub import open_hub

    _portal, root, url = hub_portal
    hub = open_hub(root / "hub" if (root / "hub").exists() else next(root.glob("*/guichet.toml")).parent, None)
    token = accounts.issue_token(hub, system_actor(), username="cnam.producer", scopes=("api",)).token
    hub.close()
    token_file = tmp_path / "cnam.token"
    token_file.write_text(token, encoding="utf-8")
    token_file.chmod(0o600)
    zipped = tmp_path / "again.zip"
    zipped.write_bytes(delivery_zip(bad_rows=3))
    sent = subprocess.run([sys.executable, "-m", "guichet", "delivery", "send", str(zipped), "--url", url,
                           "--token-file", str(token_file), "--json"], capture_output=True, text=True)
    assert sent.returncode == 1, sent.stderr  # it ran; rows were quarantined
    assert '"status": "deposited"' in sent.stdout and '"rows_quarantined": 3' in sent.stdout


def test_operator_reviews_a_linkage_pair(hub_portal, browser) -> None:  # type: ignore[no-untyped-def]
    from guichet.hub import open_hub
    from guichet.linkage.tables import ReviewPair
    from guichet.store.models import AuditEvent

    portal, _root, url = hub_portal
    ctx = _context(browser)
    page = ctx.new_page()
    _sign_in(page, portal, "operator")
    page.get_by_role("navigation").get_by_role("link", name="Linkage review").click()
    page.wait_for_url(f"{url}/linkage/review")
    _axe(page, "c07-linkage-queue")
    assert page.locator("#queue tbody a").count() >= 1, "the fixture's linkage run puts pairs in the queue"
    page.locator("#queue tbody a").first.click()
    page.wait_for_url(f"{url}/linkage/review/*")
    pair_id = int(page.url.rsplit("/", 1)[1])
    comparison = page.locator("#comparison").inner_text()
    assert "Death certificate" in comparison
    for field in ("sex", "birth_year", "residence"):  # the certificate and the person side by side
        assert field in comparison, field
    _axe(page, "c08-linkage-pair")
    page.get_by_label("non-match").check()
    page.get_by_label("Note (optional)").fill("different commune of birth")
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_url(f"{url}/linkage/review?decided={pair_id}")
    assert "recorded" in page.locator("main").inner_text()
    page.goto(f"{url}/linkage/review?status=non_match")
    assert page.locator(f"#queue tbody a[href='/linkage/review/{pair_id}']").count() == 1
    ctx.close()

    # another role is refused the queue and the pair, and cannot decide
    ctx = _context(browser)
    page = ctx.new_page()
    _sign_in(page, portal, "researcher")
    assert page.get_by_role("navigation").get_by_role("link", name="Linkage review").count() == 0
    for path in ("/linkage/review", f"/linkage/review/{pair_id}"):
        response = page.goto(f"{url}{path}")
        assert response is not None and response.status == 403, path
    tokens = page.locator("input[name=csrf_token]")
    csrf = (tokens.first.get_attribute("value") if tokens.count() else None) or ""
    refused = page.request.post(f"{url}/linkage/review/{pair_id}", form={"decision": "match", "csrf_token": csrf})
    assert refused.status == 403
    ctx.close()

    # the decision is stored, and the view, the decision and the refusals are in the audit trail
    hub = open_hub(_root / "hub", None)
    try:
        with hub.store.read() as s:
            pair = s.get(ReviewPair, pair_id)
            assert pair is not None and pair.status == "non_match"
            assert pair.decided_by == portal.accounts["operator"].username
            events = s.execute(select(AuditEvent.action, AuditEvent.actor, AuditEvent.outcome, AuditEvent.object)
                               .where(AuditEvent.action.like("linkage.review%"))).all()
    finally:
        hub.close()
    operator, researcher = portal.accounts["operator"].username, portal.accounts["researcher"].username
    assert ("linkage.review_view", operator, "ok") in {(a, who, out) for a, who, out, _o in events}
    decided = [e for e in events if e[0] == "linkage.review_decide" and e[1] == operator and e[2] == "ok"]
    assert len(decided) == 1 and str(pair_id) in (decided[0][3] or "")
    assert {("linkage.review_list", "refused"), ("linkage.review_view", "refused"), ("linkage.review_decide", "refused")} \
        <= {(a, out) for a, who, out, _o in events if who == researcher}
