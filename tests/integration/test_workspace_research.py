"""What a workspace offers researchers beside the extract: a dummy extract with the permit's schema and synthetic
values; a new extract version when new versions are published (the old one kept while needed, pruned after);
re-running a recorded recipe against its snapshot; datasets the applicants bring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, update

from guichet.accounts.auth import actor_for
from guichet.errors import Refused
from guichet.lake.tables import DatasetVersion
from guichet.permits.tables import Attestation
from guichet.workspace import build as wsbuild
from guichet.workspace import services
from tests.criteria_support import people
from tests.workspace_support import CONTENT_2023, TODAY, Desk, make_desk


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    d = make_desk(tmp_path_factory.mktemp("workspace-research"))
    yield d
    d.hub.close()


def _operator(desk: Desk) -> Any:
    return actor_for(desk.hub, desk.hub.config.operator).with_strong_auth()


def test_a_dummy_extract_has_the_permit_schema_and_no_real_row(desk: Desk) -> None:
    pid = desk.permit(CONTENT_2023, "dummy")
    r = desk.run("workspace", "dummy", pid, who="bob")
    assert r.code == 2 and "not named" in r.stderr
    dummy = desk.ok("workspace", "dummy", pid, who="alice")  # before any extract is built
    assert dummy["synthetic"] is True and dummy["dummy"] == f"workspaces/{pid}/dummy"
    assert not wsbuild.extract_dir(desk.hub, pid).exists()
    services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    real = wsbuild.read_extract(desk.hub, pid)
    folder = desk.home / dummy["dummy"]
    for name, t in real.items():
        fake = pq.read_table(folder / f"{name}.parquet")  # unencrypted: no real row
        assert fake.column_names == t.column_names, name
        assert fake.num_rows > 0 and dummy["tables"][name]["rows"] == fake.num_rows
        assert not set(fake.column("PERSON_ID").to_pylist()) & set(t.column("PERSON_ID").to_pylist())
        assert all(str(v).startswith("dummy-person-") for v in fake.column("PERSON_ID").to_pylist())
    months = {m for m in pq.read_table(folder / "ER_PRS_F.parquet").column("EXE_SOI_DTD").to_pylist() if m}
    assert months and all(len(m) == 7 for m in months)  # coarsened as the real extract's
    # before the access opens (no valid attestation: the permit is suspended) the dummy is there, the data not
    with desk.hub.store.write() as s:
        saved = {a.id: a.valid_until for a in s.execute(select(Attestation)).scalars()}
        s.execute(update(Attestation).values(valid_until=TODAY - timedelta(days=1)))
    try:
        assert desk.ok("workspace", "dummy", pid, who="alice")["tables"] == dummy["tables"]
        with pytest.raises(Refused, match="suspended"):
            wsbuild.read_extract(desk.hub, pid, "alice")
    finally:
        with desk.hub.store.write() as s:
            for a in s.execute(select(Attestation)).scalars():
                a.valid_until = saved[a.id]


def _republish(desk: Desk, table: str) -> int:
    """As if a new version of ``table`` had been published (the same files, the next number)."""
    with desk.hub.store.write() as s:
        row = s.execute(select(DatasetVersion).where(DatasetVersion.dataset == table,
                                                     DatasetVersion.status == "published")
                        .order_by(DatasetVersion.version.desc())).scalars().first()
        assert row is not None
        copy = DatasetVersion(**{c.name: getattr(row, c.name) for c in DatasetVersion.__table__.columns if c.name != "id"})
        copy.version = row.version + 1
        s.add(copy)
        return int(copy.version)


def test_refresh_makes_a_new_version_and_keeps_the_old_while_needed(desk: Desk) -> None:
    pid = desk.permit(CONTENT_2023, "refresh")
    first = services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    assert first["version"] == 1
    # a rebuild for another reason (settings) replaces the latest version in place
    desk.hub.config.properties["workspace_k"] = 5
    try:
        again = services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    finally:
        del desk.hub.config.properties["workspace_k"]
    assert again["version"] == 1
    v1 = services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    assert v1["version"] == 1
    _republish(desk, "ER_PHA_F")
    v2 = services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    assert v2["version"] == 2 and v2["tables"] == v1["tables"]
    root = wsbuild.workspace_dir(desk.hub, pid) / "extract"
    assert sorted(p.name for p in root.iterdir()) == ["v1", "v2"]
    assert wsbuild.read_extract(desk.hub, pid, version=1)["ER_PRS_F"].num_rows == 18
    assert (root / "v1" / "recipe.sql").exists() and (root / "v2" / "recipe.sql").exists()
    _republish(desk, "ER_PHA_F")
    v3 = services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    assert v3["version"] == 3
    wsbuild.record_output(desk.hub, pid, "output:1", version=1)  # an output released from v1
    r = desk.run("workspace", "prune", pid, who="alice")
    assert r.code == 2 and "workspace.prune" in r.stderr
    pruned = desk.ok("workspace", "prune", pid)
    assert pruned == {"permit": pid, "removed": [2], "kept": [1, 3], "latest": 3}
    assert sorted(p.name for p in root.iterdir()) == ["v1", "v3"]
    catalogue = wsbuild.load_versions(desk.hub, pid)
    assert catalogue["versions"]["2"]["pruned_on"] and catalogue["versions"]["1"]["outputs"] == ["output:1"]
    assert desk.ok("workspace", "prune", pid)["removed"] == []


def test_rerun_reproduces_the_recorded_extract_or_says_why_not(desk: Desk) -> None:
    from guichet.custodian import services as custodian_services

    pid = desk.permit(CONTENT_2023, "rerun")
    built = services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    r = desk.ok("workspace", "rerun", pid, "--version", "1")
    assert r["reproduced"] is True and r["version"] == 1 and r["snapshot"] == built["snapshot"]
    assert {t: m["rows"] for t, m in r["tables"].items()} == built["tables"]
    assert all(m["same"] and m["hash"] == m["rerun_hash"] for m in r["tables"].values())
    alice = desk.ok("workspace", "rerun", pid, who="alice")  # a named researcher whose access is open
    assert alice["reproduced"] is True
    r = desk.run("workspace", "rerun", pid, who="bob")
    assert r.code == 2 and "no open access" in r.stderr
    # a person objects after the build: the recipe no longer gives the same extract, and says why
    person = next(p for p in people() if p.name == "b03")
    custodian_services.add_optout(desk.hub, _operator(desk), nir=person.own, birth_date=person.born, min_seconds=0)
    changed = desk.ok("workspace", "rerun", pid)
    assert changed["reproduced"] is False
    assert changed["tables"]["ER_PRS_F"]["rerun_rows"] == 17 and not changed["tables"]["ER_PRS_F"]["same"]
    assert "the opt-out register changed since the build" in changed["differences"]


def test_a_brought_dataset_is_validated_encrypted_and_listed(desk: Desk, tmp_path: Path) -> None:
    pid = desk.permit(CONTENT_2023, "bring")
    services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    good = tmp_path / "strata.csv"
    good.write_text("stratum,weight\n" + "".join(f"s{i},{i / 10}\n" for i in range(20)), encoding="utf-8")
    r = desk.run("workspace", "bring", pid, str(good), "--name", "strata", who="bob")
    assert r.code == 2 and "not named" in r.stderr
    brought = desk.ok("workspace", "bring", pid, str(good), "--name", "strata", who="alice")
    assert brought["rows"] == 20 and brought["columns"] == ["stratum", "weight"]
    stored = desk.home / brought["path"]
    with pytest.raises((OSError, ValueError)):
        pq.read_table(stored)  # encrypted under the project's key
    assert wsbuild.read_brought(desk.hub, pid, "strata").num_rows == 20
    manifest = wsbuild.load_manifest(desk.hub, pid)
    assert manifest is not None and manifest["brought"]["strata"]["by"] == "alice"
    dictionary = json.loads((wsbuild.workspace_dir(desk.hub, pid) / "dictionary.json").read_text())
    assert dictionary["brought"]["strata"]["columns"] == ["stratum", "weight"]
    # identifier-shaped columns, a bad name, a too large file: refused
    nirs = tmp_path / "nirs.parquet"
    pq.write_table(pa.table({"who": [p.own for p in people()][:10], "x": list(range(10))}), nirs)
    r = desk.run("workspace", "bring", pid, str(nirs), "--name", "nirs", who="alice")
    assert r.code == 2 and "who (NIRs)" in r.stderr and people()[0].own not in r.stderr
    named = tmp_path / "named.csv"
    named.write_text("BEN_NIR_PSA,x\na,1\n", encoding="utf-8")
    r = desk.run("workspace", "bring", pid, str(named), "--name", "named", who="alice")
    assert r.code == 2 and "BEN_NIR_PSA (an identifier's name)" in r.stderr
    r = desk.run("workspace", "bring", pid, str(good), "--name", "Bad-Name", who="alice")
    assert r.code == 2 and "--name" in r.stderr
    desk.hub.config.properties["workspace_bring_max_bytes"] = 10
    try:
        with pytest.raises(Exception, match="above the limit"):
            services.bring_dataset(desk.hub, actor_for(desk.hub, "alice").with_strong_auth(), permit_id=pid,
                                   path=str(good), name="other")
    finally:
        del desk.hub.config.properties["workspace_bring_max_bytes"]
    # a rebuild keeps the brought dataset listed
    desk.hub.config.properties["workspace_k"] = 5
    try:
        services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    finally:
        del desk.hub.config.properties["workspace_k"]
    rebuilt = wsbuild.load_manifest(desk.hub, pid)
    assert rebuilt is not None and list(rebuilt["brought"]) == ["strata"]
