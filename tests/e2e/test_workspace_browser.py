"""A permit's workspace in real headless Chromium: the researcher named on the permit reads its summary,
tables and dictionary, runs a query in the console (through the same sandbox as ``guichet workspace sql``),
sees a refused one explained, and the history; English and French pages pass axe-core; an auditor reads the
workspace without the console; a researcher not named gets 403. Screenshots in build/test-artifacts/web/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from guichet.accounts import services as accounts
from guichet.workspace import session_sandbox
from tests.e2e.support import Account, Portal, axe, needs_browser, new_context, serving, sign_in
from tests.workspace_support import CONTENT_2023, make_desk

pytestmark = [needs_browser, pytest.mark.skipif(session_sandbox.shutil.which("bwrap") is None,
                                                reason="bubblewrap is not installed")]


@pytest.fixture(scope="module")
def workspace_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Portal, str]]:
    from guichet.actor import system_actor

    desk = make_desk(tmp_path_factory.mktemp("e2e-workspace"))
    pid = desk.permit(CONTENT_2023, "browser")
    desk.ok("workspace", "build", pid)
    desk.ok("workspace", "release", pid, "--reason", "synthetic test data")
    desk.ok("workspace", "python", pid, str(_script(desk.root)), who="alice")
    strata = desk.root / "strata.csv"
    strata.write_text("stratum,weight\n" + "".join(f"s{i},{i / 10}\n" for i in range(12)), encoding="utf-8")
    desk.ok("workspace", "bring", pid, str(strata), "--name", "strata", who="alice")  # a view, listed on the page
    found: dict[str, Account] = {}
    for role, name in (("researcher", "alice"), ("other", "bob"), ("auditor", "victor")):
        password = f"{name}-password-e2e"
        accounts.set_password(desk.hub, system_actor(), username=name, password=password)
        secret = accounts.enroll_totp(desk.hub, system_actor(), username=name)
        found[role] = Account(name, role, password, secret)
    desk.hub.close()
    with serving(desk.home) as url:
        yield Portal(url, found, {}), pid


def _script(root: Path) -> Path:
    path = root / "write.py"
    path.write_text("open('table1.csv', 'w').write('sex,n\\n1,10\\n2,10\\n')\n")
    return path


def test_the_researcher_queries_the_workspace_in_the_browser(workspace_portal: tuple[Portal, str], browser: Any) -> None:
    portal, pid = workspace_portal
    for locale, sql_label in (("en-GB", "Run the query"), ("fr-FR", "Exécuter la requête")):
        ctx = new_context(browser, locale=locale)
        page = ctx.new_page()
        sign_in(page, portal, "researcher")
        page.goto(f"{portal.url}/workspaces/{pid}")
        main = page.locator("main").inner_text()
        assert pid in main and "IR_BEN_R" in main and "PERSON_ID" in main and "table1.csv" in main
        assert "strata" in main and "weight" in main  # the brought dataset, with its columns
        page.locator("#sql").fill("SELECT BEN_SEX_COD, count(*) AS n FROM IR_BEN_R GROUP BY ALL ORDER BY ALL")
        page.get_by_role("button", name=sql_label).click()
        page.wait_for_selector("#ws-answer")
        cells = page.locator("#ws-answer tbody td").all_inner_texts()
        assert cells == ["1", "10", "2", "10"]
        axe(page, f"w01-workspace-{locale}")
        if locale == "en-GB":
            page.locator("#sql").fill("SELECT * FROM read_csv('/etc/passwd')")
            page.get_by_role("button", name=sql_label).click()
            page.wait_for_selector("#ws-error")
            error = page.locator("#ws-error").inner_text()
            assert "read_csv as a table" in error and "root:" not in page.content()
            history = page.locator("#ws-history tbody tr").all_inner_texts()
            assert "refused" in history[0] and "done" in history[1]
        ctx.close()


def test_an_auditor_reads_without_the_console_and_others_are_refused(workspace_portal: tuple[Portal, str],
                                                                     browser: Any) -> None:
    portal, pid = workspace_portal
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, portal, "auditor")
    page.goto(f"{portal.url}/workspaces/{pid}")
    assert page.locator("#sql").count() == 0 and "IR_BEN_R" in page.locator("main").inner_text()
    axe(page, "w02-workspace-auditor")
    ctx.close()
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, portal, "other")
    response = page.goto(f"{portal.url}/workspaces/{pid}")
    assert response is not None and response.status == 403
    ctx.close()
