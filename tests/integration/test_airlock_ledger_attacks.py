"""The classic differencing attacks on real extracts (the handcrafted lake, two permits on the same data), as
the ledger sees them: a table by six groups released, then a table by two coarser groups — the same
dimension — of the population without one person (each coarse group is a union of released groups); the same across
projects; a new table whose cells together make a released total without one person (the new output's own
cells combined); and the total of all bands but one, which equals a union of released cells and is not
flagged (nothing new)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from guichet.accounts import services as accounts
from guichet.accounts.auth import actor_for
from guichet.actor import system_actor
from guichet.airlock import request_services as rs
from guichet.analysis import crosstab
from guichet.workspace import services as ws
from guichet.workspace.build import read_extract
from tests.workspace_support import CONTENT_2023, Desk, make_desk

pytestmark = pytest.mark.integration
CTX = {"context": "beneficiaries of 2023 by group", "controls": "counts of distinct persons"}
WHY = "the threshold is the permit's; the test looks at differencing only"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    d = make_desk(tmp_path_factory.mktemp("attacks"))
    accounts.add_user(d.hub, system_actor(), username="pierre", roles=["checker"], org="Checkers two")
    yield d
    d.hub.close()


def _beneficiaries(desk: Desk, permit: str, coarse: bool = False) -> pa.Table:
    """The permit's beneficiaries with ``band``: one of six groups drawn from what is recorded about a person
    (the same in every project: surrogates differ, attributes do not), or, ``coarse``, one of two groups of
    three of them."""
    t = read_extract(desk.hub, permit)["IR_BEN_R"]
    groups = []
    for row in t.select([c for c in ("BEN_NAI_ANN", "BEN_NAI_MOI", "BEN_SEX_COD", "BEN_RES_DPT", "BEN_RES_COM") if c in t.column_names]).to_pylist():
        g = int(hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest(), 16) % 6
        groups.append(f"c{g // 3}" if coarse else f"g{g}")
    return t.append_column("band", pa.array(groups))


def _table(desk: Desk, permit: str, name: str, by: str, coarse: bool = False, where: str | None = None,
           margins: bool = True) -> None:
    out = desk.hub.config.home / "workspaces" / permit / "outputs"
    out.mkdir(parents=True, exist_ok=True)
    crosstab(_beneficiaries(desk, permit, coarse), by, out=out / name, where=where, margins=margins)


def _submit(desk: Desk, permit: str, name: str) -> dict[str, Any]:
    r = rs.submit(desk.hub, actor_for(desk.hub, "alice"), permit=permit, files=[name], group="bands", **CTX)
    return r


def _release(desk: Desk, permit: str, name: str) -> None:
    r = _submit(desk, permit, name)
    for checker in ("olga", "pierre"):
        rs.review(desk.hub, actor_for(desk.hub, checker), request=r["request"], decision="approve", reason=WHY)
    rs.release(desk.hub, actor_for(desk.hub, desk.hub.config.operator), request=r["request"])


def _seen(desk: Desk, request: str) -> list[dict[str, Any]]:
    """The flags as a checker sees them."""
    return list(rs.show(desk.hub, actor_for(desk.hub, "olga"), request=request)["files"][0]["ledger"])


def _person_in_mixed_band(desk: Desk, permit: str) -> str:
    """A person of the largest of the six groups: without them, their group of three is one person away from
    the union of three released groups and farther from any single one."""
    rows = _beneficiaries(desk, permit).select(["PERSON_ID", "band"]).to_pylist()
    sizes = Counter(r["band"] for r in rows)
    largest = max(sorted(sizes), key=lambda b: sizes[b])
    assert sizes[largest] >= 3
    return str(next(r["PERSON_ID"] for r in rows if r["band"] == largest))


def test_classic_attacks(desk: Desk) -> None:
    operator = actor_for(desk.hub, desk.hub.config.operator).with_strong_auth()
    first, second = desk.permit(CONTENT_2023, "one"), desk.permit(CONTENT_2023, "two")
    for p in (first, second):
        ws.build_extract(desk.hub, operator, permit_id=p)

    # a released total (the margin of a table by sex); then a table by group, without its total, of the
    # population without one person: no cell is close to a released one, but the cells together are
    _table(desk, first, "sex.csv", "BEN_SEX_COD")
    _release(desk, first, "sex.csv")
    one = _person_in_mixed_band(desk, first)
    _table(desk, first, "groups_but_one.csv", "band", where=f"PERSON_ID <> '{one}'", margins=False)
    r = _submit(desk, first, "groups_but_one.csv")
    seen = _seen(desk, r["request"])
    assert any(x["apart"] == 1 and x["label"].startswith("union of this output's cells") for x in seen), seen

    # the table by group released; the same table without one group, with its total: its total is a union
    # of released groups, every other cell a released cell — nothing new, nothing flagged
    _table(desk, first, "groups.csv", "band", margins=False)
    _release(desk, first, "groups.csv")
    groups = sorted(set(_beneficiaries(desk, first).column("band").to_pylist()))
    _table(desk, first, "all_but_one_group.csv", "band", where=f"band <> '{groups[0]}'")
    r = _submit(desk, first, "all_but_one_group.csv")
    assert r["files"][0]["ledger"] == []

    # within the project: the coarse groups (the same dimension) without one person; the coarse group holding
    # them is one person apart from the union of three released groups
    _table(desk, first, "bands_but_one.csv", "band", coarse=True, where=f"PERSON_ID <> '{one}'")
    r = _submit(desk, first, "bands_but_one.csv")
    f = r["files"][0]
    assert f["status"] == "fail" and "differencing" in f["check"]["reasons"]
    unions = [x for x in _seen(desk, r["request"]) if x["against"].startswith("union of")]
    assert unions and all(x["apart"] == 1 and x["same_project"] for x in unions)

    # across projects: the other permit's surrogates differ, the hub persons are the same; neither the author
    # nor the checker learns the other project's labels
    other = _person_in_mixed_band(desk, second)
    _table(desk, second, "bands_but_one.csv", "band", coarse=True, where=f"PERSON_ID <> '{other}'")
    r = _submit(desk, second, "bands_but_one.csv")
    assert r["files"][0]["ledger"] and all(x["against"] == "a released cell" for x in r["files"][0]["ledger"])
    seen = _seen(desk, r["request"])
    assert any(x["apart"] == 1 and not x["same_project"] and "another project" in x["against"] for x in seen)
    assert all(d not in str(seen) for d in ("groups.csv", first)) and all(
        x["against"] in ("a cell released to another project",) or "released to another project" in x["against"]
        for x in seen)
