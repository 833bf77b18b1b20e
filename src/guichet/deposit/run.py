"""The deposit of a file or a whole delivery, from pending version to commit (called by the service)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from guichet import __version__
from guichet.actor import Actor, system_actor
from guichet.deposit.model import DepositRequest, DepositResult, TableRequest
from guichet.deposit.pipeline import Reference, StagedTable, TableJob, TableStager, check_schema, inspect
from guichet.deposit.policy import quarantine_policy
from guichet.deposit.rules import IdentifierRole
from guichet.deposit.sniff import identifier_columns
from guichet.deposit.structure import FileShape, NotATable, RowsDisagree, read_regular
from guichet.engine import Engine, EngineSettings
from guichet.errors import BadInput, Conflict, Refused
from guichet.hub import Hub
from guichet.lake import writing
from guichet.lake.atomic import check_dataset_name, crash_point, dataset_locks, now, recover
from guichet.lake.keys import Protection, protection_for
from guichet.lake.owners import entry_in, merged_identifiers, writer_producer
from guichet.lake.read import open_info
from guichet.lake.tables import DatasetVersion, Producer, SchemaVersion
from guichet.lake.versions import current_version
from guichet.schema import TableSchema, breaking_changes, load_schema, parse_schema


@dataclass
class Prepared:
    req: TableRequest
    job: TableJob
    shape: FileShape
    producer_pem: str
    pending: writing.Pending | None = None
    schema_version: int | None = None
    staged: StagedTable | None = None
    lineage: dict[str, Any] | None = None
    unchanged: DepositResult | None = None
    status: str = "pending"
    failure: str | None = None  # --partial: why this table was left out

    @property
    def version(self) -> int | None:
        return self.pending.version if self.pending else None

    @property
    def deposit_id(self) -> str:
        return self.pending.deposit_id if self.pending else ""


def _owner(hub: Hub, actor: Actor, req: TableRequest) -> tuple[str, str, tuple[IdentifierRole, ...]]:
    """The producer the table is deposited for (checked against the dataset's owner and the actor), its
    public key, and the identifier roles to apply (the dataset's known ones with this request's)."""
    with hub.store.read() as s:
        producer = writer_producer(s, actor, req.dataset, req.producer)
        pem = s.execute(select(Producer.public_key).where(Producer.name == producer)).scalar_one()
        entry = entry_in(s, req.dataset)
    declared = {r.column: {"kind": r.kind, "state": r.state} for r in req.identifiers}
    merged = merged_identifiers(entry, declared)
    roles = tuple(IdentifierRole(c, str(r["kind"]), r.get("state")) for c, r in merged.items())
    return producer, pem, roles


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
            DatasetVersion.producer == p.req.producer,
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
        from guichet.schema.load import ENCODINGS

        enc = ENCODINGS.get(str(req.encoding).lower()) if req.encoding else schema.encoding
        schema = replace(schema, delimiter=req.delimiter or schema.delimiter, encoding=enc)
    producer, pem, identifiers = _owner(hub, actor, req)
    req = replace(req, producer=producer, identifiers=identifiers)
    roles = _identifiers(hub, req, schema)
    job = TableJob(req.name, req.dataset, req.file, schema, roles, req.label or req.file.name)
    shape = inspect(job)
    if req.expected_sha256 and req.expected_sha256 != shape.sha256:
        raise BadInput(f"{req.file.name}: its SHA-256 differs from the manifest's (changed after delivery?)")
    looks = identifier_columns(shape.path, shape.encoding, shape.delimiter, set(roles), skip_bom=shape.bom)
    if looks:
        column, kind = sorted(looks.items())[0]
        raise Refused(f"{req.file.name}: column {column} looks like {kind} but is not declared as an identifier; "
                      f"declare it (--identifiers {column}:psa|ano, or in the manifest) so that it is pseudonymised")
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
    """The referenced table's current published rows, for foreign-key checks of a table delivered alone."""
    v = current_version(hub, resource)
    if v is None or not v.files:
        return None
    rel = open_info(hub, engine, v, view=f"pub_{i}", protection=protection)
    return Reference(rel.view, tuple(v.columns))


def run_deposit(hub: Hub, actor: Actor, request: DepositRequest) -> list[DepositResult]:
    protection = protection_for(hub)
    recover(hub)
    writing.finish_interrupted(hub, system_actor(), writing.RECOVERY)
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
    with hub.store.read() as s:  # again under the dataset's lock: another producer may have deposited since
        for p in prepared:
            writer_producer(s, actor, p.job.dataset, p.req.producer)
    todo = []
    for p in prepared:
        p.unchanged = _unchanged(hub, p, request.mode)
        if p.unchanged is None:
            p.schema_version = _schema_version(hub, p.job.dataset, p.job.schema)
            todo.append(p)
    if todo:
        pending = writing.begin(hub, [_pending_request(p, request) for p in todo], delivery_id)
        for p, pen in zip(todo, pending, strict=True):
            p.pending = pen
        crash_point(request.crash_at, "pending")
        try:
            _stage_all(hub, protection, todo, request)
            failed = [p.pending for p in todo if p.failure and p.pending]
            if failed:
                writing.roll_back(hub, failed)
                todo = [p for p in todo if not p.failure]
            crash_point(request.crash_at, "staged")
            writing.move_into_place(hub, [p.pending for p in todo if p.pending])
            crash_point(request.crash_at, "renamed")
            writing.commit(hub, actor, [(p.pending, _written(p)) for p in todo if p.pending], request.mode)
        except BaseException:
            writing.roll_back(hub, [p.pending for p in todo if p.pending])
            raise
        crash_point(request.crash_at, "committed")
        _decide(hub, actor, todo)
        crash_point(request.crash_at, "gated")
    return [p.unchanged or (_failure(p) if p.failure else _result(p)) for p in prepared]


def _pending_request(p: Prepared, request: DepositRequest) -> writing.PendingRequest:
    return writing.PendingRequest(p.job.dataset, request.mode, p.req.producer, p.schema_version,
                                  p.job.schema.sha256, p.shape.sha256, p.job.source_label)


def _written(p: Prepared) -> writing.Written:
    st = p.staged
    assert st is not None and st.data_file is not None and st.data_key is not None and p.lineage is not None
    return writing.Written(st.data_file, st.data_key, st.rows_in, st.rows_accepted, st.rows_quarantined,
                           st.reasons_by_rule(), p.job.source_label, list(st.quarantine_parts), p.lineage)


def _failure(p: Prepared) -> DepositResult:
    return DepositResult(p.deposit_id, p.job.dataset, None, "rejected", 0, 0, 0, {}, p.shape.sha256, error=p.failure)


def _decide(hub: Hub, actor: Actor, todo: list[Prepared]) -> None:
    """Committed versions are ``held`` (complete, invisible); publish each one unless the quarantine-rate
    policy holds or rejects it or a gate registered with the lake (quality's blocking checks) holds it.
    All tables of a delivery are committed before any is gated, so cross-table checks see their siblings."""
    for p in todo:
        st = p.staged
        assert st is not None and p.version is not None
        verdict = quarantine_policy(hub.config.properties, p.job.dataset).verdict(st.rows_in, st.rows_quarantined)
        if verdict is not None:
            why = f"quarantine rate {st.rows_quarantined}/{st.rows_in} above the hub's maximum"
            if verdict == "rejected":
                writing.reject(hub, actor, p.job.dataset, p.version, why)
            else:
                writing.hold(hub, actor, p.job.dataset, p.version, why)
            p.status = verdict
            continue
        p.status, _ = writing.gate(hub, actor, p.job.dataset, p.version)


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
            assert p.pending is not None
            staging, qstaging = p.pending.staging, p.pending.quarantine_staging
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
            writing.save_file_keys(hub, p.staged.file_keys())
        lineage_sql = [r.to_dict() for r in engine.recorded]
        bindings = [b.to_dict() for b in engine.bindings]
    for p in todo:
        if p.staged is None:
            continue
        p.lineage = {
            "input_sha256": p.shape.sha256, "input_file": p.job.source_label, "input_bytes": p.shape.size,
            "encoding": p.shape.encoding, "delimiter": p.shape.delimiter,
            "schema_sha256": p.job.schema.sha256, "schema_version": p.schema_version,
            "code_version": __version__, "protection": protection.scheme,
            "identifiers": {c: {"kind": r.kind, "state": r.state} for c, r in p.job.identifiers.items()},
            "checks": p.staged.checks, "sql": lineage_sql, "bindings": bindings,
            "expected_rows": p.req.expected_rows, "pid": os.getpid(), "columns": list(p.job.schema.field_names),
            "sealed_with": p.staged.ephemeral_public.hex(),
        }


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
