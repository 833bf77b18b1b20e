"""The lake's register on SQLite and PostgreSQL: a version followed from the deposit through the lake's API,
snapshots, the gates the deposit asks, and the rotation of hub pseudonyms in the lake's files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pytest
from sqlglot import exp

from guichet.actor import Actor, system_actor
from guichet.custodian import custodian_for
from guichet.custodian import services as custodian_services
from guichet.custodian.pseudonyms import encode
from guichet.deposit import services as deposits
from guichet.deposit.rules import IdentifierRole
from guichet.deposit.run import single_file_request
from guichet.engine import Engine
from guichet.errors import NotFound, Refused
from guichet.hub import Hub
from guichet.lake import current_version, open_version, published_versions, version
from guichet.lake import services as lake
from guichet.lake.gates import GateVerdict, register_gate
from guichet.lake.read import read_quarantine
from guichet.store.models import AuditEvent

OPS = Actor("ops", frozenset({"operator"}), strong_auth=True)


def _level1(i: int) -> str:
    return encode(hashlib.sha256(f"person {i}".encode()).digest()[:15])


def _deposit(hub: Hub, tmp: Path, rows: list[str], name: str = "T") -> int:
    schema = {"name": name, "primaryKey": ["ID"], "fields": [
        {"name": "ID", "type": "integer"}, {"name": "PSA", "type": "string"}, {"name": "V", "type": "integer"}]}
    (tmp / "s.json").write_text(json.dumps(schema))
    f = tmp / f"{name}.csv"
    f.write_text("ID;PSA;V\n" + "\n".join(rows) + "\n")
    roles = [IdentifierRole("PSA", "psa", "level1")]
    [r] = deposits.deposit(hub, system_actor(), request=single_file_request(f, name, tmp / "s.json", "cnam",
                                                                             "replace", roles))
    assert r.version is not None
    return r.version


@pytest.fixture
def lake_hub(store_hub: Hub) -> Hub:
    deposits.add_producer(store_hub, system_actor(), name="cnam", org="Assurance Maladie")
    return store_hub


def test_a_version_from_the_deposit_through_the_lake(lake_hub: Hub, tmp_path: Path) -> None:
    v = _deposit(lake_hub, tmp_path, [f"{i};{_level1(i)};{i * 10}" for i in range(1, 6)] + ["6;{bad};1"])
    info = current_version(lake_hub, "T")
    assert info is not None and info.version == v and info.status == "published"
    assert (info.rows_in, info.rows_accepted, info.rows_quarantined) == (6, 5, 1)
    assert info.label.get("grade") and info.label["checks"]["fail"] == 0  # the quality gate labelled it
    with Engine() as engine:
        rel = open_version(lake_hub, engine, "T")
        got = engine.fetch_all(exp.select("ID", "V", "_source_row").from_(rel.view).order_by("ID"), purpose="t")
    assert got == [(i, i * 10, i) for i in range(1, 6)]
    quarantined = read_quarantine(lake_hub, version(lake_hub, "T", v))
    assert quarantined is not None and quarantined.column("_source_row").to_pylist() == [6]
    with pytest.raises(NotFound):
        version(lake_hub, "T", 99)


def test_snapshots_name_the_published_versions(lake_hub: Hub, tmp_path: Path) -> None:
    with pytest.raises(Refused):
        lake.take_snapshot(lake_hub, OPS)  # nothing published yet
    v1 = _deposit(lake_hub, tmp_path, [f"1;{_level1(1)};1"])
    snap = lake.take_snapshot(lake_hub, OPS)
    assert snap["versions"] == {"T": v1} and snap["person_index"] is None and snap["snapshot"].startswith("sn")
    v2 = _deposit(lake_hub, tmp_path, [f"1;{_level1(1)};2"])
    assert v2 == v1 + 1
    again = lake.show_snapshot(lake_hub, OPS, snapshot=snap["snapshot"])
    assert again["versions"] == {"T": v1}  # a snapshot does not follow later versions
    assert lake.take_snapshot(lake_hub, OPS)["versions"] == {"T": v2}
    with pytest.raises(Refused):
        lake.take_snapshot(lake_hub, Actor("rita", frozenset({"researcher"})))
    with lake_hub.store.read() as s:
        assert s.query(AuditEvent).filter(AuditEvent.action == "lake.snapshot", AuditEvent.outcome == "ok").count() == 2
    with pytest.raises(NotFound):
        lake.show_snapshot(lake_hub, OPS, snapshot="sn0000")


def test_a_registered_gate_holds_a_version(lake_hub: Hub, tmp_path: Path) -> None:
    calls = []

    def refuse(hub: Hub, actor: Actor, dataset: str, v: int) -> GateVerdict:
        calls.append((dataset, v))
        return GateVerdict("test", dataset != "HELD", "test gate: this dataset is held")

    register_gate("test", refuse)
    try:
        v = _deposit(lake_hub, tmp_path, [f"1;{_level1(1)};1"], name="HELD")
        assert calls == [("HELD", v)]
        assert published_versions(lake_hub, "HELD") == []
        held = version(lake_hub, "HELD", v)
        assert held.status == "held" and any("test gate" in h["why"] for h in held.status_history)
    finally:
        from guichet.lake import gates

        gates._GATES.pop("test", None)


def test_rotation_rewrites_the_lake_files(lake_hub: Hub, tmp_path: Path) -> None:
    values = [_level1(i) for i in range(1, 5)]
    _deposit(lake_hub, tmp_path, [f"{i};{v};{i}" for i, v in enumerate(values, 1)])
    before = _pseudonyms(lake_hub)
    old_paths = [f["path"] for f in version(lake_hub, "T").files]
    result = custodian_services.rotate(lake_hub, OPS)
    assert result["applied"]["lake"] == len(values)
    after = _pseudonyms(lake_hub)
    assert not set(before) & set(after)  # no stored pseudonym keeps its old value
    fresh = custodian_for(lake_hub.config).pseudonymise(pa.array(values), "hub", purpose="deposit:T")
    assert after == fresh.to_pylist()  # the new generation, as a deposit made now would write it
    assert all(not (lake_hub.home / p).exists() for p in old_paths)
    assert custodian_services.rotate(lake_hub, OPS)["applied"]["lake"] == len(values)  # and again


def _pseudonyms(hub: Hub) -> list[str]:
    with Engine() as engine:
        rel = open_version(hub, engine, "T")
        return [r[0] for r in engine.fetch_all(exp.select("PSA").from_(rel.view).order_by("ID"), purpose="t")]
