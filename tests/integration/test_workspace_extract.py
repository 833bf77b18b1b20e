"""A permit's extract on the handcrafted lake (21 people, counted by hand in ``tests/criteria_support.py``):
only the permitted tables, variables, population and period; coarsened fields; per-project keys; the risk
report; encrypted files under the project's key; idempotent rebuilds; through the command line too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest

from guichet.custodian import is_encrypted_parquet, read_encrypted_parquet
from guichet.errors import BadInput, Refused
from guichet.workspace import build as wsbuild
from guichet.workspace import services
from tests.workspace_support import CONTENT_2023, Desk, make_desk


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    d = make_desk(tmp_path_factory.mktemp("workspace"))
    yield d
    d.hub.close()


def _operator(desk: Desk) -> Any:
    from guichet.accounts.auth import actor_for

    return actor_for(desk.hub, desk.hub.config.operator).with_strong_auth()


def test_extract_holds_only_what_the_permit_grants(desk: Desk) -> None:
    pid = desk.permit(CONTENT_2023, "scope")
    r = desk.ok("workspace", "build", pid)
    assert r["permit"] == pid and r["tables"] == {"ER_PHA_F": 17, "ER_PRS_F": 18, "IR_BEN_R": 20}
    # 19 persons: everyone with a claim or a stay in 2023 (gus has two beneficiary rows: 20 rows)
    assert r["persons"] == 19 and r["excluded_opted_out"] == 0
    assert r["coarsened"] == {"ER_PRS_F.EXE_SOI_DTD": "year-month", "IR_BEN_R.BEN_NAI_MOI": "removed (birth year only)",
                              "IR_BEN_R.BEN_RES_COM": "removed (département only)"}
    # the 14 b.. persons (born 1970, 075) are two classes of 7 (by sex), the 5 others alone: all below k=11;
    # on their first three (month, département) claims, ana, cyd, eve and gus are unique (dan has no claim)
    assert r["risk"] == {"k": 11, "records_below_k": 19, "smallest_class": 1, "unique_on_3_events": round(4 / 19, 4),
                         "quasi_identifiers": ["BEN_NAI_ANN", "BEN_RES_DPT", "BEN_SEX_COD"]}
    assert r["status"] == "held" and len(r["held_reasons"]) == 2
    dictionary = json.loads((desk.home / r["dictionary"]).read_text())
    prs = dictionary["tables"]["ER_PRS_F"]
    assert dictionary["snapshot"] == r["snapshot"] and (prs["rows"], prs["persons"]) == (20, 20)  # 18 and 18, rounded
    rules_of = {v["name"]: v["rule"] for v in prs["variables"]}
    assert rules_of["EXE_SOI_DTD"] == "year-month" and rules_of["CLAIM_ID"] == "per-project surrogate (claim)"
    assert [v["name"] for v in prs["variables"]] == ["PERSON_ID", "CLAIM_ID", "BEN_NAI_ANN", "BEN_RES_DPT",
                                                     "BEN_SEX_COD", "EXE_SOI_DTD", "DAYS_SINCE_INDEX"]
    assert {v["name"]: v["description"].get("fr") for v in prs["variables"]}["BEN_SEX_COD"]  # from the catalogue
    assert dictionary["tables"]["IR_BEN_R"]["removed"] == ["BEN_NAI_MOI", "BEN_RES_COM"]
    recipe = desk.home / r["recipe"]
    assert recipe.exists() and "ws_out_ER_PRS_F" in recipe.read_text()
    tables = wsbuild.read_extract(desk.hub, pid)
    assert tables["ER_PRS_F"].column_names == ["PERSON_ID", "CLAIM_ID", "BEN_NAI_ANN", "BEN_RES_DPT", "BEN_SEX_COD",
                                               "EXE_SOI_DTD", "DAYS_SINCE_INDEX"]
    assert tables["ER_PHA_F"].column_names == ["PERSON_ID", "CLAIM_ID", "PHA_ACT_QSN", "PHA_PRS_C13"]
    assert tables["IR_BEN_R"].column_names == ["PERSON_ID", "BEN_NAI_ANN", "BEN_RES_DPT", "BEN_SEX_COD"]
    months = set(tables["ER_PRS_F"].column("EXE_SOI_DTD").to_pylist())
    assert months == {"2023-02", "2023-03", "2023-04", "2023-05", "2023-08"}
    # a dispensing's claim and person are the claim's own, within the project
    prs = {c: p for p, c in zip(tables["ER_PRS_F"].column("PERSON_ID").to_pylist(),
                                tables["ER_PRS_F"].column("CLAIM_ID").to_pylist(), strict=True)}
    pha = tables["ER_PHA_F"]
    for p, c in zip(pha.column("PERSON_ID").to_pylist(), pha.column("CLAIM_ID").to_pylist(), strict=True):
        assert prs[c] == p
    # gus's claim under his parent's rights is his: every PERSON_ID of the claims is one of the referential's
    assert set(prs.values()) <= set(tables["IR_BEN_R"].column("PERSON_ID").to_pylist())


def test_files_are_encrypted_under_the_project_key(desk: Desk) -> None:
    pid = desk.permit(CONTENT_2023, "enc")
    desk.ok("workspace", "build", pid)
    folder = wsbuild.extract_dir(desk.hub, pid)
    manifest = json.loads((folder / "manifest.json").read_text())
    for meta in manifest["files"].values():
        path = folder / meta["path"]
        assert is_encrypted_parquet(path)
        with pytest.raises((OSError, ValueError)):
            pq.read_table(path)
        with pytest.raises(BadInput, match="cannot be decrypted"):
            read_encrypted_parquet(path, b"\0" * 32)
    from sqlalchemy import select

    from guichet.custodian.tables import WrappedDataKey

    with desk.hub.store.read() as s:
        rows = s.execute(select(WrappedDataKey.purpose, WrappedDataKey.wrapped).where(
            WrappedDataKey.key_id.in_([m["key_id"] for m in manifest["files"].values()]))).all()
    assert len(rows) == 3 and {p for p, _ in rows} == {"project"}
    assert all(f"project:{pid.lower()}" in w for _, w in rows)  # wrapped under the project's key


def test_rebuild_is_idempotent_and_follows_the_inputs(desk: Desk) -> None:
    pid = desk.permit(CONTENT_2023, "idem")
    first = services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    folder = wsbuild.extract_dir(desk.hub, pid)
    stamp = (folder / "manifest.json").stat().st_mtime_ns
    again = services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    assert again == first and (folder / "manifest.json").stat().st_mtime_ns == stamp
    props = desk.hub.config.properties
    saved = dict(props)
    try:
        props.update(workspace_k=2, workspace_max_below_k=1.0, workspace_max_unique=1.0)
        relaxed = services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    finally:
        props.clear()
        props.update(saved)
    assert relaxed["status"] == "ready" and relaxed["risk"]["k"] == 2 and relaxed["snapshot"] != first["snapshot"]
    assert relaxed["tables"] == first["tables"]


def test_refusals(desk: Desk) -> None:
    r = desk.run("workspace", "build", "P-1999-0001")
    assert r.code == 2 and "no permit" in r.stderr
    pid = desk.permit(CONTENT_2023, "who")
    r = desk.run("workspace", "build", pid, who="alice")
    assert r.code == 2 and "workspace.build" in r.stderr
    with pytest.raises(Refused, match="anonymised"):
        wsbuild.build(desk.hub, pid, {"pseudonymisation": "anonymised"}, by="operator")
    desk.ok("permit", "revoke", pid, "--reason", "breach of the conditions", who="arthur")
    r = desk.run("workspace", "build", pid)
    assert r.code == 2 and "revoked" in r.stderr
    assert not wsbuild.extract_dir(desk.hub, pid).exists()


def test_a_held_extract_is_released_with_a_reason(desk: Desk) -> None:
    pid = desk.permit(CONTENT_2023, "release")
    held = desk.ok("workspace", "build", pid)
    assert held["status"] == "held"
    r = desk.run("workspace", "release", pid, "--reason", "aggregated outputs only", who="op.same")
    assert r.code == 2 and "organisation" in r.stderr  # an operator of the holder's organisation
    released = desk.ok("workspace", "release", pid, "--reason", "aggregated outputs only")
    assert released["status"] == "ready" and released["released"]["reason"] == "aggregated outputs only"
    assert {k: v for k, v in released.items() if k not in ("status", "released")} == {
        k: v for k, v in held.items() if k != "status"}
    assert desk.ok("workspace", "build", pid) == released  # unchanged inputs: the same answer
    r = desk.run("workspace", "release", pid, "--reason", "again")
    assert r.code == 2 and "not held" in r.stderr


def test_held_when_the_person_index_is_older_than_the_versions_read(desk: Desk) -> None:
    from sqlalchemy import select

    from guichet.linkage.tables import LinkageRun

    pid = desk.permit(CONTENT_2023, "stale")
    with desk.hub.store.write() as s:  # as if ER_PHA_F had been published again after the last linkage run
        run = s.execute(select(LinkageRun).where(LinkageRun.status == "committed")).scalars().one()
        saved = dict(run.summary)
        run.summary = {**saved, "versions": {**saved.get("versions", {}), "ER_PHA_F": 0}}
    try:
        r = services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    finally:
        with desk.hub.store.write() as s:
            s.execute(select(LinkageRun)).scalars().one().summary = saved
    assert r["status"] == "held"
    assert "the person index is older than the published versions of ER_PHA_F" in r["held_reasons"]
