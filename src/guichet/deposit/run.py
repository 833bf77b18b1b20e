"""The deposit of a file or a whole delivery, from pending version to commit (called by the service)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from guichet import __version__
from guichet.custodian.datakeys import record_data_key, wrapped_key
from guichet.custodian.keys import DataKey
from guichet.deposit.atomic import (
    check_dataset_name,
    crash_point,
    dataset_locks,
    lake_dir,
    now,
    quarantine_dir,
    recover,
    version_dirname,
)
from guichet.deposit.model import DepositRequest, DepositResult, TableRequest
from guichet.deposit.pipeline import Reference, StagedTable, TableJob, TableStager, check_schema, inspect
from guichet.deposit.protection import FileKey, Protection, protection_for
from guichet.deposit.sealing import new_key_pair
from guichet.deposit.status import change_status, quarantine_policy
from guichet.deposit.structure import FileShape, NotATable, RowsDisagree, read_regular
from guichet.deposit.tables import DatasetVersion, Producer, SchemaVersion
from guichet.engine import Engine, EngineSettings, SourceBinding, parquet_source
from guichet.errors import BadInput, Conflict, Refused
from guichet.governance.actors import Actor
from guichet.hub import Hub
from guichet.schema import TableSchema, breaking_changes, load_schema, parse_schema

log = logging.getLogger("guichet.deposit")


@dataclass
class Prepared:
    req: TableRequest
    job: TableJob
    shape: FileShape
    producer_pem: str
    version_row_id: int | None = None
    version: int | None = None
    schema_version: int | None = None
    staged: StagedTable | None = None
    unchanged: DepositResult | None = None
    deposit_id: str = ""
    status: str = "pending"
    failure: str | None = None  # --partial: why this table was left out


def _producer_key(hub: Hub, actor: Actor, name: str | None) -> str:
    if name is None:
        return new_key_pair()[1]  # no producer: the sealed cells can be opened by nobody
    with hub.store.read() as s:
        p = s.execute(select(Producer).where(Producer.name == name)).scalar_one_or_none()
    if p is None:
        raise Refused(f"producer {name} is not registered (guichet producer add {name} --org ORG)")
    if not (actor.roles & {"operator", "system"}) and actor.org != p.org:
        raise Refused(f"deposit: {actor.username} ({actor.org}) may not deposit for producer {name} ({p.org})")
    return p.public_key


def _identifiers(hub: Hub, req: TableRequest, schema: TableSchema) -> dict[str, Any]:
    roles = {}
    for role in req.identifiers:
        if role.kind != "quasi" and role.state == "clear" and not hub.config.allow_clear_identifiers:
            raise Refused(f"{req.file.name}: identifier {role.column} is in the clear; this hub accepts only "
                          "pseudonyms (run 'guichet producer pseudonymise' first)")
        if role.column not in schema.field_names:
            if role.kind != "quasi" and role.state == "clear":
                continue  # the pseudonym column does not exist yet in a clear file
            raise BadInput(f"{req.file.name}: identifier column {role.column} is not in the schema")
        roles[role.column] = role
    return roles


def _schema_version(hub: Hub, dataset: str, schema: TableSchema) -> int:
    """Register the schema for the dataset; a breaking change needs a new declared version."""
    with hub.store.write() as s:
        last = s.execute(select(SchemaVersion).where(SchemaVersion.dataset == dataset)
                         .order_by(SchemaVersion.version.desc()).limit(1)).scalar_one_or_none()
        if last is not None and last.sha256 == schema.sha256:
            return last.version
        if last is not None:
            old = parse_schema(json.loads(last.body), f"schema of {dataset} v{last.version}")
            problems = breaking_changes(old, schema)
            if problems and (schema.declared_version is None or schema.declared_version == last.declared_version):
                raise Conflict(f"schema of {dataset}: breaking change ({problems[0]}); declare a new \"version\" "
                               "in the schema to make it a new schema version")
        version = (last.version + 1) if last else 1
        s.add(SchemaVersion(dataset=dataset, version=version, sha256=schema.sha256,
                            declared_version=schema.declared_version,
                            body=json.dumps(schema.raw, sort_keys=True, ensure_ascii=False), created_at=now()))
        return version


def _unchanged(hub: Hub, p: Prepared, mode: str) -> DepositResult | None:
    with hub.store.read() as s:
        v = s.execute(select(DatasetVersion).where(
            DatasetVersion.dataset == p.job.dataset, DatasetVersion.input_sha256 == p.shape.sha256,
            DatasetVersion.schema_sha256 == p.job.schema.sha256, DatasetVersion.mode == mode,
            DatasetVersion.status.in_(("published", "held"))).order_by(DatasetVersion.version.desc())
        ).scalars().first()
    if v is None:
        return None
    return DepositResult(v.deposit_id, v.dataset, v.version, "unchanged", v.rows_in, v.rows_accepted,
                         v.rows_quarantined, dict(v.quarantine_reasons), v.input_sha256)


def _prepare(hub: Hub, actor: Actor, req: TableRequest, request: DepositRequest) -> Prepared:
    check_dataset_name(req.dataset)
    read_regular(req.schema_path)  # a pipe would block the schema's reader
    schema = load_schema(req.schema_path)
    check_schema(schema, str(req.schema_path.name))
    if req.delimiter or req.encoding:
        from dataclasses import replace

        from guichet.schema.load import ENCODINGS

        enc = ENCODINGS.get(str(req.encoding).lower()) if req.encoding else schema.encoding
        schema = replace(schema, delimiter=req.delimiter or schema.delimiter, encoding=enc)
    pem = _producer_key(hub, actor, req.producer)
    roles = _identifiers(hub, req, schema)
    job = TableJob(req.name, req.dataset, req.file, schema, roles, req.label or req.file.name)
    shape = inspect(job)
    if req.expected_sha256 and req.expected_sha256 != shape.sha256:
        raise BadInput(f"{req.file.name}: its SHA-256 differs from the manifest's (changed after delivery?)")
    return Prepared(req, job, shape, pem)


def _order(prepared: list[Prepared]) -> list[Prepared]:
    """Referenced tables first, so that foreign keys are checked against their accepted rows."""
    by_name = {p.job.name: p for p in prepared}
    done: list[Prepared] = []
    seen: set[str] = set()

    def visit(p: Prepared, path: tuple[str, ...]) -> None:
        if p.job.name in seen or p.job.name in path:
            return
        for fk in p.job.schema.foreign_keys:
            ref = by_name.get(fk.resource)
            if ref is not None and ref is not p:
                visit(ref, (*path, p.job.name))
        seen.add(p.job.name)
        done.append(p)

    for p in prepared:
        visit(p, ())
    return done


def _published_reference(hub: Hub, engine: Engine, protection: Protection, resource: str, i: int) -> Reference | None:
    from guichet.catalogue.versions import current_version

    v = current_version(hub, resource)
    if v is None or not v.files:
        return None
    view = f"pub_{i}"
    views = []
    for j, f in enumerate(v.files):
        key = load_key(hub, protection, f["key_id"])
        engine.add_parquet_key(key.engine_name, key.key)
        name = f"{view}_{j}"
        engine.bind(name, parquet_source([hub.home / f["path"]], key.engine_name),
                    SourceBinding(name, "parquet", f["path"], {"key_id": f["key_id"]}))
        views.append(name)
    from sqlglot import exp

    union: exp.Expression = exp.select("*").from_(views[0])
    for name in views[1:]:
        union = exp.union(union, exp.select("*").from_(name), distinct=False)
    engine.execute(exp.Create(this=exp.to_table(view), kind="VIEW", replace=True,
                              properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=union),
                   purpose=f"published {resource} v{v.version}", record=False)
    return Reference(view, tuple(v.columns))


def load_key(hub: Hub, protection: Protection, key_id: str) -> FileKey:
    with hub.store.read() as s:
        wrapped = wrapped_key(s, key_id)
    return FileKey(key_id, protection.unwrap(key_id, wrapped))


def run_deposit(hub: Hub, actor: Actor, request: DepositRequest) -> list[DepositResult]:
    protection = protection_for(hub)
    recover(hub)
    prepared: list[Prepared] = []
    failures: list[DepositResult] = []
    for req in request.tables:
        try:
            prepared.append(_prepare(hub, actor, req, request))
        except NotATable as exc:
            if not request.partial:
                raise
            failures.append(DepositResult("", req.dataset, None, "rejected", 0, 0, 0, {}, "", error=exc.message))
    datasets = [p.job.dataset for p in prepared]
    with dataset_locks(hub, datasets):
        results = _deposit_locked(hub, actor, request, protection, _order(prepared))
    return results + failures


def _deposit_locked(hub: Hub, actor: Actor, request: DepositRequest, protection: Protection,
                    prepared: list[Prepared]) -> list[DepositResult]:
    delivery_id = "dl" + secrets.token_hex(8) if request.delivery else None
    todo = []
    for p in prepared:
        p.unchanged = _unchanged(hub, p, request.mode)
        if p.unchanged is None:
            p.schema_version = _schema_version(hub, p.job.dataset, p.job.schema)
            todo.append(p)
    if todo:
        _register_pending(hub, todo, request, delivery_id)
        crash_point(request.crash_at, "pending")
        try:
            _stage_all(hub, protection, todo, request)
            failed = [p for p in todo if p.failure]
            if failed:
                _roll_back(hub, failed)
                todo = [p for p in todo if not p.failure]
            crash_point(request.crash_at, "staged")
            _rename(hub, todo)
            crash_point(request.crash_at, "renamed")
            _commit(hub, todo, request)
        except BaseException:
            _roll_back(hub, todo)
            raise
        crash_point(request.crash_at, "committed")
        _decide(hub, actor, todo)
        crash_point(request.crash_at, "gated")
    return [p.unchanged or (_failure(p) if p.failure else _result(p)) for p in prepared]


def _failure(p: Prepared) -> DepositResult:
    return DepositResult(p.deposit_id, p.job.dataset, None, "rejected", 0, 0, 0, {}, p.shape.sha256, error=p.failure)


def _decide(hub: Hub, actor: Actor, todo: list[Prepared]) -> None:
    """Committed versions are ``held`` (complete, invisible); publish each one unless the quarantine-rate
    policy holds or rejects it or a blocking quality check fails. All tables of a delivery are committed
    before any is checked, so cross-table checks see their siblings."""
    for p in todo:
        st = p.staged
        assert st is not None and p.version is not None
        verdict = quarantine_policy(hub.config.properties, p.job.dataset).verdict(st.rows_in, st.rows_quarantined)
        if verdict is not None:
            why = f"quarantine rate {st.rows_quarantined}/{st.rows_in} above the hub's maximum"
            if verdict == "rejected":
                with hub.store.write() as s:
                    row = change_status(s, p.job.dataset, p.version, "rejected", why=why)
                    row.files = []
                shutil.rmtree(lake_dir(hub, p.job.dataset) / version_dirname(p.version), ignore_errors=True)
            p.status = verdict
            continue
        p.status = _gate(hub, actor, p.job.dataset, p.version)


def _note_held(hub: Hub, dataset: str, version: int, why: str) -> None:
    with hub.store.write() as s:
        row = s.execute(select(DatasetVersion).where(DatasetVersion.dataset == dataset,
                                                     DatasetVersion.version == version)).scalar_one()
        history = [*(row.lineage or {}).get("status_history", []), {"from": "held", "to": "held", "why": why}]
        row.lineage = {**(row.lineage or {}), "status_history": history}


def _gate(hub: Hub, actor: Actor, dataset: str, version: int) -> str:
    """``published`` when the version passes its blocking quality checks (or gating is off), else ``held``."""
    if not bool(hub.config.properties.get("quality_gate", True)):
        why = "quality gate turned off (quality_gate = false)"
    else:
        from guichet.quality import gate

        try:
            result = gate(hub, actor, dataset, version)
        except Exception as exc:  # noqa: BLE001 - whatever fails, the version stays held (complete, invisible)
            log.warning("deposit: quality gate of %s v%s failed: %s", dataset, version, type(exc).__name__)
            _note_held(hub, dataset, version, f"quality gate could not run ({type(exc).__name__}); "
                                              "run 'guichet quality run' again")
            return "held"
        if result.blocking_failed:
            failed = [r.id for r in result.outcome.failed if r.severity == "blocking"]
            _note_held(hub, dataset, version, f"blocking quality failure(s): {', '.join(failed[:10])}")
            return "held"
        why = "no blocking quality failure"
    with hub.store.write() as s:
        change_status(s, dataset, version, "published", why=why, expected=("held",))
    return "published"


def _register_pending(hub: Hub, todo: list[Prepared], request: DepositRequest, delivery_id: str | None) -> None:
    with hub.store.write() as s:
        for p in todo:
            top = s.execute(select(func.max(DatasetVersion.version)).where(
                DatasetVersion.dataset == p.job.dataset)).scalar_one()
            p.version = (top or 0) + 1
            p.deposit_id = "dp" + secrets.token_hex(8)
            staging = lake_dir(hub, p.job.dataset) / f".staging-{p.deposit_id}"
            row = DatasetVersion(
                deposit_id=p.deposit_id, delivery_id=delivery_id, dataset=p.job.dataset, version=p.version,
                status="pending", mode=request.mode, producer=p.req.producer, schema_version=p.schema_version,
                schema_sha256=p.job.schema.sha256, input_sha256=p.shape.sha256, input_file=p.job.source_label,
                rows_in=0, rows_accepted=0, rows_quarantined=0, rows_total=0, quarantine_reasons={}, files=[],
                staging=str(staging.relative_to(hub.home)), quarantine_path=None, lineage={}, created_at=now())
            s.add(row)
            s.flush()
            p.version_row_id = row.id


# DuckDB's share of the deposit's memory (its serial CSV reader keeps the file's buffers up to this limit;
# the rest of the process — Arrow batches, the writer's queue, the interpreter — takes ~0.8 GB more)
DEPOSIT_MEMORY_LIMIT = "512MB"


def engine_settings(properties: dict[str, Any]) -> EngineSettings:
    """The deposit's engine, as the hub's properties tune it (docs/deposit.md, "Memory")."""
    threads = properties.get("deposit_threads")
    buffer = properties.get("deposit_csv_buffer_size")
    return EngineSettings(threads=int(threads) if threads else None,
                          memory_limit=str(properties.get("deposit_memory_limit") or DEPOSIT_MEMORY_LIMIT),
                          csv_buffer_size=int(buffer) if buffer else None)


def _stage_all(hub: Hub, protection: Protection, todo: list[Prepared], request: DepositRequest) -> None:
    with Engine(engine_settings(hub.config.properties)) as engine:
        references: dict[str, Reference] = {}
        for i, p in enumerate(todo):
            staging = lake_dir(hub, p.job.dataset) / f".staging-{p.deposit_id}"
            qstaging = quarantine_dir(hub, p.job.dataset) / f".staging-{p.deposit_id}"
            staging.mkdir(parents=True)
            qstaging.mkdir(parents=True)
            for fk in p.job.schema.foreign_keys:
                if fk.resource not in references and fk.resource != p.job.name:
                    ref = _published_reference(hub, engine, protection, fk.resource, i * 100 + len(references))
                    if ref is not None:
                        references[fk.resource] = ref
            stager = TableStager(engine, protection, i, lambda step: crash_point(request.crash_at, step))
            try:
                p.staged = stager.stage(p.job, p.shape, staging, qstaging, p.producer_pem, references)
                # a declared count that disagrees: a file cut or padded in transit, or a producer who counts
                # other rows than the hub — either way its row numbers cannot be trusted
                if p.req.expected_rows is not None and p.staged.rows_in != p.req.expected_rows:
                    raise RowsDisagree(p.job.path, p.req.expected_rows, p.staged.rows_in)
            except NotATable as exc:
                if not request.partial:
                    raise
                p.failure, p.staged = exc.message, None  # --partial: this table only is left out; the others go on
                continue
            references[p.job.name] = Reference(p.staged.view, p.job.schema.field_names)
            if p.staged.rows_in != p.staged.rows_accepted + p.staged.rows_quarantined:
                raise RuntimeError("accounting does not balance")  # pragma: no cover - by construction
            _save_keys(hub, p.staged)
        lineage_sql = [r.to_dict() for r in engine.recorded]
        bindings = [b.to_dict() for b in engine.bindings]
    for p in todo:
        if p.staged is None:
            continue
        p.staged_lineage = {  # type: ignore[attr-defined]
            "input_sha256": p.shape.sha256, "input_file": p.job.source_label, "input_bytes": p.shape.size,
            "encoding": p.shape.encoding, "delimiter": p.shape.delimiter,
            "schema_sha256": p.job.schema.sha256, "schema_version": p.schema_version,
            "code_version": __version__, "protection": protection.scheme,
            "identifiers": {c: {"kind": r.kind, "state": r.state} for c, r in p.job.identifiers.items()},
            "checks": p.staged.checks, "sql": lineage_sql, "bindings": bindings,
            "expected_rows": p.req.expected_rows, "pid": os.getpid(),
        }


def _save_keys(hub: Hub, staged: StagedTable) -> None:
    keys = [k for _, k in staged.quarantine_parts] + ([staged.data_key] if staged.data_key else [])
    with hub.store.write() as s:
        for k in keys:
            record_data_key(s, DataKey(k.key_id, k.wrapped, b""))


def _rename(hub: Hub, todo: list[Prepared]) -> None:
    for p in todo:
        name = version_dirname(p.version or 0)
        lake = lake_dir(hub, p.job.dataset)
        os.replace(lake / f".staging-{p.deposit_id}", lake / name)
        q = quarantine_dir(hub, p.job.dataset)
        os.replace(q / f".staging-{p.deposit_id}", q / name)


def _commit(hub: Hub, todo: list[Prepared], request: DepositRequest) -> None:
    with hub.store.write() as s:
        for p in todo:
            st = p.staged
            assert st is not None and st.data_file is not None and st.data_key is not None
            name = version_dirname(p.version or 0)
            rel = (lake_dir(hub, p.job.dataset) / name / st.data_file.name).relative_to(hub.home)
            files: list[dict[str, Any]] = []
            if request.mode == "append":
                prev = s.execute(select(DatasetVersion).where(
                    DatasetVersion.dataset == p.job.dataset, DatasetVersion.status.in_(("published", "held")))
                    .order_by(DatasetVersion.version.desc()).limit(1)).scalar_one_or_none()
                files = list(prev.files) if prev is not None else []
            files.append({"path": str(rel), "rows": st.rows_accepted, "key_id": st.data_key.key_id,
                          "deposit_id": p.deposit_id, "source": p.job.source_label})
            row = s.get(DatasetVersion, p.version_row_id)
            assert row is not None
            row.status = "held"  # complete and invisible until _decide publishes it
            row.rows_in, row.rows_accepted, row.rows_quarantined = st.rows_in, st.rows_accepted, st.rows_quarantined
            row.rows_total = sum(int(f["rows"]) for f in files)
            row.quarantine_reasons = st.reasons_by_rule()
            row.files = files
            row.staging = None
            qdir = quarantine_dir(hub, p.job.dataset) / name
            row.quarantine_path = str(qdir.relative_to(hub.home))
            lineage = dict(p.staged_lineage)  # type: ignore[attr-defined]
            lineage["columns"] = list(p.job.schema.field_names)
            lineage["quarantine"] = [{"path": str((qdir / path.name).relative_to(hub.home)), "key_id": k.key_id}
                                     for path, k in st.quarantine_parts]
            lineage["sealed_with"] = st.ephemeral_public.hex()
            row.lineage = lineage
            row.finished_at = now()


def _roll_back(hub: Hub, todo: list[Prepared]) -> None:
    for p in todo:
        if p.deposit_id:
            for base in (lake_dir(hub, p.job.dataset), quarantine_dir(hub, p.job.dataset)):
                shutil.rmtree(base / f".staging-{p.deposit_id}", ignore_errors=True)
                if p.version:
                    shutil.rmtree(base / version_dirname(p.version), ignore_errors=True)
    with hub.store.write() as s:
        for p in todo:
            if p.version_row_id is not None:
                row = s.get(DatasetVersion, p.version_row_id)
                if row is not None and row.status == "pending":
                    row.status, row.finished_at = "rolled_back", now()


def _result(p: Prepared) -> DepositResult:
    st = p.staged
    assert st is not None
    na = [c for c in st.checks if c["status"] != "applied" and c["rule"] != "length"]
    return DepositResult(p.deposit_id, p.job.dataset, p.version, p.status, st.rows_in, st.rows_accepted,
                         st.rows_quarantined, st.reasons_by_rule(), p.shape.sha256, checks_not_applicable=na)


def single_file_request(file: Path, dataset: str, schema: Path, producer: str | None, mode: str,
                        identifiers: list[Any], crash_at: str | None = None) -> DepositRequest:
    return DepositRequest((TableRequest(dataset, dataset, file, schema, producer, tuple(identifiers),
                                        label=file.name),), mode=mode, crash_at=crash_at)
