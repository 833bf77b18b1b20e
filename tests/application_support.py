"""A hub ready for access applications: a small catalogue (DCIR's ER_PRS_F and ER_PHA_F from the shipped
SNDS schemas), accounts of every role in distinct organisations plus some in the applicant's organisation,
and the two panels."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from guichet.access import contents
from guichet.access import services as access
from guichet.accounts import services as accounts
from guichet.accounts.auth import actor_for
from guichet.actor import Actor, system_actor
from guichet.catalogue import services as catalogue
from guichet.hub import Hub

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "application.json"
SCHEMAS = Path(catalogue.__file__).parent / "snds" / "schemas"
APPLICANT_ORG = "Université de test"

# username -> (role, organisation, kind); the *.same accounts belong to the applicant's organisation.
ACCOUNTS: dict[str, tuple[str, str, str]] = {
    "alice": ("researcher", APPLICANT_ORG, "academic"),
    "bob": ("researcher", "Pharma test", "industry"),
    "claire": ("committee", "Scientific committee", "public_body"),
    "marc": ("committee", "Scientific committee", "public_body"),
    "paul": ("committee", "Patients association", "public_body"),
    "arthur": ("authority", "Data protection authority", "public_body"),
    "victor": ("auditor", "Audit office", "public_body"),
    "olga": ("checker", "Output checking", "hub"),
    "cnam": ("producer", "Assurance Maladie", "producer"),
    "op.same": ("operator", APPLICANT_ORG, "academic"),
    "nina.same": ("committee", APPLICANT_ORG, "academic"),
    "auth.same": ("authority", APPLICANT_ORG, "academic"),
}
PANEL_MEMBERS = {"scientific": ("claire", "marc", "nina.same"), "citizens": ("paul",)}


def example() -> dict[str, Any]:
    content: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return content


def small_catalogue(root: Path) -> Path:
    folder = root / "schemas" / "DCIR"
    folder.mkdir(parents=True, exist_ok=True)
    for table in ("ER_PRS_F", "ER_PHA_F"):
        shutil.copy(SCHEMAS / "DCIR" / f"{table}.json", folder / f"{table}.json")
    return folder.parent


def prepare(hub: Hub, root: Path) -> dict[str, Actor]:
    """Catalogue, accounts and panels; returns the actors by username (``operator`` included)."""
    system = system_actor()
    catalogue.load_schemas(hub, system, folder=small_catalogue(root))
    for username, (role, org, kind) in ACCOUNTS.items():
        accounts.add_user(hub, system, username=username, roles=[role], org=org, org_kind=kind)
    actors = {u: actor_for(hub, u).with_strong_auth() for u in [*ACCOUNTS, hub.config.operator]}
    for panel, members in PANEL_MEMBERS.items():
        for m in members:
            access.add_member(hub, actors["operator"], panel=panel, username=m)
    return actors


@contextmanager
def lake_unchecked() -> Iterator[None]:
    """These hubs hold no data: the workflow's tests do not check criteria against the lake's columns (the
    criteria language's own tests do, on a hub with data)."""
    saved = contents.CHECK_AGAINST_LAKE
    contents.CHECK_AGAINST_LAKE = False
    try:
        yield
    finally:
        contents.CHECK_AGAINST_LAKE = saved
