"""Demo stage "workspace": the sample permit's extract (stage "permit") is built — only what it permits,
opt-outs applied, keys replaced per project, identifying fields coarsened, its risk measured.

``demo --json`` adds ``"workspace"``: the build's answer (``docs/workspace.md``)."""

from __future__ import annotations

from typing import Any

from guichet.demo.run import DemoRun, demo_stage
from guichet.workspace import services as workspace


@demo_stage("workspace")
def workspace_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    permit = run.extra.get("permit")
    if not isinstance(permit, dict) or not permit.get("id"):
        return {"built": False}, []  # no permit stage ran: nothing to say
    result = workspace.build_extract(run.hub, run.operator, permit_id=str(permit["id"]))
    run.extra["workspace"] = result
    tables = ", ".join(f"{t} {n}" for t, n in result["tables"].items())
    risk = result["risk"]
    # the README quotes these lines: no permit number (it carries the year) and no path
    lines = [f"workspace  the permit's extract {result['status']}: {tables} rows, {result['persons']} persons "
             f"({result['excluded_opted_out']} opted out); k={risk['k']}: {risk['records_below_k']} below, "
             f"{risk['unique_on_3_events']} unique on 3 events",
             "           encrypted under the project's key, its SQL recipe beside it: guichet workspace build ID --json"]
    return {"built": True, "status": result["status"], "tables": result["tables"], "persons": result["persons"]}, lines
