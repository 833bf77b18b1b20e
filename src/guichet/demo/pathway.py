"""Demo stage "pathway": the SNDS pilot's care pathway on the sample permit's extract — the event table
(dispensings with their ATC class), the diabetes cohort (index: first A10 dispensing) with its attrition
table and flowchart written by the analysis helpers into the workspace's ``outputs/`` (as a session would),
the transitions between care settings, and the attrition table submitted to the airlock (checked at once;
its review is the checkers'). Core dependencies only (the model audit of ``examples/snds_pilot.py`` needs the
``analysis`` extra and is not run here).

``demo --json`` adds ``"pathway"``: the attrition's steps and the submitted file's automatic verdict."""

from __future__ import annotations

from typing import Any

from guichet.access.criteria import drug_referential
from guichet.accounts.auth import actor_for
from guichet.airlock import request_services as airlock
from guichet.analysis.cohorts import attrition
from guichet.analysis.events import events
from guichet.analysis.pathways import transitions
from guichet.demo.run import DemoRun, demo_stage
from guichet.workspace.build import read_extract, workspace_dir

INDEX = {"codes": ["A10"], "system": "ATC"}
STEPS = [("still treated six months after the index", {"codes": ["A10"], "system": "ATC", "window": {"from": 180}}),
         ("still treated ten months after the index", {"codes": ["A10"], "system": "ATC", "window": {"from": 300}})]
CONTEXT = "the diabetes cohort's attrition: persons with an antidiabetic dispensing, then still treated later"
CONTROLS = "counts of distinct persons written by the analysis helpers (crosstab), each step's persons in its sidecar"


@demo_stage("pathway")
def pathway_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    built = run.extra.get("workspace")
    if not isinstance(built, dict) or "ER_PHA_F" not in built.get("tables", {}):
        return {"submitted": False}, []
    hub, permit = run.hub, str(built["permit"])
    outputs = workspace_dir(hub, permit) / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    con = events(read_extract(hub, permit), drugs=dict(drug_referential()))
    table, cohort = attrition(con, STEPS, index=INDEX, out=outputs / "diabetes_attrition.csv")
    transitions(con, cohort, out=outputs / "diabetes_transitions.csv")
    steps = [line.rsplit(",", 1) for line in table.read_text(encoding="utf-8").splitlines()[1:]]
    researcher = actor_for(hub, run.accounts["researcher"])
    request = airlock.submit(hub, researcher, permit=permit, files=[table.name], group="cohort",
                             context=CONTEXT, controls=CONTROLS, title="Diabetes cohort attrition")
    status = str(request["files"][0]["status"])
    reasons = sorted(set((request["files"][0].get("check") or {}).get("reasons") or []))
    counts = " -> ".join(n for _, n in steps)
    # the README quotes these lines: no request number and no path
    lines = [f"pathway    diabetes cohort on the extract's event table: attrition {counts} persons "
             f"(index: first A10 dispensing), flowchart and care-setting transitions attached to their tables",
             f"           attrition table submitted to the airlock: automatic check {status}"
             + (f" ({', '.join(reasons)}: nested steps are compared with each other and earlier releases)" if reasons else "")
             + "; the model and its bias audit: python examples/snds_pilot.py"]
    con.close()
    return {"submitted": True, "steps": {s: int(n) for s, n in steps}, "status": status, "reasons": reasons}, lines
