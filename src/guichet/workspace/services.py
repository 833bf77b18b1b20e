"""``workspace.build``: a permit's extract, built from its signed document and the lake's published versions
(idempotent: the same permit, versions, person index and opt-out register answer the same, nothing rebuilt)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from guichet.errors import BadInput, NotFound, Refused
from guichet.governance import Resource, Unit, service
from guichet.permits.state import permit_scope
from guichet.permits.tables import Permit
from guichet.workspace.build import build, load_manifest, save_manifest


def _permit_resource(session: Session, permit_id: str, **_: object) -> Resource:
    permit = session.get(Permit, permit_id) if isinstance(permit_id, str) else None
    if permit is None:
        return Resource("permit", str(permit_id)[:24])
    return Resource("permit", permit.id, owner=permit.owner, org=permit.org)


@service("workspace.build", resource=_permit_resource, transactional=False)
def build_extract(unit: Unit, permit_id: str) -> dict[str, Any]:
    """Build the extract of an active permit (its scope from the permit alone), or answer the one already
    built from the same inputs."""
    scope = permit_scope(unit.session, permit_id, datetime.now(UTC).date())
    if scope["state"] not in ("active", "suspended"):
        raise Refused(f"permit {permit_id} is {scope['state']}: no extract is built")
    result, built = build(unit.hub, scope["permit"], scope["document"], by=unit.actor.username)
    unit.details["built"] = built
    return result


@service("workspace.release", resource=_permit_resource)
def release_extract(unit: Unit, permit_id: str, reason: str) -> dict[str, Any]:
    """Release a held extract with a recorded reason (an operator judged its risk acceptable): its status
    becomes ``ready`` until the next rebuild measures the risk again."""
    if not reason or not reason.strip():
        raise BadInput("--reason: required")
    manifest = load_manifest(unit.hub, permit_id)
    if manifest is None:
        raise NotFound(f"no extract for permit {permit_id}")
    result = dict(manifest["result"])
    if result.get("status") != "held":
        raise Refused(f"the extract of permit {permit_id} is not held")
    result["status"] = "ready"
    result["released"] = {"by": unit.actor.username, "reason": reason.strip(),
                          "on": datetime.now(UTC).date().isoformat()}
    manifest["result"] = result
    save_manifest(unit.hub, permit_id, manifest)
    unit.note(reason=reason.strip())
    return result
