"""The deposit of a file or a whole delivery, from pending version to commit (called by the service)."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import secrets
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlglot import exp

from guichet import __version__
from guichet.actor import Actor, system_actor
from guichet.deposit.manifest import year_of
from guichet.deposit.model import DepositRequest, DepositResult, TableRequest
from guichet.deposit.pipeline import Reference, StagedTable, TableJob, TableStager, check_schema, inspect
from guichet.deposit.policy import quarantine_policy
from guichet.deposit.rules import IdentifierRole
from guichet.deposit.sealing import Sealer
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

TABLE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$")


@dataclass
class Prepared:
    """One delivered file, checked and ready to stage."""

    req: TableRequest
    job: TableJob
    shape: FileShape
    producer_pem: str
    staged: StagedTable | None = None
    failure: str | None = None  # --partial: why this file was left out


@dataclass
class Group:
    """The files of one dataset in a request — one, or its yearly parts — deposited as one version."""

    dataset: str
    parts: list[Prepared]
    pending: writing.Pending | None = None
    schema_version: int | None = None
    lineage: dict[str, Any] | None = None
    unchanged: DepositResult | None = None
    status: str = "pending"

    @property
    def first(self) -> Prepared:
        return self.parts[0]

    @property
    def version(self) -> int | None:
        return self.pending.version if self.pending else None

    @property
    def deposit_id(self) -> str:
        return self.pending.deposit_id if self.pending else ""

    @property
    def failure(self) -> str | None:
        """A part left out fails its whole version: a version never lacks one of the files delivered for it."""
        return next((p.failure for p in self.parts if p.failure), None)

    @property
    def input_sha256(self) -> str:
        if len(self.parts) == 1:
            return self.first.shape.sha256
        listing = "\n".join(sorted(f"{p.job.source_label}\t{p.shape.sha256}" for p in self.parts))
        return hashlib.sha256(listing.encode()).hexdigest()

    @property
    def input_file(self) -> str:
        labels = ", ".join(p.job.source_label for p in self.parts)
        return labels if len(labels) <= 500 else labels[:497] + "..."

    def totals(self) -> tuple[int, int, int]:
        staged = [p.staged for p in self.parts if p.staged is not None]
        return (sum(t.rows_in for t in staged), sum(t.rows_accepted for t in staged),
                sum(t.rows_quarantined for t in staged))

    def reasons(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for p in self.parts:
            if p.staged is not None:
                out.update(p.staged.reasons_by_rule())
        return dict(sorted(out.items()))


def _groups(prepared: list[Prepared]) -> list[Group]:
    """The request's files by dataset, in delivery order; the parts of one dataset must agree on what the
    version is (its schema, producer and identifiers) and be distinct files."""
    groups: dict[str, Group] = {}
    names: set[str] = set()
    for p in prepared:
        if p.job.name in names:
            raise BadInput(f"{p.req.file.name}: table {p.job.name} appears twice in one delivery")
        names.add(p.job.name)
        g = groups.setdefault(p.job.dataset, Group(p.job.dataset, []))
        if g.parts:
            first = g.first
            for what, mine, theirs in (("schema", p.job.schema.sha256, first.job.schema.sha256),
                                       ("producer", p.req.producer, first.req.producer),
                                       ("identifiers", sorted(p.job.identifiers), sorted(first.job.identifiers))):
                if mine != theirs:
                    raise BadInput(f"{p.req.file.name}: a part of {p.job.dataset} with another {what} than "
                                   f"{first.req.file.name}; the files of one dataset make one version")
        g.parts.append(p)
    for g in groups.values():
        years = [p.req.year for p in g.parts]
        if len(g.parts) > 1 and None in years:
            raise BadInput(f"{g.dataset}: several files in one delivery are its parts by year; give each its year "
                           "(the manifest's year = YYYY, or a name with the year where the dataset has aa)")
    return list(groups.values())


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


def _unchanged(hub: Hub, g: Group, mode: str) -> DepositResult | None:
    with hub.store.read() as s:
        v = s.execute(select(DatasetVersion).where(
            DatasetVersion.dataset == g.dataset, DatasetVersion.input_sha256 == g.input_sha256,
            DatasetVersion.producer == g.first.req.producer,
            DatasetVersion.schema_sha256 == g.first.job.schema.sha256, DatasetVersion.mode == mode,
            DatasetVersion.status.in_(("published", "held"))).order_by(DatasetVersion.version.desc())
        ).scalars().first()
    if v is None:
        return None
    return DepositResult(v.deposit_id, v.dataset, v.version, "unchanged", v.rows_in, v.rows_accepted,
                         v.rows_quarantined, dict(v.quarantine_reasons), v.input_sha256)


def _prepare(hub: Hub, actor: Actor, req: TableRequest, request: DepositRequest) -> Prepared:
    check_dataset_name(req.dataset)
    if req.name != req.dataset and not TABLE_NAME.match(req.name):  # its staged files are named after it
        raise BadInput(f"table {req.name!r}: letters, digits, '_', '-' and '.' only (not starting with '.')")
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


def _order(groups: list[Group]) -> list[Group]:
    """Referenced datasets first, so that foreign keys are checked against their accepted rows."""
    by_name = {name: g for g in groups for name in {g.dataset, *(p.job.name for p in g.parts)}}
    done: list[Group] = []
    seen: set[str] = set()

    def visit(g: Group, path: tuple[str, ...]) -> None:
        if g.dataset in seen or g.dataset in path:
            return
        for fk in g.first.job.schema.foreign_keys:
            ref = by_name.get(fk.resource)
            if ref is not None and ref is not g:
                visit(ref, (*path, g.dataset))
        seen.add(g.dataset)
        done.append(g)

    for g in groups:
        visit(g, ())
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
    groups = _groups(prepared)
    with dataset_locks(hub, [g.dataset for g in groups]):
        results = _deposit_locked(hub, actor, request, protection, _order(groups))
    return results + failures


def _deposit_locked(hub: Hub, actor: Actor, request: DepositRequest, protection: Protection,
                    groups: list[Group]) -> list[DepositResult]:
    delivery_id = "dl" + secrets.token_hex(8) if request.delivery else None
    with hub.store.read() as s:  # again under the dataset's lock: another producer may have deposited since
        for g in groups:
            writer_producer(s, actor, g.dataset, g.first.req.producer)
    todo = []
    for g in groups:
        g.unchanged = _unchanged(hub, g, request.mode)
        if g.unchanged is None:
            g.schema_version = _schema_version(hub, g.dataset, g.first.job.schema)
            todo.append(g)
    if todo:
        pending = writing.begin(hub, [_pending_request(g, request) for g in todo], delivery_id)
        for g, pen in zip(todo, pending, strict=True):
            g.pending = pen
        crash_point(request.crash_at, "pending")
        try:
            _stage_all(hub, protection, todo, request)
            failed = [g.pending for g in todo if g.failure and g.pending]
            if failed:
                writing.roll_back(hub, failed)
                todo = [g for g in todo if not g.failure]
            crash_point(request.crash_at, "staged")
            writing.move_into_place(hub, [g.pending for g in todo if g.pending])
            crash_point(request.crash_at, "renamed")
            writing.commit(hub, actor, [(g.pending, _written(g)) for g in todo if g.pending], request.mode)
        except BaseException:
            writing.roll_back(hub, [g.pending for g in todo if g.pending])
            raise
        crash_point(request.crash_at, "committed")
        _decide(hub, actor, todo)
        crash_point(request.crash_at, "gated")
    return [g.unchanged or (_failure(g) if g.failure else _result(g)) for g in groups]


def _pending_request(g: Group, request: DepositRequest) -> writing.PendingRequest:
    return writing.PendingRequest(g.dataset, request.mode, g.first.req.producer, g.schema_version,
                                  g.first.job.schema.sha256, g.input_sha256, g.input_file)


def _written(g: Group) -> writing.Written:
    assert g.lineage is not None
    files, quarantine = [], []
    for p in g.parts:
        st = p.staged
        assert st is not None and st.data_file is not None and st.data_key is not None
        files.append(writing.WrittenFile(st.data_file, st.data_key, st.rows_accepted, p.job.source_label,
                                         st.rows_in, p.req.year))
        quarantine += st.quarantine_parts
    rows_in, accepted, quarantined = g.totals()
    return writing.Written(files, rows_in, accepted, quarantined, g.reasons(), quarantine, g.lineage)


def _failure(g: Group) -> DepositResult:
    return DepositResult(g.deposit_id, g.dataset, None, "rejected", 0, 0, 0, {}, g.input_sha256, error=g.failure)


def _decide(hub: Hub, actor: Actor, todo: list[Group]) -> None:
    """Committed versions are ``held`` (complete, invisible); publish each one unless the quarantine-rate
    policy holds or rejects it or a gate registered with the lake (quality's blocking checks) holds it.
    All tables of a delivery are committed before any is gated, so cross-table checks see their siblings."""
    for g in todo:
        assert g.version is not None
        rows_in, _, quarantined = g.totals()
        verdict = quarantine_policy(hub.config.properties, g.dataset).verdict(rows_in, quarantined)
        if verdict is not None:
            why = f"quarantine rate {quarantined}/{rows_in} above the hub's maximum"
            if verdict == "rejected":
                writing.reject(hub, actor, g.dataset, g.version, why)
            else:
                writing.hold(hub, actor, g.dataset, g.version, why)
            g.status = verdict
            continue
        g.status, _ = writing.gate(hub, actor, g.dataset, g.version)


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


def _stage_all(hub: Hub, protection: Protection, todo: list[Group], request: DepositRequest) -> None:
    with Engine(engine_settings(hub.config.properties)) as engine:
        references: dict[str, Reference] = {}
        index = itertools.count()
        for g in todo:
            assert g.pending is not None
            sealer = Sealer(g.first.producer_pem)
            for p in g.parts:
                i = next(index)
                _add_references(hub, engine, protection, p, references, i)
                stager = TableStager(engine, protection, i, lambda step: crash_point(request.crash_at, step))
                try:
                    p.staged = stager.stage(p.job, p.shape, g.pending.staging, g.pending.quarantine_staging, sealer,
                                            _references_for(p, references))
                    # a declared count that disagrees: a file cut or padded in transit, or a producer who counts
                    # other rows than the hub — either way its row numbers cannot be trusted
                    if p.req.expected_rows is not None and p.staged.rows_in != p.req.expected_rows:
                        raise RowsDisagree(p.job.path, p.req.expected_rows, p.staged.rows_in)
                except NotATable as exc:
                    if not request.partial:
                        raise
                    p.failure, p.staged = exc.message, None  # --partial: this dataset only is left out
                    break
                ref = Reference(p.staged.view, p.job.schema.field_names)
                references[p.job.name] = ref
                if p.req.year is not None:
                    references[f"{g.dataset}@{p.req.year}"] = ref
                if p.staged.rows_in != p.staged.rows_accepted + p.staged.rows_quarantined:
                    raise RuntimeError("accounting does not balance")  # pragma: no cover - by construction
                writing.save_file_keys(hub, p.staged.file_keys())
            if not g.failure:
                references[g.dataset] = _whole(engine, g, next(index))
        lineage_sql = [r.to_dict() for r in engine.recorded]
        bindings = [b.to_dict() for b in engine.bindings]
    for g in todo:
        if not g.failure:
            g.lineage = _lineage(g, protection, lineage_sql, bindings)


def _add_references(hub: Hub, engine: Engine, protection: Protection, p: Prepared,
                    references: dict[str, Reference], i: int) -> None:
    """The published version of each dataset the part's foreign keys name and the delivery does not hold."""
    for n, fk in enumerate(p.job.schema.foreign_keys):
        if fk.resource not in references and fk.resource not in (p.job.name, p.job.dataset):
            ref = _published_reference(hub, engine, protection, fk.resource, i * 100 + n)
            if ref is not None:
                references[fk.resource] = ref


def _references_for(p: Prepared, references: dict[str, Reference]) -> dict[str, Reference]:
    """What the part's foreign keys check against: a referenced dataset delivered by year is matched year
    by year (a 2020 stay's key is looked for among the 2020 summaries), else as a whole."""
    if p.req.year is None:
        return references
    out = dict(references)
    for fk in p.job.schema.foreign_keys:
        same_year = references.get(f"{fk.resource}@{p.req.year}")
        if same_year is not None:
            out[fk.resource] = same_year
    return out


def _whole(engine: Engine, g: Group, i: int) -> Reference:
    """The dataset's staged rows, all parts together, as one view (its parts' own when there is one)."""
    views = [p.staged.view for p in g.parts if p.staged is not None]
    columns = g.first.job.schema.field_names
    if len(views) == 1:
        return Reference(views[0], columns)
    name = f"whole_{i}"
    union = exp.union(*[exp.select(*[exp.column(c, quoted=True) for c in columns]).from_(v) for v in views],
                      distinct=False)
    engine.execute(exp.Create(this=exp.to_table(name), kind="VIEW", replace=True,
                              properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=union),
                   purpose=f"the staged parts of {g.dataset}", record=False)
    return Reference(name, columns)


def _lineage(g: Group, protection: Protection, sql: list[dict[str, Any]], bindings: list[dict[str, Any]]
             ) -> dict[str, Any]:
    p = g.first
    assert p.staged is not None
    out: dict[str, Any] = {
        "input_sha256": g.input_sha256, "input_file": g.input_file, "input_bytes": sum(q.shape.size for q in g.parts),
        "encoding": p.shape.encoding, "delimiter": p.shape.delimiter,
        "schema_sha256": p.job.schema.sha256, "schema_version": g.schema_version,
        "code_version": __version__, "protection": protection.scheme,
        "identifiers": {c: {"kind": r.kind, "state": r.state} for c, r in p.job.identifiers.items()},
        "checks": p.staged.checks, "sql": sql, "bindings": bindings,
        "expected_rows": p.req.expected_rows, "pid": os.getpid(), "columns": list(p.job.schema.field_names),
        "sealed_with": p.staged.ephemeral_public.hex(),
    }
    if len(g.parts) > 1:
        out["expected_rows"] = None
        out["parts"] = [{"input_file": q.job.source_label, "input_sha256": q.shape.sha256, "input_bytes": q.shape.size,
                         "year": q.req.year, "expected_rows": q.req.expected_rows,
                         "rows_in": q.staged.rows_in if q.staged else 0,
                         "rows_accepted": q.staged.rows_accepted if q.staged else 0,
                         "rows_quarantined": q.staged.rows_quarantined if q.staged else 0,
                         "checks": q.staged.checks if q.staged else []} for q in g.parts]
    return out


def _result(g: Group) -> DepositResult:
    checks = g.first.staged.checks if g.first.staged else []
    na = [c for c in checks if c["status"] != "applied" and c["rule"] != "length"]
    rows_in, accepted, quarantined = g.totals()
    return DepositResult(g.deposit_id, g.dataset, g.version, g.status, rows_in, accepted, quarantined, g.reasons(),
                         g.input_sha256, checks_not_applicable=na)


def single_file_request(file: Path, dataset: str, schema: Path, producer: str | None, mode: str,
                        identifiers: list[Any], crash_at: str | None = None, year: int | None = None
                        ) -> DepositRequest:
    """One file for one dataset; a yearly part (``--year``, or the year its name gives where the dataset's has
    ``aa``: T_MCO22B.csv of T_MCOaaB) replaces only its year of the dataset's live version."""
    return DepositRequest((TableRequest(dataset, dataset, file, schema, producer, tuple(identifiers),
                                        label=file.name, year=year_of("--year", file.stem, dataset, year)),),
                          mode=mode, crash_at=crash_at)
