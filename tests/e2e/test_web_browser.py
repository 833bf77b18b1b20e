"""The portal in real headless Chromium: `guichet serve` as a subprocess over a hub with one account per role, driven by
Playwright. Sign in with password and TOTP, be refused another role's page, switch language, post a form
without its CSRF token; axe-core on every page (0 serious or critical violations); screenshots kept in
build/test-artifacts/web/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest

from tests.conftest import REPO, make_hub
from tests.web_support import add_person

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "build" / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

DEMO_ACCOUNTS = {"operator": "operator", "producer": "cnam.producer", "researcher": "alice.researcher",
                 "committee": "claire.committee", "authority": "arthur.authority", "checker": "olga.checker",
                 "auditor": "victor.auditor"}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() or not AXE.exists(),
                                reason="needs /usr/bin/chromium and node_modules/axe-core (npm ci)")


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    password: str
    secret: str


@dataclass
class Portal:
    url: str
    accounts: dict[str, Account]
    used_steps: dict[str, int]

    def code(self, username: str) -> str:
        """A TOTP code not used yet by this account (the portal refuses replays): wait for the next step."""
        while True:
            step = int(time.time()) // 30
            if self.used_steps.get(username, -1) < step:
                self.used_steps[username] = step
                secret = next(a.secret for a in self.accounts.values() if a.username == username)
                return pyotp.TOTP(secret).at(step * 30)
            time.sleep(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    # A hub with one account per role, each with password and TOTP (what `guichet demo` makes, without
    # the data stages, so that this tier depends on the web and accounts only).
    root = tmp_path_factory.mktemp("e2e")
    hub = make_hub(root)
    home = hub.home
    accounts = {}
    for role, username in DEMO_ACCOUNTS.items():
        person = add_person(hub, username, role, password=f"{role}-password-e2e")
        accounts[role] = Account(person.username, role, person.password, person.totp_secret)
    hub.close()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    server = subprocess.Popen([sys.executable, "-m", "guichet", "serve", "--home", str(home), "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=1) as r:  # noqa: S310 - local test server
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("guichet serve did not become ready")
        yield Portal(url, accounts, {})
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr:
            server.stderr.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _context(browser, locale: str = "en-GB"):  # type: ignore[no-untyped-def]
    # bypass_csp: axe is injected as an inline script, which the portal's CSP (rightly) forbids.
    return browser.new_context(locale=locale, bypass_csp=True)


def _axe(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Run axe-core; keep a screenshot; fail on serious or critical violations."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [(v["id"], v["impact"], len(v["nodes"])) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: accessibility violations {bad}"


def _sign_in(page, portal: Portal, role: str) -> None:  # type: ignore[no-untyped-def]
    account = portal.accounts[role]
    page.goto(f"{portal.url}/login")
    page.get_by_label("User name").fill(account.username) if page.locator("html").get_attribute("lang") == "en" \
        else page.locator("#username").fill(account.username)
    page.locator("#password").fill(account.password)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{portal.url}/login/totp")
    page.locator("#code").fill(portal.code(account.username))
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{portal.url}/")


def test_operator_signs_in_with_password_and_totp_and_every_page_passes_axe(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(browser)
    page = ctx.new_page()
    response = page.goto(f"{portal.url}/accounts")
    assert response.status == 401 and page.locator("#username").is_visible()
    _axe(page, "01-login-needed")
    page.goto(f"{portal.url}/login")
    _axe(page, "02-login")
    account = portal.accounts["operator"]
    page.get_by_label("User name").fill(account.username)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{portal.url}/login/totp")
    _axe(page, "03-totp")
    page.get_by_label("6-digit code").fill(portal.code(account.username))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{portal.url}/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Welcome")
    _axe(page, "04-home-operator")
    for path, name in (("/accounts", "05-accounts"), ("/audit", "06-audit"), ("/account", "07-account")):
        page.get_by_role("navigation").get_by_role("link").filter(has_text={
            "/accounts": "Accounts", "/audit": "Audit trail", "/account": "My account"}[path]).click()
        page.wait_for_url(f"{portal.url}{path}")
        _axe(page, name)
    page.goto(f"{portal.url}/audit")
    assert page.get_by_text("The chain is intact").is_visible()
    page.goto(f"{portal.url}/no-such-page")
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    _axe(page, "08-not-found")
    page.goto(f"{portal.url}/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{portal.url}/login")
    assert page.goto(f"{portal.url}/").status == 401
    ctx.close()


def test_researcher_is_refused_the_operators_page(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(browser)
    page = ctx.new_page()
    _sign_in(page, portal, "researcher")
    nav = page.get_by_role("navigation").inner_text()
    assert "Accounts" not in nav and "Audit trail" not in nav
    _axe(page, "09-home-researcher")
    response = page.goto(f"{portal.url}/accounts")
    assert response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "Access refused"
    assert "user.list" in page.locator("main").inner_text()
    _axe(page, "10-forbidden")
    ctx.close()


def test_switching_language_is_remembered(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(browser)
    page = ctx.new_page()
    page.goto(f"{portal.url}/login")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("button", name="Français").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", level=1).inner_text() == "Connexion"
    _axe(page, "11-login-fr")
    _sign_in(page, portal, "auditor")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Bienvenue")
    page.goto(f"{portal.url}/account")
    page.locator("#locale").select_option("en")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(f"{portal.url}/account")
    assert page.get_by_role("heading", level=1).inner_text() == "My account"
    page.get_by_role("button", name="Français").click()
    page.wait_for_url(f"{portal.url}/account")
    assert page.get_by_role("heading", level=1).inner_text() == "Mon compte"
    _axe(page, "12-account-fr")
    page.reload()
    assert page.locator("html").get_attribute("lang") == "fr"
    ctx.close()


def test_a_form_without_its_csrf_token_is_refused(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(browser)
    page = ctx.new_page()
    _sign_in(page, portal, "checker")
    page.evaluate("document.querySelectorAll('form.language input[name=csrf_token]').forEach(e => e.remove())")
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Français").click()
    assert nav.value.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "Access refused"
    assert "form has expired" in page.locator("main").inner_text()
    _axe(page, "13-csrf-refused")
    page.goto(f"{portal.url}/")
    assert page.locator("html").get_attribute("lang") == "en", "the refused form changed nothing"
    ctx.close()


def test_keyboard_reaches_the_sign_in_form_through_the_skip_link(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(browser)
    page = ctx.new_page()
    page.goto(f"{portal.url}/no-such-page")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "/", "the skip link lands in main"
    page.goto(f"{portal.url}/login")
    assert page.evaluate("document.activeElement.id") == "username", "the first field has the focus"
    account = portal.accounts["producer"]
    page.keyboard.type(account.username)
    page.keyboard.press("Tab")
    page.keyboard.type(account.password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{portal.url}/login/totp")
    assert page.evaluate("document.activeElement.id") == "code"
    page.keyboard.type(portal.code(account.username))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{portal.url}/")
    ctx.close()


def test_self_service_password_second_factor_and_sessions(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    # The committee member changes the password, then the authenticator app, then signs out everywhere.
    account = portal.accounts["committee"]
    other = _context(browser)
    other_page = other.new_page()
    _sign_in(other_page, portal, "committee")  # a second session, on "another device"
    ctx = _context(browser)
    page = ctx.new_page()
    _sign_in(page, portal, "committee")
    page.goto(f"{portal.url}/account")
    page.get_by_role("link", name="Change my password").click()
    page.wait_for_url(f"{portal.url}/account/password")
    _axe(page, "14-password")
    page.get_by_label("Current password").fill("not the password")
    page.get_by_label("New password", exact=True).fill("committee-new-password-e2e")
    page.get_by_label("New password, again").fill("committee-new-password-e2e")
    page.get_by_role("button", name="Change my password").click()
    assert page.get_by_role("alert").inner_text().startswith("The current password is wrong")
    _axe(page, "15-password-refused")
    page.get_by_label("Current password").fill(account.password)
    page.get_by_label("New password", exact=True).fill("committee-new-password-e2e")
    page.get_by_label("New password, again").fill("committee-new-password-e2e")
    page.get_by_role("button", name="Change my password").click()
    page.wait_for_url(f"{portal.url}/account?done=password&ended=1")
    assert "Sessions ended elsewhere: 1" in page.get_by_role("status").inner_text()
    assert other_page.goto(f"{portal.url}/").status == 401, "the other device was signed out"
    other.close()
    portal.accounts["committee"] = Account(account.username, "committee", "committee-new-password-e2e",
                                           account.secret)

    page.get_by_role("link", name="Change my authenticator app").click()
    page.wait_for_url(f"{portal.url}/account/totp")
    assert page.get_by_role("img", name="QR code of the new key for your authenticator app").is_visible()
    _axe(page, "16-totp")
    key = page.locator("#totp-key").inner_text().replace(" ", "")
    page.get_by_label("Current password").fill("committee-new-password-e2e")
    page.get_by_label("Code of your current app").fill(portal.code(account.username))
    page.get_by_label("Code of the new app").fill(pyotp.TOTP(key).now())
    page.get_by_role("button", name="Use the new app").click()
    page.wait_for_url(f"{portal.url}/account?done=totp&ended=0")
    portal.accounts["committee"] = Account(account.username, "committee", "committee-new-password-e2e", key)
    portal.used_steps[account.username] = int(time.time()) // 30  # the new app's code just used

    page.get_by_role("link", name="My open sessions").click()
    page.wait_for_url(f"{portal.url}/account/sessions")
    assert page.get_by_role("cell", name="this session").is_visible()
    _axe(page, "17-sessions")
    page.get_by_role("button", name="Sign out everywhere").click()
    page.wait_for_url(f"{portal.url}/login")
    assert page.goto(f"{portal.url}/account").status == 401
    _sign_in(page, portal, "committee")  # the new password and the new app sign in
    page.goto(f"{portal.url}/account/sessions")
    page.get_by_role("button", name="Français").click()
    page.wait_for_url(f"{portal.url}/account/sessions")
    assert page.get_by_role("heading", level=1).inner_text() == "Mes sessions ouvertes"
    _axe(page, "18-sessions-fr")
    ctx.close()
