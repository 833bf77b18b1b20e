"""Linkage services on both metadata stores: the encrypted index version, clerical decisions applied by the
next run, operator-only review with audited views, refusals, rotation of the index."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import select

from guichet.actor import Actor
from guichet.custodian import is_encrypted_parquet
from guichet.errors import Refused
from guichet.hub import Hub
from guichet.linkage import index as idx
from guichet.linkage import services as linkage
from guichet.linkage.rotation import apply_rotation
from guichet.linkage.run import LinkRequest
from guichet.linkage.tables import LinkageRun, ReviewPair
from guichet.store.models import AuditEvent
from tests.spec.test_linkage_spec import delivery

pytestmark = pytest.mark.store
OPS = Actor("ops", frozenset({"operator"}), strong_auth=True)
RESEARCHER = Actor("rita", frozenset({"researcher"}))


def _links(hub: Hub) -> dict[tuple[str, int], str | None]:
    t = idx.read_file(hub, idx.require_latest(hub), "links").to_pylist()
    return {(r["_table"], r["_row"]): r["person_id"] for r in t}


def test_run_writes_encrypted_versions_and_decisions_apply(store_hub: Hub, tmp_path: Path) -> None:
    folder = delivery(tmp_path / "d")
    first = linkage.run_linkage(store_hub, OPS, request=LinkRequest(folder, compare_baselines=False))
    assert first.version == 1
    run = idx.require_latest(store_hub)
    for meta in run.files.values():
        assert is_encrypted_parquet(store_hub.home / meta["path"])
    assert run.lineage["splink"]["guichet"]["seeds"]["u_random_sampling"] == 20240101
    assert run.lineage["splink"]["guichet"]["sql"]
    before = _links(store_hub)
    assert before[("KI_CCI_R", 1)] is not None
    # an operator's clerical decision: that certificate is not that person
    with store_hub.store.write() as s:
        planted = ReviewPair(version=1, cert_table="KI_CCI_R", cert_row=1, person_id=before[("KI_CCI_R", 1)],
                             probability=0.5, calibrated=0.5, status="open")
        s.add(planted)
        s.flush()
        pair_id = planted.id
    decided = linkage.review_decide(store_hub, OPS, pair_id=pair_id, decision="non_match", note="different town")
    assert decided["status"] == "non_match"
    second = linkage.run_linkage(store_hub, OPS, request=LinkRequest(folder, compare_baselines=False))
    assert second.version == 2
    after = _links(store_hub)
    assert after[("KI_CCI_R", 1)] is None
    assert {k: v for k, v in after.items() if k[0] == "IR_BEN_R"} == {
        k: v for k, v in before.items() if k[0] == "IR_BEN_R"}
    with store_hub.store.read() as s:
        actions = [a for (a,) in s.execute(select(AuditEvent.action).where(AuditEvent.action.like("linkage.%")))]
        runs = s.execute(select(LinkageRun.status)).scalars().all()
    assert actions.count("linkage.run") == 2 and "linkage.review_decide" in actions
    assert runs == ["committed", "committed"]


def test_review_is_operator_only_and_views_are_audited(store_hub: Hub, tmp_path: Path) -> None:
    with pytest.raises(Refused):
        linkage.review_list(store_hub, RESEARCHER)
    with pytest.raises(Refused):
        linkage.run_linkage(store_hub, RESEARCHER, request=LinkRequest(tmp_path))
    assert linkage.review_list(store_hub, OPS) == []
    with store_hub.store.read() as s:
        audited = s.execute(select(AuditEvent.outcome).where(AuditEvent.action == "linkage.review_list")).all()
    assert sorted(o for (o,) in audited) == ["ok", "refused"]  # the refusal and the read, both audited


def test_rotation_rewrites_the_index_and_keeps_person_ids(store_hub: Hub, tmp_path: Path) -> None:
    linkage.run_linkage(store_hub, OPS, request=LinkRequest(delivery(tmp_path / "d"), compare_baselines=False))
    run = idx.require_latest(store_hub)
    table = idx.read_file(store_hub, run, "index")
    olds = set()
    for kind, key in zip(table.column("kind").to_pylist(), table.column("key").to_pylist(), strict=True):
        if kind in ("psa_rank", "ano", "hospital_psa"):
            olds.add(key.partition(":")[0] if kind == "psa_rank" else key)
    mapping = pa.table({"old": sorted(olds), "new": [("Z" + o)[:17] for o in sorted(olds)]})
    assert apply_rotation(store_hub, mapping) > 0
    rotated = idx.read_file(store_hub, idx.require_latest(store_hub), "index")
    assert rotated.column("person_id").to_pylist() == table.column("person_id").to_pylist()
    keys = set(rotated.column("key").to_pylist())
    assert not any((k or "").partition(":")[0] in olds for k in keys if not (k or "").startswith("Z"))
