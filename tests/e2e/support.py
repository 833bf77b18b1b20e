"""Shared helpers of the browser tier: a hub with one account per role (each role in its own organisation,
see ``tests.web_support``), ``guichet serve`` on it as a subprocess, headless Chromium contexts, signing in
through the real forms with a TOTP code never used twice, and axe-core on a page (0 serious or critical
violations; a screenshot kept in build/test-artifacts/web/).

A test module builds its hub in a module- or session-scoped fixture (``portal_hub`` then ``serving``) and
takes the session's ``browser`` fixture (tests/e2e/conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest

from guichet.hub import Hub
from tests.conftest import REPO, make_hub
from tests.web_support import ACCOUNTS, ROLES, add_people

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "build" / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

needs_browser = pytest.mark.skipif(not Path(CHROMIUM).exists() or not AXE.exists(),
                                   reason="needs /usr/bin/chromium and node_modules/axe-core (npm ci)")


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    password: str
    secret: str
    org: str = ""


@dataclass
class Portal:
    url: str
    accounts: dict[str, Account]
    used_steps: dict[str, int]

    def code(self, username: str) -> str:
        """A TOTP code not used yet by this account: the portal refuses a step already used (or an earlier one)
        and accepts one step of drift either way (guichet.web.login.totp_step), so the current step's code, else
        the next step's, else wait for the next step (a walk that signs one account in again waits less)."""
        while True:
            now = int(time.time()) // 30
            for step in (now, now + 1):
                if self.used_steps.get(username, -1) < step:
                    self.used_steps[username] = step
                    secret = next(a.secret for a in self.accounts.values() if a.username == username)
                    return pyotp.TOTP(secret).at(step * 30)
            time.sleep(1)


def portal_hub(root: Path, roles: tuple[str, ...] = ROLES) -> tuple[Hub, dict[str, Account]]:
    """A development hub under ``root`` with one account per role (``ACCOUNTS``' names), each in its role's
    organisation, with password "<role>-password-e2e" and TOTP. The caller closes the hub before serving."""
    hub = make_hub(root)
    accounts = {role: Account(p.username, role, p.password, p.totp_secret, p.org)
                for role, p in add_people(hub, roles, suffix="e2e").items()}
    return hub, accounts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


READY_WITHIN = 180  # seconds


@contextmanager
def serving(home: Path) -> Iterator[str]:
    """``guichet serve --home HOME`` on a free port until the block ends; yields its URL once ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    server = subprocess.Popen([sys.executable, "-m", "guichet", "serve", "--home", str(home), "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    # A deadline, not a count of tries: a refused connection returns at once, and on a loaded machine the
    # server's start (it imports the whole web app) took more than the 30 s that 150 tries of 0.2 s gave.
    deadline = time.monotonic() + READY_WITHIN
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"guichet serve exited with {server.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=1) as r:  # noqa: S310 - local test server
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"guichet serve did not become ready within {READY_WITHIN} s")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def launch_browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def new_context(browser, locale: str = "en-GB"):  # type: ignore[no-untyped-def]
    # bypass_csp: axe is injected as an inline script, which the portal's CSP (rightly) forbids.
    return browser.new_context(locale=locale, bypass_csp=True)


def axe(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Run axe-core; keep a screenshot; fail on serious or critical violations."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [(v["id"], v["impact"], len(v["nodes"])) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: accessibility violations {bad}"


def sign_in(page, portal: Portal, role: str) -> None:  # type: ignore[no-untyped-def]
    """Password then TOTP through the forms, as ``role``'s account; lands on the home page."""
    account = portal.accounts[role]
    page.goto(f"{portal.url}/login")
    page.locator("#username").fill(account.username)
    page.locator("#password").fill(account.password)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{portal.url}/login/totp")
    page.locator("#code").fill(portal.code(account.username))
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{portal.url}/")


__all__ = ["ACCOUNTS", "ARGS", "ARTIFACTS", "AXE", "CHROMIUM", "Account", "Portal", "axe", "free_port",
           "launch_browser", "needs_browser", "new_context", "portal_hub", "serving", "sign_in"]
