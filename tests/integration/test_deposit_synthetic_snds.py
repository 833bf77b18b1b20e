"""Every CSV of synthetic-snds (tests/data/snds, made by the SNDS's own tooling) deposits with the Table
Schema beside it, every row accounted for; the quality gate holds what it must, and an operator's
override publishes a held version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from guichet.accounts.auth import actor_for
from guichet.actor import system_actor
from guichet.deposit import services as deposits
from guichet.deposit.run import single_file_request
from guichet.hub import Hub
from guichet.lake.tables import DatasetVersion
from guichet.lake.versions import published_versions, versions
from tests.conftest import SYNTHETIC_SNDS, test_producer

FOLDER = SYNTHETIC_SNDS
SAMPLES = sorted(p for p in FOLDER.rglob("*.csv") if p.with_suffix(".json").is_file())


def _data_rows(path: Path) -> int:
    import csv

    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    return sum(1 for _ in csv.reader(text.splitlines(keepends=True)[1:]))


def test_every_sample_deposits_with_its_own_schema(hub: Hub) -> None:
    assert len(SAMPLES) >= 21
    actor = system_actor()
    statuses = {}
    for csv_path in SAMPLES:
        name = csv_path.stem
        [r] = deposits.deposit(hub, actor, request=single_file_request(csv_path, name, csv_path.with_suffix(".json"),
                                                                         test_producer(hub), "replace", []))
        assert r.rows_in == _data_rows(csv_path), name  # every data row read...
        assert r.rows_in == r.rows_accepted + r.rows_quarantined, name  # ...and accounted for
        assert r.status in ("published", "held"), (name, r.status)
        statuses[name] = r.status
        visible = [v.version for v in published_versions(hub, name)]
        assert (r.version in visible) == (r.status == "published"), name
    # the samples are semantically random: quality must hold some of them (birth years in the future...)
    assert "held" in statuses.values(), statuses


def test_a_held_version_is_published_only_by_an_operator_override(hub: Hub) -> None:
    from guichet.quality.services import override

    actor = system_actor()
    held = None
    for csv_path in SAMPLES:
        [r] = deposits.deposit(hub, actor, request=single_file_request(csv_path, csv_path.stem,
                                                                         csv_path.with_suffix(".json"),
                                                                         test_producer(hub), "replace", []))
        if r.status == "held":
            held = r
            break
    assert held is not None and held.version is not None
    assert published_versions(hub, held.dataset) == []
    assert [v.status for v in versions(hub, held.dataset, include_all=True)] == ["held"]
    operator = actor_for(hub, hub.config.operator, os_user="test").with_strong_auth()
    override(hub, operator, dataset=held.dataset, version=held.version, reason="checked by hand: sample data")
    assert [v.version for v in published_versions(hub, held.dataset)] == [held.version]
    with hub.store.read() as s:
        row = s.execute(select(DatasetVersion).where(DatasetVersion.deposit_id == held.deposit_id)).scalar_one()
        assert row.lineage["status_history"][-1]["to"] == "published"


@pytest.mark.parametrize("action", ["held", "rejected"])
def test_quarantine_rate_policy(hub: Hub, tmp_path: Path, action: str) -> None:
    hub.config = hub.config.with_properties(max_quarantine_rate={"T": 0.2}, quarantine_rate_action=action,
                                            quality_gate=False)
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"name": "T", "fields": [{"name": "ID", "type": "integer"}]}))
    f = tmp_path / "t.csv"
    f.write_text("ID\n1\n2\nx\ny\n")  # half the rows quarantined
    [r] = deposits.deposit(hub, system_actor(), request=single_file_request(f, "T", schema, test_producer(hub), "replace", []))
    assert (r.status, r.rows_quarantined) == (action, 2)
    assert published_versions(hub, "T") == []
    lake = hub.config.folder("lake") / "T" / f"v{r.version:05d}"
    assert lake.is_dir() == (action == "held")  # a rejected version keeps only its quarantine
    assert (hub.config.folder("quarantine") / "T" / f"v{r.version:05d}").is_dir()
    ok = tmp_path / "ok.csv"
    ok.write_text("ID\n1\n2\n3\n4\n5\nz\n")  # 1/6 < 0.2: published
    [r2] = deposits.deposit(hub, system_actor(), request=single_file_request(ok, "T", schema, test_producer(hub), "replace", []))
    assert r2.status == "published" and [v.version for v in published_versions(hub, "T")] == [r2.version]
