"""Demo stage: run quality on every deposited dataset; a held version is published by an operator override
with a recorded reason (the demo's data carries injected defects on purpose)."""

from __future__ import annotations

from typing import Any

from guichet.demo.run import DemoRun, demo_stage
from guichet.lake.versions import all_versions

DEMO_REASON = "demo: synthetic delivery with defects injected on purpose; published to show the override"


@demo_stage("quality")
def quality_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    from guichet.quality.services import override, run_quality

    hub = run.hub
    latest: dict[str, tuple[int, str]] = {v.dataset: (v.version, v.status) for v in all_versions(hub)}
    checked, failed, overridden, grades = 0, 0, [], {}
    for dataset, (version, status) in sorted(latest.items()):
        outcome, label = run_quality(hub, run.operator, dataset=dataset, version=version)
        checked += len(outcome.results)
        failed += len(outcome.failed)
        grades[dataset] = label["grade"]
        if status == "held":
            override(hub, run.operator, dataset=dataset, version=version, reason=DEMO_REASON)
            overridden.append(dataset)
    lines = [f"quality    {len(latest)} datasets, {checked} checks, {failed} failing; "
             f"held then published by override: {', '.join(overridden) or 'none'}"]
    if latest:
        lines.append(f"           report: guichet quality report {sorted(latest)[0]} --html report.html")
    return {"datasets": len(latest), "checks": checked, "failed": failed, "overridden": overridden,
            "labels": grades}, lines
