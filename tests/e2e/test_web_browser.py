"""The portal in real headless Chromium: `guichet serve` as a subprocess over a hub with one account per role, driven by
Playwright. Sign in with password and TOTP, be refused another role's page, switch language, post a form
without its CSRF token; axe-core on every page (0 serious or critical violations); screenshots kept in
build/test-artifacts/web/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pyotp
import pytest

from tests.e2e.support import (
    AXE,
    CHROMIUM,
    Account,
    Portal,
    free_port,
    needs_browser,
    portal_hub,
    serving,
)
from tests.e2e.support import axe as _axe
from tests.e2e.support import new_context as _context
from tests.e2e.support import sign_in as _sign_in
from tests.web_support import ACCOUNTS

DEMO_ACCOUNTS = ACCOUNTS  # the names other modules imported from here
_free_port = free_port
__all__ = ["AXE", "CHROMIUM", "DEMO_ACCOUNTS", "Account", "Portal", "_axe", "_context", "_free_port", "_sign_in"]

pytestmark = needs_browser


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    # A hub with one account per role, each in its own organisation, with password and TOTP (what
    # `guichet demo` makes, without the data stages, so that this module depends on the web and accounts only).
    hub, accounts = portal_hub(tmp_path_factory.mktemp("e2e"))
    home = hub.home
    hub.close()
    with serving(home) as url:
        yield Portal(url, accounts, {})


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
    portal.accounts["committee"] = replace(account, password="committee-new-password-e2e")

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
    portal.accounts["committee"] = replace(account, password="committee-new-password-e2e", secret=key)
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
