"""The version register as every stage reads it: plain ``VersionInfo`` records, never ORM rows.

``published_versions`` / ``current_version`` are how later stages find data: held, pending, rejected and
rolled-back versions are invisible to them. ``version`` opens any live version (quality runs on versions
that are not published yet: that is the point of gating). Functions named ``*_in`` work in the caller's
session (inside a service's transaction); the others open a read session of their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.errors import NotFound
from guichet.hub import Hub
from guichet.lake.tables import DatasetVersion, SchemaVersion
from guichet.schema import TableSchema, parse_schema

# The grades of the quality and utility label (EHDS Art 78) a version carries, lowest first: the quality
# stage computes them, every reader (the catalogue) compares them.
LABEL_GRADES = ("none", "bronze", "silver", "gold", "platinum")
VISIBLE = ("published",)
LIVE = ("published", "held")  # complete versions: published, or held by a gate or policy


@dataclass(frozen=True)
class VersionInfo:
    dataset: str
    version: int
    status: str
    rows: int  # rows of the version (an append version counts its earlier files too)
    files: list[dict[str, Any]]
    sha256: str  # the delivered file's
    deposit_id: str
    columns: list[str] = field(default_factory=list)
    schema_sha256: str = ""
    schema_version: int | None = None
    producer: str | None = None
    mode: str = "replace"
    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    input_file: str = ""
    delivery_id: str | None = None
    created_at: str = ""
    finished_at: str | None = None
    label: dict[str, Any] = field(default_factory=dict)  # the quality stage's label of this version
    status_history: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)  # [{path, key_id}]
    purged: bool = False
    sealed_with: str | None = None  # the deposit's ephemeral public key the sealed cells were sealed with

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "status": self.status, "rows": self.rows,
                "files": [f["path"] for f in self.files], "sha256": self.sha256}

    def detail(self) -> dict[str, Any]:
        """What an operator's or the producer's page shows of a version (never a row's values)."""
        return {**self.to_dict(), "dataset": self.dataset, "deposit_id": self.deposit_id, "producer": self.producer,
                "mode": self.mode, "rows_in": self.rows_in, "rows_accepted": self.rows_accepted,
                "rows_quarantined": self.rows_quarantined, "quarantine_reasons": dict(self.quarantine_reasons),
                "input_file": self.input_file, "delivery_id": self.delivery_id, "schema_version": self.schema_version,
                "created_at": self.created_at, "finished_at": self.finished_at,
                "grade": self.label.get("grade"), "checks": dict(self.label.get("checks", {})),
                "status_history": list(self.status_history)}


def info(v: DatasetVersion) -> VersionInfo:
    lineage = v.lineage or {}
    return VersionInfo(
        v.dataset, v.version, v.status, v.rows_total, list(v.files or []), v.input_sha256, v.deposit_id,
        list(lineage.get("columns", [])), v.schema_sha256, v.schema_version, v.producer, v.mode, v.rows_in,
        v.rows_accepted, v.rows_quarantined, dict(v.quarantine_reasons or {}), v.input_file, v.delivery_id,
        v.created_at.isoformat() if v.created_at else "", v.finished_at.isoformat() if v.finished_at else None,
        dict(v.label or {}), list(lineage.get("status_history", [])), list(lineage.get("quarantine", [])),
        v.purged_at is not None, lineage.get("sealed_with"))


def versions_in(session: Session, dataset: str, *, statuses: tuple[str, ...] | None = VISIBLE) -> list[VersionInfo]:
    """Versions of ``dataset``, oldest first; ``statuses=None`` for every one (pending, rejected...)."""
    q = select(DatasetVersion).where(DatasetVersion.dataset == dataset)
    if statuses is not None:
        q = q.where(DatasetVersion.status.in_(statuses))
    return [info(v) for v in session.execute(q.order_by(DatasetVersion.version)).scalars()]


def versions(hub: Hub, dataset: str, *, include_all: bool = False) -> list[VersionInfo]:
    with hub.store.read() as s:
        return versions_in(s, dataset, statuses=None if include_all else VISIBLE)


def published_versions(hub: Hub, dataset: str) -> list[VersionInfo]:
    """Every published version of ``dataset``, oldest first (held, pending, rejected ones are invisible)."""
    return versions(hub, dataset)


def current_version(hub: Hub, dataset: str) -> VersionInfo | None:
    """The latest published version: its ``files`` are the dataset's rows (append versions list all)."""
    found = published_versions(hub, dataset)
    return found[-1] if found else None


def current_in(session: Session, dataset: str) -> VersionInfo | None:
    found = versions_in(session, dataset)
    return found[-1] if found else None


def datasets(hub: Hub) -> list[str]:
    """Every dataset the register has ever held a version of."""
    with hub.store.read() as s:
        return sorted(set(s.execute(select(DatasetVersion.dataset)).scalars()))


def published_datasets(hub: Hub) -> dict[str, VersionInfo]:
    """The current published version of every dataset that has one."""
    with hub.store.read() as s:
        rows = s.execute(select(DatasetVersion).where(DatasetVersion.status.in_(VISIBLE))
                         .order_by(DatasetVersion.dataset, DatasetVersion.version)).scalars()
        return {v.dataset: info(v) for v in rows}


def all_versions(hub: Hub, statuses: tuple[str, ...] = LIVE) -> list[VersionInfo]:
    """Every version of every dataset in ``statuses``, by dataset then version."""
    with hub.store.read() as s:
        rows = s.execute(select(DatasetVersion).where(DatasetVersion.status.in_(statuses))
                         .order_by(DatasetVersion.dataset, DatasetVersion.version)).scalars()
        return [info(v) for v in rows]


def version_in(session: Session, dataset: str, version: int | None = None, *,
               statuses: tuple[str, ...] = LIVE) -> VersionInfo:
    """One version of ``dataset`` (the latest of ``statuses`` when ``version`` is None)."""
    q = select(DatasetVersion).where(DatasetVersion.dataset == dataset)
    if version is None:
        q = q.where(DatasetVersion.status.in_(statuses)).order_by(DatasetVersion.version.desc())
    else:
        q = q.where(DatasetVersion.version == version)
    v = session.execute(q.limit(1)).scalar_one_or_none()
    if v is None:
        what = f"version {version}" if version is not None else f"{' or '.join(statuses)} version"
        raise NotFound(f"dataset {dataset}: no {what}")
    return info(v)


def version(hub: Hub, dataset: str, version: int | None = None, *, statuses: tuple[str, ...] = LIVE) -> VersionInfo:
    with hub.store.read() as s:
        return version_in(s, dataset, version, statuses=statuses)


def by_deposit_in(session: Session, deposit_id: str) -> VersionInfo:
    v = session.execute(select(DatasetVersion).where(DatasetVersion.deposit_id == deposit_id)).scalar_one_or_none()
    if v is None:
        raise NotFound(f"deposit {deposit_id} does not exist")
    return info(v)


def schema_of(hub: Hub, dataset: str, schema_version: int | None) -> TableSchema | None:
    """The Table Schema a version was deposited under (registered with the version)."""
    if schema_version is None:
        return None
    with hub.store.read() as s:
        body = s.execute(select(SchemaVersion.body).where(SchemaVersion.dataset == dataset,
                                                          SchemaVersion.version == schema_version)).scalar_one_or_none()
    return parse_schema(json.loads(body), f"schema of {dataset}") if body else None


def set_label(session: Session, dataset: str, version: int, label: dict[str, Any]) -> None:
    """Record a version's quality label (EHDS Art 78), as the quality stage computed it."""
    row = session.execute(select(DatasetVersion).where(DatasetVersion.dataset == dataset,
                                                       DatasetVersion.version == version)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"dataset {dataset}: no version {version}")
    row.label = dict(label)
