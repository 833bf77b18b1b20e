"""The public registry in real headless Chromium, as a citizen reads it (no account): the page (axe-core),
a product's projects, the JSON with the hub's signing key, and the Atom feed. Screenshots in
build/test-artifacts/web/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.access_support import EXAMPLE, hub_with_lake, prepare
from tests.conftest import run_cli
from tests.e2e.support import axe, needs_browser, new_context, serving

pytestmark = needs_browser


def _ok(home: Path, *args: str, who: str | None = None) -> Any:
    r = run_cli([*args, "--home", str(home), "--json", *(["--as", who] if who else [])])
    assert r.code == 0, r.stderr
    return json.loads(r.stdout) if r.stdout.strip() else None


@pytest.fixture(scope="module")
def registry_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    root = tmp_path_factory.mktemp("e2e-registry")
    hub = hub_with_lake(root)  # the example's criteria are checked against the lake's columns
    prepare(hub, root)
    home = hub.home
    _ok(home, "user", "attest", "alice", "--until", "2030-12-31")
    app = str(_ok(home, "application", "create", "--file", str(EXAMPLE), who="alice")["id"])
    _ok(home, "application", "submit", app, who="alice")
    _ok(home, "application", "check", app, "--complete", "--reason", "all sections present")
    _ok(home, "review", "opinion", app, "--favourable", "--reason", "sound design", "--present", "marc",
        "--vote", "2,0,0", who="claire")
    _ok(home, "review", "decide", app, "--authorise", "--reason", "favourable opinion", who="arthur")
    _ok(home, "permit", "estimate", app)
    _ok(home, "permit", "accept-estimate", app, who="alice")
    pid = _ok(home, "permit", "issue", app)["permit"]["id"]
    key_id = _ok(home, "permit", "key")["key_id"]
    hub.close()
    with serving(home) as url:
        yield url, pid, key_id


def test_a_citizen_reads_the_registry_and_its_feeds(registry_hub, browser) -> None:  # type: ignore[no-untyped-def]
    url, pid, key_id = registry_hub
    ctx = new_context(browser)
    page = ctx.new_page()
    page.goto(f"{url}/registry")
    main = page.locator("main").inner_text()
    assert pid in main and "Université de test" in main and "favourable opinion" in main and key_id in main
    axe(page, "r01-registry")
    page.locator("a[href='/registry?product=dcir']").first.click()
    page.wait_for_url(f"{url}/registry?product=dcir")
    assert pid in page.locator("main").inner_text()
    page.goto(f"{url}/registry.json")
    data = json.loads(page.locator("body").inner_text())
    assert data["hub"]["signing_key"]["key_id"] == key_id and data["permits"][0]["id"] == pid
    feed = page.request.get(f"{url}/registry.atom")
    assert feed.ok and feed.headers["content-type"].startswith("application/atom+xml")
    assert f"Permit {pid} issued" in feed.text()
    ctx.close()
