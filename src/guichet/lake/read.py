"""Reading a version of the lake: its encrypted Parquet files bound in an engine with their keys.

``open_version`` binds a version's files (an append version lists its earlier files too) as one temporary
view and answers a ``Relation``; ``bind_files`` binds them one by one for readers that need each file's
own name (linkage names rows by their delivered file). Keys are unwrapped by the custodian and given to
the engine under a name, never written anywhere. Today the engine is DuckDB; a Spark engine binds the
same ``parquet_source`` through the same ``Engine.bind`` seam.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from sqlglot import exp

from guichet.engine import Engine, SourceBinding, parquet_source
from guichet.errors import NotFound
from guichet.hub import Hub
from guichet.lake.keys import Protection, load_key, protection_for, read_file
from guichet.lake.versions import LIVE, VISIBLE, VersionInfo, schema_of
from guichet.lake.versions import version as find_version
from guichet.schema import TableSchema


@dataclass(frozen=True)
class BoundFile:
    path: Path
    key_name: str  # the engine's name of the file's key
    view: str  # the file alone, as a view
    source: str  # the delivered file's label (``delivery-01/ER_PRS_F``)


@dataclass(frozen=True)
class Relation:
    """A version opened in an engine: query ``view``."""

    dataset: str
    version: int
    view: str
    info: VersionInfo
    schema: TableSchema | None
    files: list[BoundFile] = field(default_factory=list)


@dataclass(frozen=True)
class KeyedFile:
    path: Path
    key_name: str  # the engine's name of the file's key (registered with the engine)
    source: str  # the delivered file's label (``delivery-01/ER_PRS_F``)
    relative: str  # the path under the hub's home, as the register records it
    key_id: str


def keyed_files(hub: Hub, engine: Engine, info: VersionInfo, protection: Protection | None = None) -> list[KeyedFile]:
    """A version's files with their keys registered with the engine (for readers that bind files themselves)."""
    if not info.files:
        raise NotFound(f"dataset {info.dataset} version {info.version}: no files (still pending?)")
    protection = protection or protection_for(hub)
    out = []
    for f in info.files:
        key = load_key(hub, protection, str(f["key_id"]))
        engine.add_parquet_key(key.engine_name, key.key)
        out.append(KeyedFile(hub.home / str(f["path"]), key.engine_name, str(f.get("source", "")), str(f["path"]),
                             str(f["key_id"])))
    return out


def bind_files(hub: Hub, engine: Engine, info: VersionInfo, prefix: str,
               protection: Protection | None = None) -> list[BoundFile]:
    """Bind each file of a version as its own view ``{prefix}_{n}``, its key registered with the engine."""
    out = []
    for j, f in enumerate(keyed_files(hub, engine, info, protection)):
        name = f"{prefix}_{j}"
        engine.bind(name, parquet_source([f.path], f.key_name),
                    SourceBinding(name, "parquet", f.relative, {"key_id": f.key_id}))
        out.append(BoundFile(f.path, f.key_name, name, f.source))
    return out


def _view_name(dataset: str, version: int) -> str:
    return "v_" + hashlib.sha256(f"{dataset}\0{version}".encode()).hexdigest()[:12]


def open_info(hub: Hub, engine: Engine, info: VersionInfo, *, view: str | None = None,
              protection: Protection | None = None) -> Relation:
    """Bind ``info``'s files as one temporary view (the union of its files, in their order)."""
    name = view or _view_name(info.dataset, info.version)
    files = bind_files(hub, engine, info, name, protection)
    union: exp.Query = exp.select("*").from_(files[0].view)
    for f in files[1:]:
        union = exp.union(union, exp.select("*").from_(f.view), distinct=False)
    engine.execute(exp.Create(this=exp.to_table(name), kind="VIEW", replace=True,
                              properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=union),
                   purpose=f"open {info.dataset} v{info.version}", record=False)
    return Relation(info.dataset, info.version, name, info, schema_of(hub, info.dataset, info.schema_version), files)


def open_version(hub: Hub, engine: Engine, dataset: str, version: int | None = None, *, view: str | None = None,
                 published_only: bool = True) -> Relation:
    """Open a version of ``dataset`` (by default the latest published one).

    ``published_only=False`` opens held versions too: the gates (quality) read a version before it is
    published. Every stage that reads data for use — catalogue figures, linkage, extracts — keeps the
    default."""
    statuses = VISIBLE if published_only else LIVE
    info = find_version(hub, dataset, version, statuses=statuses)
    if info.status not in statuses:
        raise NotFound(f"dataset {dataset} version {info.version} is {info.status}, not {' or '.join(statuses)}")
    return open_info(hub, engine, info, view=view)


def read_quarantine(hub: Hub, info: VersionInfo) -> pa.Table | None:
    """A version's quarantined rows (row number, rules, the cells the hub may read, sealed identifier cells),
    or None when the retention period purged them."""
    if info.purged:
        return None
    protection = protection_for(hub)
    tables = [read_file(str(hub.home / part["path"]), load_key(hub, protection, part["key_id"]))
              for part in info.quarantine]
    if not tables:
        return None
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]
