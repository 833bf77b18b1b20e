"""What a clerical reviewer sees of one pair: both sides' quasi-identifiers and the hub's evidence, from
the run's encrypted ``review.parquet`` (never a pseudonym)."""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc
from sqlalchemy import select

from guichet.errors import NotFound
from guichet.hub import Hub
from guichet.linkage import index as idx
from guichet.linkage.tables import LinkageRun, ReviewPair


def pair_detail(hub: Hub, pair: ReviewPair) -> dict[str, Any]:
    with hub.store.read() as s:
        run = s.execute(select(LinkageRun).where(LinkageRun.version == pair.version)).scalar_one_or_none()
        if run is not None:
            s.expunge(run)
    if run is None or "review" not in run.files:
        raise NotFound(f"review pair {pair.id}: its linkage run is gone")
    table = idx.read_file(hub, run, "review")
    mask = pc.and_(pc.and_(pc.equal(table.column("cert_table"), pair.cert_table),
                           pc.equal(table.column("cert_row"), pair.cert_row)),
                   pc.equal(table.column("person_id"), pair.person_id))
    found = table.filter(mask).to_pylist()
    if not found:
        raise NotFound(f"review pair {pair.id}: no evidence stored with its run")
    row = found[0]
    side = {"certificate": {k[5:]: _plain(v) for k, v in row.items() if k.startswith("cert_") and k not in (
        "cert_table", "cert_row")},
        "person": {k[7:]: _plain(v) for k, v in row.items() if k.startswith("person_") and k != "person_id"}}
    return side


def _plain(v: Any) -> Any:
    return v.isoformat() if hasattr(v, "isoformat") else v
