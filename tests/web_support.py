"""Helpers of the web tests (every tier): accounts with password and TOTP, signing in through the forms."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pyotp

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.hub import Hub

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Person:
    username: str
    role: str
    password: str
    totp_secret: str

    def code(self, offset_steps: int = 0) -> str:
        return pyotp.TOTP(self.totp_secret).at(time.time() + 30 * offset_steps)


def add_person(hub: Hub, username: str, role: str, password: str = PASSWORD, totp: bool = True) -> Person:
    system = system_actor()
    if username != hub.config.operator:
        accounts.add_user(hub, system, username=username, roles=[role], org="Test org")
    accounts.set_password(hub, system, username=username, password=password)
    secret = accounts.enroll_totp(hub, system, username=username) if totp else ""
    return Person(username, role, password, secret)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client, person: Person, code: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Password then TOTP through the real forms; asserts that it worked."""
    page = client.get("/login")
    r = client.post("/login", data={"username": person.username, "password": person.password,
                                    "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    page = client.get("/login/totp")
    r = client.post("/login/totp", data={"code": code or person.code(), "csrf_token": csrf_of(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
