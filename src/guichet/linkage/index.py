"""The person index as an encrypted, versioned dataset (``lake/linkage/vNNNN/``).

A run writes three encrypted Parquet files (PyArrow, uniform encryption, one data key per file from the
custodian): ``index.parquet`` (every source key → person id, method, confidence — hub pseudonyms inside,
hence encrypted and rotated), ``links.parquet`` (every delivered row → person id, method, or why not) and
``deaths.parquet`` (the three death methods' links, for evaluation). Atomic like a deposit: a *pending*
run row, files written in a staging folder, renamed, then the row marked *committed*; a pending run left
by a crash is rolled back (folder removed) by the next run.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select
from sqlglot import exp

from guichet.custodian import custodian_for, read_encrypted_parquet, write_encrypted_parquet
from guichet.engine import Engine
from guichet.errors import NotFound
from guichet.hub import Hub
from guichet.linkage.pipeline import INDEX_SCHEMA
from guichet.linkage.tables import LinkageRun

FOLDER = "linkage"
FILES = {
    "index": "SELECT kind, key, person_id, method, confidence FROM lk_index",
    "links": "SELECT _table, _row, logical, person_id, method, confidence, reason FROM lk_links",
    "deaths": """SELECT 'guichet' AS method, cert_table, cert_row, person_id, p FROM lk_death_g
                 UNION ALL SELECT 'baseline_a', cert_table, cert_row, person_id, p FROM lk_death_a
                 UNION ALL SELECT 'baseline_b', cert_table, cert_row, person_id, p FROM lk_death_b""",
    "review": "SELECT * FROM lk_review",
}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def latest(hub: Hub) -> LinkageRun | None:
    with hub.store.read() as s:
        run = s.execute(select(LinkageRun).where(LinkageRun.status == "committed")
                        .order_by(LinkageRun.version.desc()).limit(1)).scalar_one_or_none()
        if run is not None:
            s.expunge(run)
        return run


def require_latest(hub: Hub) -> LinkageRun:
    run = latest(hub)
    if run is None:
        raise NotFound("no linkage run yet (guichet link run)")
    return run


def recover(hub: Hub) -> int:
    """Roll back pending runs (a crash between staging and commit): their folders go, the rows say so."""
    rolled = 0
    with hub.store.write() as s:
        for run in s.execute(select(LinkageRun).where(LinkageRun.status == "pending")).scalars():
            shutil.rmtree(hub.home / run.folder, ignore_errors=True)
            shutil.rmtree(hub.home / (run.folder + ".staging"), ignore_errors=True)
            run.status = "rolled_back"
            rolled += 1
    return rolled


def begin(hub: Hub, actor: str, origin: str) -> tuple[int, str]:
    with hub.store.write() as s:
        version = int(s.execute(select(func.coalesce(func.max(LinkageRun.version), 0))).scalar_one()) + 1
        folder = f"lake/{FOLDER}/v{version:04d}"
        s.add(LinkageRun(version=version, status="pending", actor=actor, origin=origin[:400], persons=0,
                         next_number=0, folder=folder, files={}, summary={}, lineage={}, created_at=now()))
    return version, folder


def _batches(engine: Engine, sql: str, purpose: str) -> Iterator[pa.RecordBatch]:
    from guichet.linkage.sqlkit import build

    yield from engine.batches(build(sql), purpose=purpose)


def write_files(hub: Hub, engine: Engine, folder: str) -> dict[str, Any]:
    custodian = custodian_for(hub.config)
    staging = hub.home / (folder + ".staging")
    staging.mkdir(parents=True, exist_ok=False)
    os.chmod(staging, 0o700)
    files: dict[str, Any] = {}
    for name, sql in FILES.items():
        key = custodian.new_data_key("lake")
        schema = engine.execute(exp.Describe(this=_parse(sql)), purpose=f"schema of {name}").fetchall()
        arrow_schema = pa.schema([(str(r[0]), _arrow_type(str(r[1]))) for r in schema])
        rows = write_encrypted_parquet((b.cast(arrow_schema) for b in _batches(engine, sql, f"write {name}")),
                                       staging / f"{name}.parquet", key.key, schema=arrow_schema)
        files[name] = {"path": f"{folder}/{name}.parquet", "key_id": key.key_id, "wrapped": key.wrapped,
                       "rows": rows}
    os.replace(staging, hub.home / folder)
    return files


def _parse(sql: str) -> exp.Expression:
    from guichet.linkage.sqlkit import build

    return build(sql)


def _arrow_type(duck: str) -> pa.DataType:
    duck = duck.upper()
    if duck.startswith("DECIMAL"):
        return pa.float64()
    return {"BIGINT": pa.int64(), "INTEGER": pa.int64(), "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(),
            "DATE": pa.date32()}.get(duck, pa.string())


def commit(hub: Hub, version: int, *, files: dict[str, Any], persons: int, next_number: int,
           summary: dict[str, Any], lineage: dict[str, Any]) -> None:
    with hub.store.write() as s:
        run = s.execute(select(LinkageRun).where(LinkageRun.version == version)).scalar_one()
        run.status, run.files, run.persons, run.next_number = "committed", files, persons, next_number
        run.summary, run.lineage = summary, lineage


def read_file(hub: Hub, run: LinkageRun, name: str, columns: list[str] | None = None) -> pa.Table:
    meta = run.files[name]
    key = custodian_for(hub.config).unwrap(meta["key_id"], meta["wrapped"])
    return read_encrypted_parquet(hub.home / meta["path"], key, columns=columns)


def previous_index(hub: Hub) -> tuple[pa.Table | None, int]:
    run = latest(hub)
    if run is None:
        return None, 1
    table = read_file(hub, run, "index").cast(INDEX_SCHEMA)
    return table, run.next_number


def write_index(hub: Hub, run: LinkageRun, table: pa.Table) -> None:
    """Rewrite a run's index file in place (rotation), under a fresh data key, atomically."""
    meta = dict(run.files["index"])
    key = custodian_for(hub.config).new_data_key("lake")
    path = hub.home / meta["path"]
    write_encrypted_parquet(table, path, key.key)
    meta.update(key_id=key.key_id, wrapped=key.wrapped, rows=table.num_rows)
    with hub.store.write() as s:
        row = s.execute(select(LinkageRun).where(LinkageRun.version == run.version)).scalar_one()
        row.files = {**row.files, "index": meta}


