"""``workspace.build``: a permit's extract, built from its signed document and the lake's published versions
(idempotent: the same permit, versions, person index and opt-out register answer the same, nothing rebuilt)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.errors import BadInput, NotFound, Refused
from guichet.governance import Resource, Unit, query, service
from guichet.permits.state import open_suspension, permit_scope
from guichet.permits.tables import Permit, PermitRevision
from guichet.workspace import build as extract
from guichet.workspace import extras
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
    if scope["state"] not in ("pending", "active", "suspended"):  # prepared before its first day too
        raise Refused(f"permit {permit_id} is {scope['state']}: no extract is built")
    if open_suspension(unit.session, permit_id) is not None:  # prepared while attestations are missing, not this
        raise Refused(f"permit {permit_id} is suspended by a decision: no extract is built until it is reinstated")
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


def _named(unit: Unit, scope: dict[str, Any]) -> bool:
    return any(p.get("name") == unit.actor.username for p in scope["document"].get("people", []))


def _scope(unit: Unit, permit_id: str) -> dict[str, Any]:
    return permit_scope(unit.session, permit_id, datetime.now(UTC).date())


@service("workspace.dummy", resource=_permit_resource)
def dummy_extract(unit: Unit, permit_id: str) -> dict[str, Any]:
    """A dummy extract: the permit's released tables and columns filled with synthetic values (no real row),
    unencrypted under the workspace's ``dummy/`` folder — for a person named on the permit (even before their
    access opens) or an operator; not once the permit has ended."""
    scope = _scope(unit, permit_id)
    if not unit.actor.has("operator") and not _named(unit, scope):
        raise Refused(f"{unit.actor.username} is not named on permit {permit_id}")
    if scope["state"] in ("expired", "revoked"):
        raise Refused(f"permit {permit_id} is {scope['state']}: no dummy extract")
    if scope["document"].get("pseudonymisation") == "anonymised":
        raise Refused(f"permit {permit_id} is for anonymised data: no microdata extract, no dummy")
    return extras.write_dummy(unit.hub, extract.Plan.of(permit_id, scope["document"]))


@query("workspace.rerun", resource=_permit_resource)
def rerun_recipe(unit: Unit, permit_id: str, version: int | None = None) -> dict[str, Any]:
    """Re-run an extract version's recorded recipe against its recorded snapshot (the permit's document of
    that revision, the lake versions read) and report whether it reproduces the same extract. It decrypts
    the extract: the permit's access must be open (for a researcher: their own)."""
    scope = _scope(unit, permit_id)
    extract.check_access(unit.hub, permit_id, None if unit.actor.has("operator") else unit.actor.username)
    manifest = load_manifest(unit.hub, permit_id, version)
    if manifest is None:
        raise NotFound(f"no extract version {version or 'latest'} for permit {permit_id}")
    revision = manifest.get("document_revision")
    row = unit.session.execute(select(PermitRevision.document).where(
        PermitRevision.permit_id == permit_id, PermitRevision.revision == revision)).scalar_one_or_none()
    document = dict(row) if row is not None else scope["document"]
    return extract.rerun(unit.hub, permit_id, document, version)


@service("workspace.prune", resource=_permit_resource)
def prune_versions(unit: Unit, permit_id: str) -> dict[str, Any]:
    """Remove the extract versions no longer needed (not the latest, no recorded output made from them)."""
    result = extract.prune(unit.hub, permit_id)
    unit.note(removed=result["removed"], kept=result["kept"])
    return result


@service("workspace.bring", resource=_permit_resource, unguarded=("path",))
def bring_dataset(unit: Unit, permit_id: str, path: str, name: str, description: str = "") -> dict[str, Any]:
    """Add a dataset an applicant brings to the workspace (a person named on the permit, while its access is
    open): validated, encrypted under the project's key beside the extract, listed in its manifest and
    dictionary."""
    from pathlib import Path

    scope = _scope(unit, permit_id)
    if not _named(unit, scope):
        raise Refused(f"{unit.actor.username} is not named on permit {permit_id}")
    extract.check_access(unit.hub, permit_id, unit.actor.username)
    result = extras.bring(unit.hub, unit.session, extract.Plan.of(permit_id, scope["document"]), Path(path), name,
                          unit.actor.username, description)
    unit.note(name=name, rows=result["rows"])
    return result
