"""Demo stage "access": the sample application (adults with a dispensing of an antidiabetic drug in the
period) goes from the researcher's draft to the authority's authorisation — completeness check, the citizens'
panel's non-binding opinion, the scientific panel's favourable opinion, the decision, each with its reason."""

from __future__ import annotations

import json
from typing import Any

from guichet.access import services as access
from guichet.access.contents import EXAMPLE_PATH
from guichet.accounts import services as accounts
from guichet.accounts.auth import actor_for
from guichet.demo.run import DemoRun, demo_stage

CITIZEN = ("paula.citizens", "Patients and users association (demo)")


@demo_stage("access")
def access_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    hub, op = run.hub, run.operator
    citizen, citizen_org = CITIZEN
    accounts.add_user(hub, op, username=citizen, roles=["committee"], org=citizen_org, org_kind="public_body")
    access.add_member(hub, op, panel="scientific", username=run.accounts["committee"])
    access.add_member(hub, op, panel="citizens", username=citizen)

    def who(username: str) -> Any:
        return actor_for(hub, username).with_strong_auth()  # development mode: the CLI's own rule

    researcher, committee = who(run.accounts["researcher"]), who(run.accounts["committee"])
    authority, citizens = who(run.accounts["authority"]), who(citizen)
    content = json.loads(EXAMPLE_PATH.read_text(encoding="utf-8"))
    app = access.create(hub, researcher, content=content).id
    access.submit(hub, researcher, application_id=app)
    access.check(hub, op, application_id=app, complete=True, reason="every section of EHDS Art 67(2) is present")
    access.opinion(hub, citizens, application_id=app, outcome="favourable", panel="citizens",
                   reason="a clear public benefit for people living with diabetes; the summary is understandable")
    access.opinion(hub, committee, application_id=app, outcome="favourable",
                   reason="sound design; the variables requested are those the question needs")
    access.decide(hub, authority, application_id=app, authorise=True,
                  reason="favourable scientific opinion; pseudonymised data in the hub's workspace only")
    info = access.show(hub, op, application_id=app)
    run.extra["application"] = {"id": info.id, "title": info.title, "state": info.state, "revision": info.revision,
                                "steps": [h.to_state for h in info.history],
                                "opinions": {o.panel: o.outcome for o in info.opinions}}
    lines = [f"access     application {info.id} ({info.title}): " + " -> ".join(h.to_state for h in info.history),
             f"           guichet application show {info.id} --json"]
    return {"applications": 1, "state": info.state, "opinions": len(info.opinions)}, lines
