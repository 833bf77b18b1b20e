"""Dataset versions as later stages see them. ``published_versions`` is the only way they find data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from guichet.deposit.tables import DatasetVersion
from guichet.hub import Hub

VISIBLE = ("published",)


@dataclass(frozen=True)
class VersionInfo:
    dataset: str
    version: int
    status: str
    rows: int
    files: list[dict[str, Any]]
    sha256: str
    deposit_id: str
    columns: list[str] = field(default_factory=list)
    schema_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "status": self.status, "rows": self.rows,
                "files": [f["path"] for f in self.files], "sha256": self.sha256}


def _info(v: DatasetVersion) -> VersionInfo:
    return VersionInfo(v.dataset, v.version, v.status, v.rows_total, list(v.files or []), v.input_sha256,
                       v.deposit_id, list((v.lineage or {}).get("columns", [])), v.schema_sha256)


def versions(hub: Hub, dataset: str, *, include_all: bool = False) -> list[VersionInfo]:
    with hub.store.read() as s:
        q = select(DatasetVersion).where(DatasetVersion.dataset == dataset)
        if not include_all:
            q = q.where(DatasetVersion.status.in_(VISIBLE))
        return [_info(v) for v in s.execute(q.order_by(DatasetVersion.version)).scalars()]


def published_versions(hub: Hub, dataset: str) -> list[VersionInfo]:
    """Every published version of ``dataset``, oldest first (held, pending, rejected ones are invisible)."""
    return versions(hub, dataset)


def current_version(hub: Hub, dataset: str) -> VersionInfo | None:
    """The latest published version: its ``files`` are the dataset's rows (append versions list all)."""
    found = published_versions(hub, dataset)
    return found[-1] if found else None


def datasets(hub: Hub) -> list[str]:
    with hub.store.read() as s:
        return sorted(set(s.execute(select(DatasetVersion.dataset)).scalars()))
