"""Demo stage "stats": the researcher asks for anonymised statistics (EHDS Art 69) instead of data — persons
with care in 2023 by sex and age band, and their mean age by sex; the operator accepts the request, the hub
computes the answer on a minimal extract in a sandboxed session, withholds what the airlock's rules and the
differencing ledger flag, and the checker approves its release.

``demo --json`` adds ``"stats"``: the answer's status, its tables' withheld cells and the files released."""

from __future__ import annotations

import shutil
from typing import Any

from guichet.accounts.auth import actor_for
from guichet.demo.run import DemoRun, demo_stage
from guichet.stats import services as stats

SPEC: dict[str, Any] = {
    "title": "Persons with care in 2023 by sex and age band",
    "requester": {"functions": "Epidemiologist; describes care use for the regional health plan (demo)."},
    "purpose": {"article_53": "public_health",
                "description": "How many persons received care in 2023, by sex and age band, and their mean age."},
    "products": ["beneficiaire", "dcir"],
    "criteria": {"period": {"from": "2023-01-01", "to": "2023-12-31"}},
    "reference_date": "2023-12-31",
    "statistics": [{"name": "persons", "kind": "count", "by": ["sex", "age_band"]},
                   {"name": "mean_age", "kind": "mean", "variable": "age", "by": ["sex"]}],
    "safeguards": "Only the released tables leave the hub; group-level publication only.",
}


@demo_stage("stats")
def stats_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    if "permit" not in run.extra:
        return {"status": None}, []  # no lake or no catalogue: nothing to ask
    if shutil.which("bwrap") is None:
        return {"status": None}, ["stats      not run: the answer is computed in a sandbox that needs bubblewrap"]
    hub = run.hub
    researcher = actor_for(hub, run.accounts["researcher"])
    checker = actor_for(hub, run.accounts["checker"])
    rid = str(stats.submit(hub, researcher, spec=SPEC)["id"])
    stats.assess(hub, run.operator, request=rid, accept=True, reason="complete; anonymised statistics only")
    answer = stats.answer(hub, run.operator, request=rid)
    withheld = {t["name"]: len(t["withheld"]) for t in answer["tables"]}
    files = answer["files"]
    state = answer["status"]
    if state == "review":
        reviewed = stats.review(hub, checker, request=rid, approve=True,
                                reason="small cells withheld; nothing derivable from earlier releases")
        state, files = reviewed["state"], reviewed["files"]
    part = {"status": answer["status"], "state": state, "withheld": withheld, "released": len(files)}
    run.extra["stats"] = part
    # the README quotes these lines: no request number (it carries the year) and no path
    decided = (f"one checker approved: {state} ({len(files)} files)" if state == "released"
               else "nothing left to release: refused")
    lines = ["stats      a statistics request (Art 69): persons of 2023 by sex and age band, mean age by sex; "
             "computed in a sandbox on a minimal extract",
             f"           {', '.join(f'{n}: {k} cell(s) withheld' for n, k in withheld.items())} (threshold 11, "
             f"differencing ledger); {decided}: guichet stats show ID --json"]
    return part, lines
