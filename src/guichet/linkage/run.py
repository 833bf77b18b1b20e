"""A linkage run as a hub operation: inputs (a delivery folder or the lake), the previous index and the
clerical decisions in, a new encrypted index version out (called by the ``linkage.run`` service)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select

from guichet.engine import Engine, EngineSettings
from guichet.hub import Hub
from guichet.linkage import index as idx
from guichet.linkage.deaths import DeathSettings
from guichet.linkage.pipeline import DECISIONS_SCHEMA, RunInputs, RunOutcome, run
from guichet.linkage.sources import delivery_sources
from guichet.linkage.tables import LinkageEvent, ReviewPair


@dataclass(frozen=True)
class LinkRequest:
    delivery: Path | None = None  # None: the lake's published versions
    seed: int = 20240101
    compare_baselines: bool = True
    memory_limit: str = "4GB"


@dataclass(frozen=True)
class LinkResult:
    version: int
    outcome: RunOutcome

    def to_dict(self) -> dict[str, Any]:
        o = self.outcome
        return {"version": self.version, "persons": o.persons, "links_by_method": o.links_by_method,
                "deaths_in": o.deaths_in, "deaths_matched": o.deaths_matched.get("guichet", 0),
                "match_rate": o.match_rate, "review_queue": len(o.review), "review_band": o.review_band,
                "deaths_by_method": o.deaths_matched, "events": len(o.events)}


def _decisions(hub: Hub) -> pa.Table:
    with hub.store.read() as s:
        got = s.execute(select(ReviewPair.cert_table, ReviewPair.cert_row, ReviewPair.person_id, ReviewPair.status)
                        .where(ReviewPair.status.in_(("match", "non_match")))).all()
    return pa.table({"cert_table": [g[0] for g in got], "cert_row": [int(g[1]) for g in got],
                     "person_id": [g[2] for g in got], "decision": [g[3] for g in got]}, schema=DECISIONS_SCHEMA)


def link(hub: Hub, actor: str, req: LinkRequest) -> LinkResult:
    idx.recover(hub)
    previous, next_number = idx.previous_index(hub)
    with Engine(EngineSettings(memory_limit=req.memory_limit)) as engine:
        if req.delivery is not None:
            sources = delivery_sources(req.delivery)
        else:
            from guichet.linkage.lake import lake_sources

            sources = lake_sources(hub, engine)
        version, folder = idx.begin(hub, actor, sources.origin)
        outcome = run(engine, RunInputs(sources, previous, next_number, _decisions(hub),
                                        DeathSettings(seed=req.seed), req.compare_baselines))
        files = idx.write_files(hub, engine, folder)
        recorded = [r.to_dict() for r in engine.recorded]
        bindings = [b.to_dict() for b in engine.bindings]
    summary = {**LinkResult(version, outcome).to_dict(), "unlinked": outcome.unlinked_by_reason,
               "rates": outcome.rates, "calibration": outcome.calibration.to_dict(),
               "versions": sources.versions, "delivered": sources.delivered, "parameters": {k: v.get("parameters", {})
                                                             for k, v in outcome.lineage.items()}}
    lineage = {"sql": recorded, "bindings": bindings, "splink": {k: {"seeds": v["seeds"], "sql": v["sql"]}
                                                                 for k, v in outcome.lineage.items()}}
    with hub.store.write() as s:
        created = idx.now()
        for e in outcome.events:
            s.add(LinkageEvent(version=version, kind=e["kind"], person_id=e["person_id"], other=e["other"],
                               reason=e["reason"], created_at=created))
        for r in s.execute(select(ReviewPair).where(ReviewPair.status == "open")).scalars():
            r.status = "superseded"
        decided = {(d[0], int(d[1]), d[2]) for d in s.execute(
            select(ReviewPair.cert_table, ReviewPair.cert_row, ReviewPair.person_id)
            .where(ReviewPair.status.in_(("match", "non_match")))).all()}
        for cert_table, cert_row, person_id, p, pc, why in outcome.review:
            if (cert_table, int(cert_row), person_id) in decided:
                continue
            s.add(ReviewPair(version=version, cert_table=cert_table, cert_row=int(cert_row), person_id=person_id,
                             probability=float(p), calibrated=float(pc), status="open", why=str(why)))
    idx.commit(hub, version, files=files, persons=outcome.persons, next_number=outcome.next_number,
               summary=summary, lineage=lineage)
    return LinkResult(version, outcome)
