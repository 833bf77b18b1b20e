"""The hub-wide differencing ledger on real extracts (the handcrafted lake, two permits on the same data):
a released table's cells are recorded as hub persons; a new table whose total differs from a released one by
one person is flagged — within the project (the classic pair) and across projects (the other project's cell
is not described to the author); the ledger holds hub-person keys, never surrogates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from guichet.accounts import services as accounts
from guichet.accounts.auth import actor_for
from guichet.actor import system_actor
from guichet.airlock import ledger
from guichet.airlock import request_services as rs
from guichet.airlock.tables import LedgerCell
from guichet.analysis import crosstab
from guichet.workspace import services as ws
from guichet.workspace.build import read_extract
from tests.workspace_support import CONTENT_2023, Desk, make_desk

pytestmark = pytest.mark.integration
CTX = {"context": "beneficiaries of 2023 by sex", "controls": "counts of distinct persons"}
WHY = "the threshold is the permit's; the test looks at differencing only"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    d = make_desk(tmp_path_factory.mktemp("ledger"))
    accounts.add_user(d.hub, system_actor(), username="pierre", roles=["checker"], org="Checkers two")
    yield d
    d.hub.close()


def _table(desk: Desk, permit: str, name: str, where: str | None) -> None:
    beneficiaries = read_extract(desk.hub, permit)["IR_BEN_R"]
    out = desk.hub.config.home / "workspaces" / permit / "outputs"
    out.mkdir(parents=True, exist_ok=True)
    crosstab(beneficiaries, "BEN_SEX_COD", out=out / name, where=where)


def _released(desk: Desk, permit: str, name: str) -> dict[str, Any]:
    who = {u: actor_for(desk.hub, u) for u in ("alice", "olga", "pierre", desk.hub.config.operator)}
    r = rs.submit(desk.hub, who["alice"], permit=permit, files=[name], group="sex", **CTX)
    for checker in ("olga", "pierre"):
        rs.review(desk.hub, who[checker], request=r["request"], decision="approve", reason=WHY)
    rs.release(desk.hub, who[desk.hub.config.operator], request=r["request"])
    return r


def test_differencing_within_and_across_projects(desk: Desk) -> None:
    operator = actor_for(desk.hub, desk.hub.config.operator).with_strong_auth()
    first, second = desk.permit(CONTENT_2023, "one"), desk.permit(CONTENT_2023, "two")
    for p in (first, second):
        ws.build_extract(desk.hub, operator, permit_id=p)
    alice = actor_for(desk.hub, "alice")
    _table(desk, first, "all.csv", None)
    _released(desk, first, "all.csv")
    with desk.hub.store.read() as s:
        cells = list(s.execute(select(LedgerCell)).scalars())
    assert cells and all(len(c.persons) == 8 * c.count for c in cells)
    total = max(cells, key=lambda c: c.count)
    assert total.count >= 15  # the 2023 beneficiaries
    # the classic pair: the same table without one person
    one = str(read_extract(desk.hub, first)["IR_BEN_R"].column("PERSON_ID")[0])
    _table(desk, first, "all_but_one.csv", f"PERSON_ID <> '{one}'")
    r = rs.submit(desk.hub, alice, permit=first, files=["all_but_one.csv"], group="sex", **CTX)
    f = r["files"][0]
    assert f["status"] == "fail" and "differencing" in f["check"]["reasons"]
    assert any(x["apart"] == 1 and "released cell" in x["against"] for x in f["ledger"])
    # across projects: the other permit's surrogates differ, the hub persons are the same
    other = str(read_extract(desk.hub, second)["IR_BEN_R"].column("PERSON_ID")[0])
    assert other != one
    _table(desk, second, "all_but_one.csv", f"PERSON_ID <> '{other}'")
    r = rs.submit(desk.hub, alice, permit=second, files=["all_but_one.csv"], group="sex", **CTX)
    f = r["files"][0]
    assert any(x["apart"] == 1 for x in f["ledger"])
    assert all(x["against"] == "a released cell" for x in f["ledger"])  # the author learns nothing more
    olga = actor_for(desk.hub, "olga")
    seen = rs.show(desk.hub, olga, request=r["request"])["files"][0]["ledger"]
    assert any(x["against"] == "a cell released to another project" and not x["same_project"] for x in seen)
    assert "all.csv" not in str(seen) and first not in str(seen)
    # the ledger maps both projects' surrogates to the same hub persons
    assert set(ledger.hub_persons(desk.hub, first.lower()).values()) == \
        set(ledger.hub_persons(desk.hub, second.lower()).values())
