"""Running a stored version's checks end to end, and keeping results in the metadata store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlglot import exp

from guichet.actor import Actor
from guichet.engine import Engine
from guichet.errors import NotFound
from guichet.hub import Hub
from guichet.lake import open_version, published_datasets
from guichet.lake.versions import version_in, versions_in
from guichet.quality import sql as q
from guichet.quality.label import label as make_label
from guichet.quality.model import CROSS_KINDS, RunOutcome
from guichet.quality.plan import plan_checks
from guichet.quality.runner import Flagged, Runner, TableSource, column_types
from guichet.quality.tables import QualityResult, QualityRun

ROW_VIEWERS = frozenset({"operator", "producer"})
CARE_TABLE, CARE_DATE = "ER_PRS_F", "EXE_SOI_DTD"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_rows_visible(actor: Actor) -> bool:
    return bool(actor.roles & ROW_VIEWERS)


@dataclass(frozen=True)
class StoredRun:
    dataset: str
    version: int
    created_at: str
    rows: int
    blocking_failed: bool
    results: list[dict[str, Any]]
    profile: dict[str, Any]
    label: dict[str, Any]
    quarantined: dict[str, int]

    def public(self) -> StoredRun:
        return replace(self, results=[{k: v for k, v in r.items() if k != "failing_rows"} for r in self.results])

    def to_dict(self) -> dict[str, Any]:
        keys = ("id", "category", "severity", "threshold", "rows_checked", "rows_failing", "status", "seconds")
        return {"dataset": self.dataset, "version": self.version, "results": [{k: r[k] for k in keys}
                                                                              for r in self.results]}


def reference_date(engine: Engine, refs: dict[str, TableSource], today: dt.date) -> dt.date:
    """'The future' for birth years: after the year following the latest care date of the claims, or today.

    Synthetic (and archived) deliveries describe the past; a birth year after the latest care they contain
    (plus one year for newborns registered late) is as impossible as one after today."""
    claims = refs.get(CARE_TABLE)
    if claims is None or CARE_DATE not in claims.column_types:
        return today
    row = engine.fetch_all(exp.select(exp.Max(this=q.as_date(q.col(CARE_DATE)))).from_(claims.view),
                           purpose="latest care date (reference date)")[0]
    if row[0] is None:
        return today
    latest = row[0] if isinstance(row[0], dt.date) else dt.date.fromisoformat(str(row[0])[:10])
    return min(today, dt.date(latest.year + 1, 12, 31))


def _published(hub: Hub) -> set[str]:
    return set(published_datasets(hub))


def open_source(hub: Hub, engine: Engine, dataset: str, version: int | None, view: str) -> TableSource:
    """A version as the runner reads it (held versions too: quality runs before publication)."""
    rel = open_version(hub, engine, dataset, version, view=view, published_only=False)
    return TableSource(dataset, rel.version, rel.view, rel.schema, column_types(engine, rel.view))


def open_with_refs(hub: Hub, engine: Engine, dataset: str, version: int | None
                   ) -> tuple[TableSource, dict[str, TableSource], list[Any], dt.date]:
    src = open_source(hub, engine, dataset, version, "qsrc")
    available = _published(hub)
    probe = plan_checks(dataset, src.schema, src.column_types, as_of=dt.date.today(), datasets=available)
    wanted = {c.params["ref"]["table"] for c in probe if c.kind in CROSS_KINDS} | {CARE_TABLE}
    wanted |= {str(c.params["hospital"][k]) for c in probe if isinstance(c.params.get("hospital"), dict)
               for k in ("stays", "exits")}
    refs: dict[str, TableSource] = {}
    for i, name in enumerate(sorted(wanted)):
        if name == dataset:
            refs[name] = src
        elif name in available:
            refs[name] = open_source(hub, engine, name, None, f"qref{i}")
    as_of = reference_date(engine, refs, dt.date.today())
    checks = plan_checks(dataset, src.schema, src.column_types, as_of=as_of, datasets=available)
    return src, refs, checks, as_of


def execute_run(hub: Hub, dataset: str, version: int | None, history: dict[str, Any],
                flagged: Flagged | None = None) -> tuple[RunOutcome, dict[str, Any]]:
    # every engine connection already turns off the optimisers that misread encrypted Parquet
    with Engine() as engine:
        src, refs, checks, as_of = open_with_refs(hub, engine, dataset, version)
        outcome = Runner(engine).run(src, checks, refs=refs, history=history, flagged=flagged)
    outcome.profile["as_of"] = as_of.isoformat()
    described = 0.0
    if src.schema is not None and src.schema.fields:
        raw = src.schema.raw.get("fields", [])
        described = sum(1 for f in raw if isinstance(f, dict) and f.get("description")) / len(raw)
    versions = len(history.get("versions", [])) + 1
    lab = make_label(outcome, has_schema=src.schema is not None, described=described, versions=versions)
    return outcome, lab


def history_of(hub: Hub, dataset: str, version: int | None) -> dict[str, Any]:
    """The profile of the latest earlier version's run (for drift and flow volume), and the versions seen.

    The profile is the latest earlier *published* version's when there is one: a version held for its
    failures, or rejected, is not what the next one should look like."""
    with hub.store.read() as s:
        runs = s.execute(select(QualityRun).where(QualityRun.dataset == dataset)
                         .order_by(QualityRun.version, QualityRun.id)).scalars().all()
        published = {v.version for v in versions_in(s, dataset)}
        earlier = [r for r in runs if version is None or r.version < version]
        if version is None and runs:
            latest = max(r.version for r in runs)
            earlier = [r for r in runs if r.version < latest] or []
        if not earlier:
            return {}
        reference = [r for r in earlier if r.version in published] or earlier
        profile = dict(reference[-1].profile or {})
        profile["versions"] = sorted({r.version for r in earlier})
        return profile


def save_run(hub: Hub, actor: str, outcome: RunOutcome, label: dict[str, Any]) -> int:
    with hub.store.write() as s:
        run = QualityRun(dataset=outcome.dataset, version=outcome.version, actor=actor, rows=outcome.rows,
                         blocking_failed=outcome.blocking_failed, checks=len(outcome.results),
                         failed=len(outcome.failed), profile=outcome.profile, label=label, created_at=now())
        s.add(run)
        s.flush()
        for r in outcome.results:
            s.add(QualityResult(run_id=run.id, check_id=r.id, kind=r.kind, category=r.category,
                                subcategory=r.subcategory, severity=r.severity, threshold=r.threshold,
                                rows_checked=r.rows_checked, rows_failing=r.rows_failing, status=r.status,
                                seconds=round(r.seconds, 4), description=r.description, note=r.note,
                                failing_rows=list(r.failing_rows)))
        return run.id


def load_run(session: Session, dataset: str, version: int | None) -> StoredRun | None:
    qy = select(QualityRun).where(QualityRun.dataset == dataset)
    if version is not None:
        qy = qy.where(QualityRun.version == version)
    run = session.execute(qy.order_by(QualityRun.version.desc(), QualityRun.id.desc()).limit(1)).scalar_one_or_none()
    if run is None:
        return None
    rows = session.execute(select(QualityResult).where(QualityResult.run_id == run.id)
                           .order_by(QualityResult.id)).scalars().all()
    try:
        quarantined = version_in(session, dataset, run.version).quarantine_reasons
    except NotFound:
        quarantined = {}
    results = [{"id": r.check_id, "kind": r.kind, "category": r.category, "subcategory": r.subcategory,
                "severity": r.severity, "threshold": r.threshold, "rows_checked": r.rows_checked,
                "rows_failing": r.rows_failing, "status": r.status, "seconds": r.seconds,
                "description": r.description, "note": r.note, "failing_rows": list(r.failing_rows or [])}
               for r in rows]
    return StoredRun(run.dataset, run.version, run.created_at.isoformat(), run.rows, run.blocking_failed, results,
                     dict(run.profile or {}), dict(run.label or {}), quarantined)
