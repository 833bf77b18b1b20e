"""Lake services: the datasets and their versions as operators and producers see them; snapshots."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from guichet.errors import BadInput, Hidden, NotFound, Refused
from guichet.governance import Unit, query, service
from guichet.lake import owners, snapshots
from guichet.lake.atomic import check_dataset_name
from guichet.lake.producers import STAFF, producers_of
from guichet.lake.tables import DatasetVersion
from guichet.lake.versions import VersionInfo, versions_in


def _visible(unit: Unit) -> set[str] | None:
    """The producers whose datasets the actor may list (None: every dataset)."""
    return None if unit.actor.roles & STAFF else producers_of(unit.session, unit.actor)


def _owned(unit: Unit, name: str, infos: list[VersionInfo], own: set[str] | None) -> bool:
    """Whether the actor may see the dataset: staff always; a producer when the dataset is its own."""
    if own is None:
        return True
    entry = owners.entry_in(unit.session, name)
    if entry is not None:
        return entry.producer in own
    return any(v.producer in own for v in infos)


@query("lake.datasets")
def list_datasets(unit: Unit) -> list[dict[str, Any]]:
    """Every dataset with its versions, newest first (a producer: the datasets of its organisation's
    producers). Rejected and rolled-back versions are listed too: a producer must see what happened."""
    own = _visible(unit)
    names = sorted(set(unit.session.execute(select(DatasetVersion.dataset)).scalars()))
    out = []
    for name in names:
        infos = versions_in(unit.session, name, statuses=None)
        if not _owned(unit, name, infos, own):
            continue
        current = next((v for v in reversed(infos) if v.status == "published"), None)
        entry = owners.entry_in(unit.session, name)
        out.append({"dataset": name, "producer": entry.producer if entry else infos[-1].producer, "versions": len(infos),
                    "current": current.version if current else None,
                    "held": [v.version for v in infos if v.status == "held"],
                    "latest": infos[-1].detail()})
    unit.note(obj="lake:datasets", datasets=len(out))
    return out


@query("lake.dataset")
def dataset_versions(unit: Unit, dataset: str) -> list[dict[str, Any]]:
    """One dataset's versions, newest first, with their accounting, label and status history."""
    infos = versions_in(unit.session, dataset, statuses=None)
    if not infos:
        raise NotFound(f"dataset {dataset} does not exist")
    if not _owned(unit, dataset, infos, _visible(unit)):  # another producer's dataset is not revealed
        raise Hidden(f"dataset {dataset} does not exist", f"{unit.actor.username} is not of the dataset's producer")
    unit.note(obj=f"dataset:{dataset}")
    return [v.detail() | {"lineage": _lineage_summary(v)} for v in reversed(infos)]


def _lineage_summary(v: VersionInfo) -> dict[str, Any]:
    return {"files": [{"path": f["path"], "rows": f.get("rows"), "source": f.get("source"),
                       **({"year": f["year"]} if f.get("year") is not None else {})} for f in v.files],
            "columns": len(v.columns), "schema_version": v.schema_version, "input_file": v.input_file}


@service("lake.assign")
def assign_dataset(unit: Unit, dataset: str, producer: str, reason: str) -> dict[str, Any]:
    """Give a dataset to a producer: from then on only that producer's organisation (or an operator, in its
    name) deposits its versions. The reason is recorded with the audit event."""
    reason = " ".join((reason or "").split())
    if len(reason) < 10:
        raise BadInput("--reason: say why in at least 10 characters (recorded and audited)")
    entry = owners.assign(unit.session, check_dataset_name(dataset), producer, unit.actor.username)
    unit.note(obj=f"dataset:{dataset}", reason=reason, producer=producer)
    return {"dataset": entry.name, "producer": entry.producer, "assigned_by": entry.assigned_by}


@service("lake.snapshot")
def take_snapshot(unit: Unit) -> dict[str, Any]:
    """Record the current published versions and the person-index version under a new snapshot id."""
    snap = snapshots.take(unit.session, unit.actor.username)
    if not snap.versions:
        raise Refused("lake snapshot: no published version yet (deposit data first)")
    unit.note(obj=f"snapshot:{snap.snapshot}", datasets=len(snap.versions), person_index=snap.person_index)
    return snap.to_dict()


@query("lake.show")
def show_snapshot(unit: Unit, snapshot: str) -> dict[str, Any]:
    return snapshots.show(unit.session, snapshot).to_dict()

