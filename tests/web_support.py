"""Helpers of the web tests (every tier): accounts with password and TOTP, each role in its own organisation
(so that a same-organisation rule cannot pass by accident), signing in through the forms.

``add_person(hub, username, role)`` puts the account in its role's organisation (``ORGANISATIONS``): the
operator in the hub's, the producer in the organisation of the registered producer ``PRODUCER`` (``cnam``,
what ``tests.conftest.test_producer`` registers), the researcher in a university, and so on.
``add_people(hub)`` makes one account per role (``ACCOUNTS``); ``register_producer(hub, person.org)``
registers a producer in a producer account's organisation."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pyotp

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.hub import Hub
from guichet.lifecycle.init import OPERATOR_ORG

PASSWORD = "correct horse battery staple"
PRODUCER = "cnam"  # the registered producer the producer accounts of these helpers deposit for
PRODUCER_ORG = "Assurance Maladie"  # its organisation (tests.conftest.test_producer's default)
ORGANISATIONS = {  # one organisation per role: none shares the operator's or the producer's
    "operator": OPERATOR_ORG,
    "producer": PRODUCER_ORG,
    "researcher": "Université de Lyon (test)",
    "committee": "Scientific committee (test)",
    "authority": "Data protection authority (test)",
    "checker": "Output checking office (test)",
    "auditor": "Audit office (test)",
}
ROLES = tuple(ORGANISATIONS)
ACCOUNTS = {"operator": "operator", "producer": "cnam.producer", "researcher": "alice.researcher",
            "committee": "claire.committee", "authority": "arthur.authority", "checker": "olga.checker",
            "auditor": "victor.auditor"}  # the demo's user names; "operator" is the hub's own operator
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Person:
    username: str
    role: str
    password: str
    totp_secret: str
    org: str = ""

    def code(self, offset_steps: int = 0) -> str:
        return pyotp.TOTP(self.totp_secret).at(time.time() + 30 * offset_steps)


def add_person(hub: Hub, username: str, role: str, password: str = PASSWORD, totp: bool = True,
               org: str | None = None) -> Person:
    """An account of ``role`` in ``org`` (default: the role's own organisation), with a password and TOTP.
    The hub's operator account exists already (in the hub's organisation): it only gets its credentials."""
    system = system_actor()
    if username == hub.config.operator:
        org = OPERATOR_ORG
    else:
        org = org or ORGANISATIONS[role]
        accounts.add_user(hub, system, username=username, roles=[role], org=org)
    accounts.set_password(hub, system, username=username, password=password)
    secret = accounts.enroll_totp(hub, system, username=username) if totp else ""
    return Person(username, role, password, secret, org)


def add_people(hub: Hub, roles: tuple[str, ...] = ROLES, suffix: str = "test") -> dict[str, Person]:
    """One account per role (``ACCOUNTS``' user names), each in its role's organisation, with password
    "<role>-password-<suffix>" (each role its own) and TOTP."""
    return {role: add_person(hub, hub.config.operator if role == "operator" else ACCOUNTS[role], role,
                             password=f"{role}-password-{suffix}") for role in roles}


def register_producer(hub: Hub, org: str = PRODUCER_ORG, name: str = PRODUCER) -> str | None:
    """Register the producer ``name`` in organisation ``org`` (a producer account deposits for the producers
    of its organisation: pass its ``Person.org``); returns the producer's private key (PEM), None if ``name``
    was registered already."""
    from sqlalchemy import select

    from guichet.deposit import services as deposits
    from guichet.lake.tables import Producer

    with hub.store.read() as s:
        if s.execute(select(Producer.id).where(Producer.name == name)).first() is not None:
            return None
    _info, private = deposits.add_producer(hub, system_actor(), name=name, org=org)
    return private


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
