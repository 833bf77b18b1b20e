"""What a permit's extract must never hold or allow: keys shared with another project's extract of the same
population, lineage columns, hub-level identifiers (the person index's hub pseudonyms and person ids), a
person who objected (through the person index: a claim under a parent's rights too); and once the project's
keys are shredded, the extract is unreadable. The tests run in this order on one hub (opt-outs are global)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import update

from guichet.accounts.auth import actor_for
from guichet.custodian import custodian_for
from guichet.custodian import services as custodian_services
from guichet.custodian.tables import OptOut
from guichet.errors import Conflict
from guichet.linkage.index import read_file, require_latest
from guichet.workspace import build as wsbuild
from guichet.workspace import rules, services
from tests.criteria_support import people
from tests.workspace_support import CONTENT_2023, Desk, make_desk

KEY_COLUMNS = {rules.PERSON_OUT, *(k.out for k in rules.RECORD_KEYS.values()), *rules.COLUMN_KEYS}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    d = make_desk(tmp_path_factory.mktemp("workspace-leaks"))
    yield d
    d.hub.close()


def _operator(desk: Desk) -> Any:
    return actor_for(desk.hub, desk.hub.config.operator).with_strong_auth()


def _build(desk: Desk, pid: str) -> tuple[dict[str, Any], dict[str, pa.Table]]:
    result = services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    return result, wsbuild.read_extract(desk.hub, pid)


def _values(tables: dict[str, pa.Table], column: str) -> set[str]:
    out: set[str] = set()
    for t in tables.values():
        if column in t.column_names:
            out.update(str(v) for v in t.column(column).to_pylist() if v is not None)
    return out


@pytest.fixture(scope="module")
def two(desk: Desk) -> dict[str, dict[str, pa.Table]]:
    """Two projects' extracts of the same population, permits and data."""
    return {pid: _build(desk, pid)[1] for pid in (desk.permit(CONTENT_2023, "a"), desk.permit(CONTENT_2023, "b"))}


def test_two_projects_share_no_key(two: dict[str, dict[str, pa.Table]]) -> None:
    a, b = two.values()
    assert set(a) == set(b) == {"ER_PRS_F", "ER_PHA_F", "IR_BEN_R"}
    joined = 0
    for column in KEY_COLUMNS:
        va, vb = _values(a, column), _values(b, column)
        assert len(va) == len(vb)
        joined += len(va & vb)
        # within one project the key joins its tables (so the cross-project test could find matches)
        if column in (rules.PERSON_OUT, "CLAIM_ID"):
            assert len(set(a["ER_PRS_F"].column(column).to_pylist()) & set(a["ER_PHA_F"].column(column).to_pylist())) >= 14
    assert joined == 0
    assert len(_values(a, rules.PERSON_OUT)) == 19 and len(_values(a, "CLAIM_ID")) == 18


def test_no_lineage_column_nor_hub_identifier(desk: Desk, two: dict[str, dict[str, pa.Table]]) -> None:
    run = require_latest(desk.hub)
    index = read_file(desk.hub, run, "index", columns=["key", "person_id"])
    hub_level = {str(v) for v in index.column("key").to_pylist() if v} | {
        str(v) for v in index.column("person_id").to_pylist() if v is not None}
    assert len(hub_level) > 40  # the index holds the lake's hub pseudonyms and its person ids
    for tables in two.values():
        for name, t in tables.items():
            assert not [c for c in t.column_names if c.startswith("_")], name
            assert not set(t.column_names) & rules.PERSON_COLUMNS, name
            assert not set(t.column_names) & set(rules.NINE_KEYS), name
            for column in t.column_names:
                cells = {str(v) for v in t.column(column).to_pylist() if v is not None}
                assert not cells & hub_level, (name, column)


def _optout(desk: Desk, name: str) -> None:
    person = next(p for p in people() if p.name == name)
    custodian_services.add_optout(desk.hub, _operator(desk), nir=person.own, birth_date=person.born, min_seconds=0)


def _project_ids(desk: Desk, pid: str, names: list[str]) -> set[str]:
    """The project pseudonyms of persons, found as the build finds them: their hub pseudonyms through the index."""
    from guichet.custodian.optout import active_pseudonyms

    with desk.hub.store.read() as s:
        pseudonyms = active_pseudonyms(s)
    index = read_file(desk.hub, require_latest(desk.hub), "index", columns=["key", "person_id"])
    persons = sorted({str(p) for k, p in zip(index.column("key").to_pylist(), index.column("person_id").to_pylist(),
                                              strict=True) if k in pseudonyms and p is not None})
    assert len(persons) == len(names)
    project = rules.project_of(pid)
    out = custodian_for(desk.hub.config).pseudonymise(pa.array(persons), "project", purpose=f"extract:{project}",
                                                      project=project)
    return {str(v) for v in out.to_pylist()}


def test_opted_out_persons_never_appear(desk: Desk, two: dict[str, dict[str, pa.Table]]) -> None:
    pid = desk.permit(CONTENT_2023, "optout")
    before, _ = _build(desk, pid)
    # gus objects with his own NIR: his claim under his parent's rights goes too (the person index)
    _optout(desk, "b01")
    _optout(desk, "gus")
    result, tables = _build(desk, pid)
    assert result["excluded_opted_out"] == 2 and result["persons"] == before["persons"] - 2 == 17
    assert result["tables"] == {"ER_PHA_F": 15, "ER_PRS_F": 16, "IR_BEN_R": 17}
    gone = _project_ids(desk, pid, ["b01", "gus"])
    assert gone and not gone & _values(tables, rules.PERSON_OUT)
    assert len(_values(tables, rules.PERSON_OUT)) == 17
    # a permit built before the objections keeps them out on rebuild (the default policy) ...
    first = next(iter(two))
    rebuilt, again = _build(desk, first)
    assert rebuilt["excluded_opted_out"] == 2 and not _project_ids(desk, first, ["b01", "gus"]) & _values(
        again, rules.PERSON_OUT)


def test_later_objections_follow_the_hub_policy(desk: Desk) -> None:
    pid = desk.permit(CONTENT_2023, "policy")
    with desk.hub.store.write() as s:  # the objections recorded after this permit's authorisation
        s.execute(update(OptOut).values(recorded_on=wsbuild.date.today() + timedelta(days=1)))
    props = desk.hub.config.properties
    props["workspace_later_optouts_apply"] = False
    try:
        kept, _ = _build(desk, pid)
    finally:
        del props["workspace_later_optouts_apply"]
    assert kept["excluded_opted_out"] == 0 and kept["persons"] == 19
    applied, _ = _build(desk, pid)
    assert applied["excluded_opted_out"] == 2 and applied["persons"] == 17


def test_shredding_the_project_keys_makes_the_extract_unreadable(desk: Desk, two: dict[str, Any]) -> None:
    pid = next(iter(two))
    assert wsbuild.read_extract(desk.hub, pid)
    custodian_services.shred_project(desk.hub, _operator(desk), project=rules.project_of(pid))
    with pytest.raises(Conflict, match="keys were shredded"):
        wsbuild.read_extract(desk.hub, pid)
