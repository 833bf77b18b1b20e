"""Quality on deposited versions: run, stored results, report, hold and override (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from guichet.actor import Actor, system_actor
from guichet.deposit import services as deposits
from guichet.deposit.run import single_file_request
from guichet.errors import Conflict, Refused
from guichet.hub import Hub
from guichet.lake.tables import DatasetVersion
from guichet.lake.versions import published_versions
from guichet.quality import services as quality
from guichet.quality.gate import check_version
from guichet.quality.report import render
from guichet.store.models import AuditEvent

SCHEMA = {"name": "CLAIMS", "primaryKey": ["ID"], "fields": [
    {"name": "ID", "type": "integer"}, {"name": "START", "type": "date"}, {"name": "END", "type": "date"},
    {"name": "AMOUNT", "type": "number", "description": "paid"}]}


def _deposit(hub: Hub, tmp: Path, rows: list[str], name: str = "claims.csv") -> int:
    s = tmp / "claims.json"
    s.write_text(json.dumps(SCHEMA))
    f = tmp / name
    f.write_text("ID;START;END;AMOUNT\n" + "\n".join(rows) + "\n")
    [r] = deposits.deposit(hub, system_actor(), request=single_file_request(f, "CLAIMS", s, "cnam", "replace", []))
    assert r.version is not None
    return r.version


def _rows(n: int, bad: int = 0) -> list[str]:
    out = []
    for i in range(n):
        end = "2023-01-01" if i < bad else "2023-03-01"  # end before start for the first `bad` rows
        out.append(f"{i};2023-02-0{1 + i % 9};{end};{10 + i % 7}.5")
    return out


@pytest.fixture()
def operator(store_hub: Hub) -> Actor:
    deposits.add_producer(store_hub, system_actor(), name="cnam", org="Assurance Maladie")
    return Actor("ops", frozenset({"operator"}), strong_auth=True)


def test_run_stores_results_and_hold_then_override(store_hub: Hub, tmp_path: Path, operator: Actor) -> None:
    v = _deposit(store_hub, tmp_path, _rows(40, bad=4))  # 10 % end before start
    # a pack rule of our own: end >= start on this table
    assert check_version(store_hub, operator, "CLAIMS", v).passed  # the schema alone has no temporal rule
    from guichet.quality.packs import parse_pack

    pack = parse_pack({"pack": "t", "tables": {"CLAIMS": [
        {"id": "end_before_start", "kind": "date_order", "columns": ["START", "END"]}]}}, "t.yaml")
    import guichet.quality.plan as plan

    old = plan.builtin_packs
    plan.builtin_packs = lambda: [pack]  # type: ignore[assignment]
    try:
        verdict = check_version(store_hub, operator, "CLAIMS", v)
        res, _label = quality.run_quality(store_hub, operator, dataset="CLAIMS", version=v)
    finally:
        plan.builtin_packs = old  # type: ignore[assignment]
    assert not verdict.passed and "CLAIMS.end_before_start" in verdict.why
    assert res.blocking_failed
    failing = next(r for r in res.results if r.id == "CLAIMS.end_before_start")
    assert failing.rows_failing == 4 and failing.status == "fail" and failing.failing_rows == (1, 2, 3, 4)
    # the deposit holds a version its gate refuses (simulated here)
    with store_hub.store.write() as s:
        s.execute(select(DatasetVersion).where(DatasetVersion.version == v)).scalar_one().status = "held"
    assert all(p.version != v for p in published_versions(store_hub, "CLAIMS"))
    stored = quality.results(store_hub, operator, dataset="CLAIMS", version=v)
    assert any(r["failing_rows"] for r in stored.results)
    researcher = Actor("rita", frozenset({"researcher"}))
    public = quality.results(store_hub, researcher, dataset="CLAIMS", version=v)
    assert all("failing_rows" not in r for r in public.results)
    html = render(public, rows_visible=False)
    assert "<svg" in html and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    with pytest.raises(Refused):
        quality.override(store_hub, researcher, dataset="CLAIMS", version=v, reason="looks fine to me anyway")
    out = quality.override(store_hub, operator, dataset="CLAIMS", version=v, reason="end dates re-sent next month")
    assert out["status"] == "published" and out["overridden_checks"] == ["CLAIMS.end_before_start"]
    assert any(p.version == v for p in published_versions(store_hub, "CLAIMS"))
    with pytest.raises(Conflict):
        quality.override(store_hub, operator, dataset="CLAIMS", version=v, reason="end dates re-sent next month")
    with store_hub.store.read() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "quality.override")).scalars().all()
    assert any(e.reason == "end dates re-sent next month" for e in events)


def test_clean_version_passes_and_label_says_what_is_missing(store_hub: Hub, tmp_path: Path, operator: Actor) -> None:
    v = _deposit(store_hub, tmp_path, _rows(30))
    outcome, label = quality.run_quality(store_hub, operator, dataset="CLAIMS", version=v)
    assert not outcome.blocking_failed and outcome.rows == 30
    assert outcome.to_dict()["results"] and {"id", "status", "seconds"} <= set(outcome.to_dict()["results"][0])
    assert label["grade"] in ("bronze", "silver") and label["to_reach_next"]
