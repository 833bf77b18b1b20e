"""Opening a dataset version of the lake as a view in an engine (keys through the custodian's protection).

Built on what the deposit stage records: a version's ``files`` (path, key id — append versions list all
their files) and its schema version. Any status can be opened here — quality runs on versions that are not
published yet (that is the point of gating); later stages use ``catalogue.published_versions()`` only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlglot import exp

from guichet.deposit.protection import protection_for
from guichet.deposit.run import load_key
from guichet.deposit.tables import DatasetVersion, SchemaVersion
from guichet.engine import Engine, SourceBinding, parquet_source
from guichet.errors import NotFound
from guichet.hub import Hub
from guichet.quality.runner import TableSource, column_types
from guichet.schema import TableSchema, parse_schema


@dataclass(frozen=True)
class VersionRow:
    dataset: str
    version: int
    status: str
    files: list[dict[str, object]]
    schema_version: int | None
    created: str
    quarantined: dict[str, int]


def version_row(hub: Hub, dataset: str, version: int | None) -> VersionRow:
    """A version of ``dataset`` (the latest published, held or pending with files when ``version`` is None)."""
    with hub.store.read() as s:
        q = select(DatasetVersion).where(DatasetVersion.dataset == dataset)
        if version is None:
            q = q.where(DatasetVersion.status.in_(("published", "held"))).order_by(DatasetVersion.version.desc())
        else:
            q = q.where(DatasetVersion.version == version)
        v = s.execute(q.limit(1)).scalar_one_or_none()
        if v is None:
            what = f"version {version}" if version is not None else "a published or held version"
            raise NotFound(f"dataset {dataset}: no {what}")
        return VersionRow(v.dataset, v.version, v.status, list(v.files or []), v.schema_version,
                          v.created_at.isoformat() if v.created_at else "", dict(v.quarantine_reasons or {}))


def schema_of(hub: Hub, dataset: str, schema_version: int | None) -> TableSchema | None:
    if schema_version is None:
        return None
    with hub.store.read() as s:
        body = s.execute(select(SchemaVersion.body).where(SchemaVersion.dataset == dataset,
                                                          SchemaVersion.version == schema_version)).scalar_one_or_none()
    return parse_schema(json.loads(body), f"schema of {dataset}") if body else None


def open_version(hub: Hub, engine: Engine, dataset: str, version: int | None = None, *,
                 view: str | None = None) -> TableSource:
    """Bind a version's encrypted Parquet files as one view; returns it as a ``TableSource``."""
    row = version_row(hub, dataset, version)
    if not row.files:
        raise NotFound(f"dataset {dataset} version {row.version}: no files (still pending?)")
    protection = protection_for(hub)
    name = view or f"v_{abs(hash((dataset, row.version))) % 10**8}"
    parts = []
    for j, f in enumerate(row.files):
        key = load_key(hub, protection, str(f["key_id"]))
        engine.add_parquet_key(key.engine_name, key.key)
        part = f"{name}_{j}"
        engine.bind(part, parquet_source([hub.home / str(f["path"])], key.engine_name),
                    SourceBinding(part, "parquet", str(f["path"]), {"key_id": str(f["key_id"])}))
        parts.append(part)
    union: exp.Expression = exp.select("*").from_(parts[0])
    for part in parts[1:]:
        union = exp.union(union, exp.select("*").from_(part), distinct=False)
    engine.execute(exp.Create(this=exp.to_table(name), kind="VIEW", replace=True,
                              properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=union),
                   purpose=f"open {dataset} v{row.version}", record=False)
    return TableSource(dataset, row.version, name, schema_of(hub, dataset, row.schema_version),
                       column_types(engine, name))
