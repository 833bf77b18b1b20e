"""Retracting or superseding a published version, with a reason that the catalogue shows to everyone.

A retracted version is withdrawn from use: its status becomes ``held`` (invisible to
``published_versions()``, like a version held by quality), and the note says why. A superseded version
stays readable (extracts already made from it stay reproducible); the note names the version replacing it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from guichet.catalogue.model import placeholder_in
from guichet.catalogue.store import now
from guichet.catalogue.tables import CatalogueVersionNote
from guichet.errors import BadInput, Conflict, NotFound, Refused
from guichet.governance import Unit
from guichet.lake.producers import producers_of
from guichet.lake.status import change_status
from guichet.lake.versions import version_in, versions_in


def record_note(unit: Unit, dataset: str, version: int, reason: str, replaced_by: int | None) -> dict[str, Any]:
    reason = " ".join((reason or "").split())
    if len(reason) < 10:
        raise BadInput("--reason: say why in at least 10 characters (it is published)")
    if placeholder_in(reason):
        raise BadInput("--reason: placeholder value refused")
    s = unit.session
    try:
        v = version_in(s, dataset, version)
    except NotFound:
        raise NotFound(f"dataset {dataset} has no version {version}") from None
    if not (unit.actor.roles & {"operator", "system"}) and v.producer not in producers_of(s, unit.actor):
        raise Refused(f"catalogue.retract: {unit.actor.username} is not of the producer of {dataset}")
    if v.status != "published":
        raise Conflict(f"dataset {dataset} version {version} is {v.status}, not published")
    if s.execute(select(CatalogueVersionNote).where(CatalogueVersionNote.dataset == dataset,
                                                    CatalogueVersionNote.version == version)).scalar_one_or_none():
        raise Conflict(f"dataset {dataset} version {version} is already retracted or superseded")
    action = "retracted"
    if replaced_by is not None:
        newer = next((n for n in versions_in(s, dataset) if n.version == replaced_by), None)
        if newer is None or replaced_by <= version:
            raise BadInput(f"--replaced-by: dataset {dataset} has no later published version {replaced_by}")
        action = "superseded"
    else:
        change_status(s, dataset, version, "held", why=f"retracted by the producer: {reason}", expected=("published",))
    at = now()
    s.add(CatalogueVersionNote(dataset=dataset, version=version, action=action, reason=reason, replaced_by=replaced_by,
                               by=unit.actor.username, at=at))
    return {"dataset": dataset, "version": version, "action": action, "reason": reason, "replaced_by": replaced_by,
            "at": at.isoformat()}


def notes_for(unit_session: Any, datasets: list[str]) -> list[dict[str, Any]]:
    rows = unit_session.execute(select(CatalogueVersionNote).where(CatalogueVersionNote.dataset.in_(datasets))
                                .order_by(CatalogueVersionNote.at)).scalars()
    return [{"dataset": n.dataset, "version": n.version, "action": n.action, "reason": n.reason,
             "replaced_by": n.replaced_by, "by": n.by, "at": n.at.isoformat()} for n in rows]
