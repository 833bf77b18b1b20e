"""Demo stage "airlock": a helper table is written from the sample permit's extract into the workspace's
``outputs/`` (as a session would), submitted by the researcher with its context and controls, reviewed blind
by two independent checkers and released by the operator, its cells entering the differencing ledger.

``demo --json`` adds ``"airlock"``: the request's state, the file's verdict and the number of files released."""

from __future__ import annotations

from typing import Any

from guichet.accounts import services as accounts
from guichet.accounts.auth import actor_for
from guichet.airlock import request_services as airlock
from guichet.analysis import crosstab
from guichet.demo.run import DemoRun, demo_stage
from guichet.workspace.build import read_extract, workspace_dir

SECOND_CHECKER = ("paul.checker", "Second output checking (demo)")
CONTEXT = "persons with a claim in the permitted period, by sex; the permit's whole population"
CONTROLS = "counts of distinct persons written by the crosstab helper; cells below the threshold would be withheld"


@demo_stage("airlock")
def airlock_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    built = run.extra.get("workspace")
    if not isinstance(built, dict) or "ER_PRS_F" not in built.get("tables", {}):
        return {"released": 0}, []
    hub, permit = run.hub, str(built["permit"])
    username, org = SECOND_CHECKER
    accounts.add_user(hub, run.operator, username=username, roles=["checker"], org=org, org_kind="hub")
    outputs = workspace_dir(hub, permit) / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    claims = read_extract(hub, permit)["ER_PRS_F"]
    crosstab(claims, "BEN_SEX_COD", out=outputs / "persons_by_sex.csv")
    researcher = actor_for(hub, run.accounts["researcher"])
    request = airlock.submit(hub, researcher, permit=permit, files=["persons_by_sex.csv"], group="descriptive",
                             context=CONTEXT, controls=CONTROLS, title="Persons by sex")
    rid, status = str(request["request"]), str(request["files"][0]["status"])
    reason = ("every count is above the threshold; no differencing with earlier releases" if status == "pass" else
              "the flagged cells were examined against the context; the demo's synthetic data carry no risk")
    for checker in (run.accounts["checker"], username):
        airlock.review(hub, actor_for(hub, checker), request=rid, decision="approve", reason=reason)
    released = airlock.release(hub, run.operator, request=rid)
    shown = airlock.show(hub, run.operator, request=rid)
    run.extra["airlock"] = {"state": shown["state"], "status": status, "released": len(released["files"])}
    # the README quotes these lines: no request number (it carries the year) and no path
    lines = [f"airlock    a table of persons by sex submitted with its context and controls: automatic check {status}",
             f"           two independent checkers approved it blind; {shown['state']} with its checksum "
             f"({len(released['files'])} file), its cells in the differencing ledger: guichet airlock show ID --json"]
    return {"state": shown["state"], "status": status, "released": len(released["files"])}, lines
