"""Demo stage: run quality on every deposited dataset; a held version is published by an operator override
with a recorded reason (the demo's data carries injected defects on purpose)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from guichet.demo.run import DemoRun, demo_stage
from guichet.deposit.tables import DatasetVersion

DEMO_REASON = "demo: synthetic delivery with defects injected on purpose; published to show the override"


@demo_stage("quality")
def quality_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    from guichet.quality import gate
    from guichet.quality.services import override

    hub = run.hub
    with hub.store.read() as s:
        rows = s.execute(select(DatasetVersion.dataset, DatasetVersion.version, DatasetVersion.status)
                         .where(DatasetVersion.status.in_(("published", "held")))
                         .order_by(DatasetVersion.dataset, DatasetVersion.version)).all()
    latest: dict[str, tuple[int, str]] = {}
    for dataset, version, status in rows:
        latest[dataset] = (version, status)
    checked, failed, overridden, grades = 0, 0, [], {}
    for dataset, (version, status) in sorted(latest.items()):
        res = gate(hub, run.operator, dataset, version)
        checked += len(res.outcome.results)
        failed += len(res.outcome.failed)
        grades[dataset] = res.label["grade"]
        if status == "held":
            override(hub, run.operator, dataset=dataset, version=version, reason=DEMO_REASON)
            overridden.append(dataset)
    lines = [f"quality    {len(latest)} datasets, {checked} checks, {failed} failing; "
             f"held then published by override: {', '.join(overridden) or 'none'}"]
    if latest:
        lines.append(f"           report: guichet quality report {sorted(latest)[0]} --html report.html")
    return {"datasets": len(latest), "checks": checked, "failed": failed, "overridden": overridden,
            "labels": grades}, lines
