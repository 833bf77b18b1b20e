"""Column drift through the deposit: each version's run keeps its column profile in the metadata store, the
next version is compared with the latest published one (not a held one), and a drift is a warning that never
holds the version (SQLite and PostgreSQL, real encrypted Parquet)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from guichet.actor import Actor, system_actor
from guichet.deposit import services as deposits
from guichet.deposit.run import single_file_request
from guichet.hub import Hub
from guichet.lake.tables import DatasetVersion
from guichet.quality import plan
from guichet.quality import services as quality
from guichet.quality.packs import parse_pack
from guichet.quality.tables import QualityRun

SCHEMA = {"name": "CLAIMS", "primaryKey": ["ID"], "fields": [
    {"name": "ID", "type": "integer"}, {"name": "ORG", "type": "string", "constraints": {"maxLength": 9}},
    {"name": "SEX", "type": "integer", "nomenclature": "IR_SEX_V"}, {"name": "CARE", "type": "date"},
    {"name": "AMOUNT", "type": "number"}, {"name": "BASE", "type": "number"}]}


def _rows(n: int, seed: int, *, org: str = "normal", base: str = "normal", cents: bool = False,
          comma: bool = False) -> list[str]:
    out = []
    for i in range(n):
        k = (i * 7919 + seed * 104729) % 1000003
        code = f"01{(k % 23) + 1:03d}0000"
        code = code.lstrip("0") if org == "unpadded" else code
        amount = (20 + k % 40 + 0.5) * (100 if cents else 1)
        base_amount = amount if base == "copied" else round(amount * 0.7, 2)
        line = f"{i};{code};{1 + k % 2};2023-{1 + k % 12:02d}-{1 + k % 28:02d};{amount:.2f};{base_amount:.2f}"
        out.append(line.replace(".", ",") if comma else line)
    return out


def _deposit(hub: Hub, tmp: Path, rows: list[str], name: str) -> tuple[int, str]:
    s = tmp / "claims.json"
    s.write_text(json.dumps(SCHEMA))
    f = tmp / name
    f.write_text("ID;ORG;SEX;CARE;AMOUNT;BASE\n" + "\n".join(rows) + "\n")
    [r] = deposits.deposit(hub, system_actor(), request=single_file_request(f, "CLAIMS", s, "cnam", "replace", []))
    assert r.version is not None
    with hub.store.read() as sess:
        status = sess.execute(select(DatasetVersion.status).where(DatasetVersion.dataset == "CLAIMS",
                                                                  DatasetVersion.version == r.version)).scalar_one()
    return r.version, status


def _failing(hub: Hub, actor: Actor, version: int) -> dict[str, str]:
    run = quality.results(hub, actor, dataset="CLAIMS", version=version)
    return {r["id"]: r["note"] for r in run.results if r["status"] == "fail"}


def test_a_new_extraction_job_is_flagged_against_the_previous_version_without_holding_it(
        store_hub: Hub, tmp_path: Path) -> None:
    deposits.add_producer(store_hub, system_actor(), name="cnam", org="Assurance Maladie")
    ops = Actor("ops", frozenset({"operator"}), strong_auth=True)
    v1, status = _deposit(store_hub, tmp_path, _rows(3000, 1), "v1.csv")
    assert status == "published" and _failing(store_hub, ops, v1) == {}
    with store_hub.store.read() as s:
        profile = s.execute(select(QualityRun.profile).where(QualityRun.version == v1)).scalar_one()
    assert {"ORG:shape", "SEX:code", "CARE:day", "AMOUNT:magnitude"} <= set(profile["features"])
    assert "AMOUNT|BASE|" in profile["orders"]
    v2, status = _deposit(store_hub, tmp_path, _rows(2500, 2), "v2.csv")  # another clean extraction
    assert status == "published" and _failing(store_hub, ops, v2) == {}
    # amounts in cents, held by a blocking rule of a pack: not the reference of the next version
    pack = parse_pack({"pack": "t", "tables": {"CLAIMS": [
        {"id": "amount_plausible", "kind": "range", "columns": ["AMOUNT"], "max": 1000}]}}, "t.yaml")
    old = plan.builtin_packs
    plan.builtin_packs = lambda: [pack]  # type: ignore[assignment]
    try:
        held, status = _deposit(store_hub, tmp_path, _rows(2500, 4, cents=True), "held.csv")
        assert status == "held" and "CLAIMS.column_drift.AMOUNT" in _failing(store_hub, ops, held)
        again, status = _deposit(store_hub, tmp_path, _rows(2500, 5), "again.csv")
        assert status == "published" and _failing(store_hub, ops, again) == {}  # compared with v2, not the held one
    finally:
        plan.builtin_packs = old  # type: ignore[assignment]
    # the producer's new job writes the fund code as a number and fills the base from the paid amount
    v3, status = _deposit(store_hub, tmp_path, _rows(2500, 3, org="unpadded", base="copied"), "v3.csv")
    failing = _failing(store_hub, ops, v3)
    assert status == "published"  # warnings: a question to the producer, not a hold
    assert set(failing) == {"CLAIMS.column_drift.ORG", "CLAIMS.order_drift"}
    assert "'99999999'" in failing["CLAIMS.column_drift.ORG"] and "against the previous version" in failing[
        "CLAIMS.column_drift.ORG"]
    assert "AMOUNT vs BASE" in failing["CLAIMS.order_drift"]
    assert "0102" not in " ".join(failing.values())  # a shape is said, never a value of an identifier column
    # amounts with a decimal comma: every row quarantined at deposit; an empty version does not replace v3
    v4, status = _deposit(store_hub, tmp_path, _rows(2500, 6, comma=True), "v4.csv")
    assert status == "held" and "CLAIMS.row_count" in _failing(store_hub, ops, v4)
