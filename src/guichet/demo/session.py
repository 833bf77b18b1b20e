"""Demo stage "session": the researcher runs one query in the sample permit's workspace — a sandboxed session
(``docs/workspace.md``, "Sessions"). The demo's population is far too small to pass the risk thresholds, so
its extract is ``held``: an operator first releases it with a recorded reason (synthetic data), as
``guichet workspace release`` does; sessions only ever open on a ``ready`` extract.

``demo --json`` adds ``"session"``: the query, its columns and rows."""

from __future__ import annotations

import shutil
from typing import Any

from guichet.accounts.auth import actor_for
from guichet.demo.run import DemoRun, demo_stage
from guichet.workspace import services as workspace
from guichet.workspace import session_services

QUERY = "SELECT count(*) AS claims, count(DISTINCT PERSON_ID) AS persons FROM ER_PRS_F"
RELEASE_REASON = "demo: synthetic data of no real person"


@demo_stage("session")
def session_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    extract = run.extra.get("workspace")
    permit = run.extra.get("permit")
    if not isinstance(extract, dict) or not isinstance(permit, dict) or "ER_PRS_F" not in extract.get("tables", {}):
        return {"ran": False}, []  # no extract built: nothing to query
    if shutil.which("bwrap") is None:
        return {"ran": False}, ["session    not run: workspace sessions need bubblewrap (apt-get install bubblewrap)"]
    permit_id = str(permit["id"])
    lines = []
    if extract.get("status") == "held":
        workspace.release_extract(run.hub, run.operator, permit_id=permit_id, reason=RELEASE_REASON)
        lines.append(f"session    the held extract released by the operator (reason recorded: {RELEASE_REASON})")
    researcher = actor_for(run.hub, run.accounts["researcher"]).with_strong_auth()
    answer = session_services.run_sql(run.hub, researcher, permit_id=permit_id, sql=QUERY)
    row = dict(zip(answer["columns"], answer["rows"][0], strict=True))
    run.extra["session"] = {"query": QUERY, "columns": answer["columns"], "rows": answer["rows"]}
    lines += [f"{'session' if not lines else '':<10} {run.accounts['researcher']} queried the extract in a sandbox "
              f"(no network, only the extract): {row['claims']} claims of {row['persons']} persons",
              "           guichet workspace sql ID \"SELECT ...\" --as RESEARCHER; guichet workspace history ID --json"]
    return {"ran": True, "rows": answer["rows"]}, lines
