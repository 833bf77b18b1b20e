"""A hub with one active permit (the sample document: alice and bob named, of Inserm U1018), checkers in
three organisations and one in the project's, and helper outputs in the workspace's ``outputs/``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from guichet.accounts import services as accounts
from guichet.accounts.auth import actor_for
from guichet.actor import Actor, system_actor
from guichet.analysis import crosstab
from guichet.hub import Hub
from tests.airlock_support import people
from tests.permit_support import sample_document

PERMIT = "P-2026-0001"
ORG = "Inserm U1018"
USERS = {"alice": ("researcher", ORG), "bob": ("researcher", ORG), "eve": ("researcher", "Other lab"),
         "olga": ("checker", "Output checking"), "pierre": ("checker", "Checkers two"),
         "quentin": ("checker", "Checkers three"), "chk.same": ("checker", ORG)}


def add_permit(hub: Hub, permit: str = PERMIT, people_: list[str] | None = None, org: str = ORG) -> None:
    from guichet.permits.tables import Attestation, Permit

    document = sample_document()
    document["id"] = permit
    document["holder"]["organisation"] = org
    names = people_ or ["alice", "bob"]
    document["people"] = [{"name": n, "role": "member", "attested_until": None} for n in names]
    today = date.today()
    with hub.store.write() as s:
        # the application is a number, as issued permits have (the permit services read it as one)
        s.add(Permit(id=permit, application=str(int(permit.rsplit("-", 1)[1])), org=org, owner=names[0], state="active", revision=1,
                     document=document, valid_from=today - timedelta(days=1), valid_until=today + timedelta(days=400),
                     issued_by="operator", issued_at=datetime.now(UTC)))
        for n in names:
            s.add(Attestation(username=n, valid_until=today + timedelta(days=400), note=None, attested_by="operator",
                              created_at=datetime.now(UTC)))


def setup(hub: Hub) -> dict[str, Actor]:
    system = system_actor()
    for u, (role, org) in USERS.items():
        accounts.add_user(hub, system, username=u, roles=[role], org=org)
    add_permit(hub)
    return {u: actor_for(hub, u) for u in [*USERS, hub.config.operator]}


def outputs(hub: Hub, permit: str = PERMIT) -> Path:
    out = hub.home / "workspaces" / permit / "outputs"
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_tables(hub: Hub, permit: str = PERMIT) -> dict[str, Any]:
    out = outputs(hub, permit)
    data = people(600, seed=3, rare=0.0)
    crosstab(data, "sex", "region", out=out / "by_region.csv")
    (out / "notes.txt").write_text("How the tables were made.\n", encoding="utf-8")
    return {"data": data}
