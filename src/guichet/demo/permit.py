"""Demo stage "permit": the sample application, once authorised (stage "application"), gets its fee estimate,
the applicant accepts it, an operator issues the signed permit, and the permit is exported and verified.

``demo --json`` adds ``"permit"``: its id, state, the exported file and the hub's signing key id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from guichet.accounts.auth import actor_for
from guichet.demo.run import DemoRun, demo_stage
from guichet.permits import permit_services as permits
from guichet.permits import services as accreditation
from guichet.permits.document import dump_signed, verify_file

PERMIT_FILE = "permit-{id}.json"


def _application_id(run: DemoRun) -> int | None:
    found = run.extra.get("application")
    if isinstance(found, dict):
        found = found.get("id")
    return found if isinstance(found, int) else None


@demo_stage("permit")
def permit_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    app_id = _application_id(run)
    if app_id is None:
        return {"issued": False}, []  # no application stage ran: nothing to say
    hub = run.hub
    researcher = run.accounts["researcher"]
    applicant = actor_for(hub, researcher).with_strong_auth()
    until = datetime.now(UTC).date() + timedelta(days=365)
    accreditation.attest_user(hub, run.operator, username=researcher, until=until, note="demo training")
    estimate = permits.estimate_fees(hub, run.operator, application_id=app_id)
    permits.accept_estimate(hub, applicant, application_id=app_id)
    info = permits.issue(hub, run.operator, application_id=app_id)
    envelope = permits.export(hub, run.operator, permit_id=info.id)
    path = hub.home / PERMIT_FILE.format(id=info.id)
    path.write_text(dump_signed(envelope), encoding="utf-8")
    check = verify_file(path)
    run.extra["permit"] = {"id": info.id, "state": info.state, "valid_until": info.valid_until.isoformat(),
                           "file": str(path), "key_id": envelope["signature"]["key_id"], "verified": check.valid,
                           "fees": estimate.to_dict()["total"]}
    lines = [f"permit     {info.id} issued for application {app_id} ({info.state}, valid until "
             f"{info.valid_until:%Y-%m-%d}; fees {estimate.to_dict()['total']}); signed with {check.key_id}",
             f"           {path.name}: guichet permit verify {path.name}; registry at /registry"]
    return {"issued": True, "verified": check.valid}, lines
