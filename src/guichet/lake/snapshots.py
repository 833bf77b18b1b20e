"""Snapshots: a named set of published versions and of the parts other stages register (the person index).

An extract's recipe or an export names a snapshot, so that its result can be recomputed later on exactly
the same data. A stage whose own register belongs in a snapshot registers a *part* at import time of a
module listed in ``PART_MODULES`` (the linkage stage registers the person index)::

    from guichet.lake.snapshots import register_part
    register_part("person_index", current_index)

A part function receives the read session and answers ``{"version": N, "inputs": {dataset: version}}``
(the versions it was computed from), or None when the stage has nothing yet.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.errors import NotFound
from guichet.lake.atomic import now
from guichet.lake.tables import DatasetVersion, Snapshot

Part = Callable[[Session], dict[str, Any] | None]
_PARTS: dict[str, Part] = {}
PART_MODULES: tuple[str, ...] = ("guichet.linkage.snapshot",)


def register_part(name: str, fn: Part) -> None:
    if name in _PARTS and _PARTS[name] is not fn:
        raise RuntimeError(f"two snapshot parts named {name!r}")
    _PARTS[name] = fn


def parts() -> dict[str, Part]:
    for module in PART_MODULES:
        import_module(module)
    return dict(_PARTS)


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot: str
    created_at: str
    created_by: str
    versions: dict[str, int]
    parts: dict[str, Any]

    @property
    def person_index(self) -> int | None:
        part = self.parts.get("person_index")
        return int(part["version"]) if part else None

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot, "versions": dict(self.versions), "person_index": self.person_index,
                "created_at": self.created_at, "created_by": self.created_by, "parts": dict(self.parts)}


def _info(row: Snapshot) -> SnapshotInfo:
    return SnapshotInfo(row.id, row.created_at.isoformat(), row.created_by, dict(row.versions), dict(row.parts))


def current_versions(session: Session) -> dict[str, int]:
    """The latest published version of every dataset that has one."""
    out: dict[str, int] = {}
    for dataset, version in session.execute(select(DatasetVersion.dataset, DatasetVersion.version)
                                            .where(DatasetVersion.status == "published")
                                            .order_by(DatasetVersion.dataset, DatasetVersion.version)):
        out[dataset] = int(version)
    return out


def take(session: Session, by: str) -> SnapshotInfo:
    """Record the current published versions and every registered part under a new id."""
    found = {name: fn(session) for name, fn in sorted(parts().items())}
    row = Snapshot(id="sn" + secrets.token_hex(8), created_at=now(), created_by=by,
                   versions=current_versions(session), parts={k: v for k, v in found.items() if v is not None})
    session.add(row)
    session.flush()
    return _info(row)


def show(session: Session, snapshot: str) -> SnapshotInfo:
    row = session.get(Snapshot, snapshot)
    if row is None:
        raise NotFound(f"snapshot {snapshot} does not exist")
    return _info(row)


def listing(session: Session) -> list[SnapshotInfo]:
    return [_info(r) for r in session.execute(select(Snapshot).order_by(Snapshot.created_at)).scalars()]
