"""Reading and writing catalogue entries in the metadata store (sessions are given by services)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from guichet.catalogue.model import (
    JoinKeyInfo,
    ProductInfo,
    ProductSummary,
    SchemaRevisionInfo,
    TableInfo,
    VariableInfo,
    pick,
    product_problems,
)
from guichet.catalogue.search import SearchDoc, reindex
from guichet.catalogue.source import SourceProduct, SourceTable
from guichet.catalogue.tables import (
    CatalogueJoinKey,
    CatalogueProduct,
    CatalogueSchemaRevision,
    CatalogueTable,
    CatalogueVariable,
)
from guichet.errors import NotFound

# Product fields an operator may set with `catalogue describe` (and the source's description fills).
EDITABLE = ("title", "description", "producer", "producer_label", "themes", "keywords", "coverage", "frequency",
            "health_categories", "health_themes", "access_rights", "disclosure_threshold")
_PROPERTY_FIELDS = ("health_categories", "health_themes", "access_rights", "disclosure_threshold")


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _variable_info(v: CatalogueVariable) -> VariableInfo:
    return VariableInfo(v.table_name, v.name, v.position, v.type, v.format, v.length, v.required,
                        dict(v.description or {}), v.nomenclature, v.nomenclature_shipped, dict(v.constraints or {}),
                        dict(v.history or {}))


def get_row(session: Session, product_id: str) -> CatalogueProduct:
    row = session.get(CatalogueProduct, product_id)
    if row is None:
        raise NotFound(f"catalogue: no product {product_id!r} (see 'guichet catalogue list')")
    return row


def product_info(session: Session, product_id: str, with_variables: bool = True) -> ProductInfo:
    p = get_row(session, product_id)
    tables = list(session.execute(select(CatalogueTable).where(CatalogueTable.product_id == p.id)
                                  .order_by(CatalogueTable.position)).scalars())
    by_table: dict[str, list[VariableInfo]] = {}
    if with_variables:
        for v in session.execute(select(CatalogueVariable).where(CatalogueVariable.product_id == p.id)
                                 .order_by(CatalogueVariable.table_name, CatalogueVariable.position)).scalars():
            by_table.setdefault(v.table_name, []).append(_variable_info(v))
    joins = [JoinKeyInfo(j.table_name, tuple(j.fields), j.ref_table, tuple(j.ref_fields), j.origin)
             for j in session.execute(select(CatalogueJoinKey).where(CatalogueJoinKey.product_id == p.id)
                                      .order_by(CatalogueJoinKey.id)).scalars()]
    table_products = dict(session.execute(select(CatalogueTable.name, CatalogueTable.product_id)).all())
    joins = [JoinKeyInfo(j.table, j.fields, j.ref_table, j.ref_fields, j.origin, table_products.get(j.ref_table))
             for j in joins]
    history = [SchemaRevisionInfo(h.table_name, h.revision, h.sha256, tuple(h.changes or ()), h.breaking,
                                  aware(h.loaded_at) or now())
               for h in session.execute(select(CatalogueSchemaRevision).where(CatalogueSchemaRevision.product_id == p.id)
                                        .order_by(CatalogueSchemaRevision.loaded_at, CatalogueSchemaRevision.id)).scalars()]
    return ProductInfo(
        id=p.id, code=p.code, title=dict(p.title or {}), description=dict(p.description or {}), producer=p.producer,
        producer_label=p.producer_label, themes=tuple(p.themes or ()), keywords=tuple(p.keywords or ()),
        coverage=dict(p.coverage or {}), frequency=p.frequency, properties=dict(p.properties or {}), status=p.status,
        problems=tuple(p.problems or ()), source=p.source, created_at=aware(p.created_at) or now(),
        updated_at=aware(p.updated_at) or now(), reviewed_at=aware(p.reviewed_at),
        tables=tuple(TableInfo(t.name, dict(t.title or {}), dict(t.description or {}), tuple(t.primary_key or ()),
                               t.schema_sha256, t.revision, tuple(by_table.get(t.name, ()))) for t in tables),
        join_keys=tuple(joins), history=tuple(history))


def summaries(session: Session, theme: str | None = None, producer: str | None = None,
              status: str | None = None) -> list[ProductSummary]:
    tables = dict(session.execute(select(CatalogueTable.product_id, func.count()).group_by(CatalogueTable.product_id)).all())
    variables = dict(session.execute(select(CatalogueVariable.product_id, func.count())
                                     .group_by(CatalogueVariable.product_id)).all())
    out = []
    for p in session.execute(select(CatalogueProduct).order_by(CatalogueProduct.id)).scalars():
        if theme and theme not in (p.themes or []):
            continue
        if producer and producer != p.producer:
            continue
        if status and status != p.status:
            continue
        out.append(ProductSummary(p.id, p.code, dict(p.title or {}), dict(p.description or {}), p.producer,
                                  p.producer_label, tuple(p.themes or ()), p.status, tables.get(p.id, 0),
                                  variables.get(p.id, 0), aware(p.updated_at) or now(), aware(p.reviewed_at)))
    return out


def refresh_status(row: CatalogueProduct, hub_props: dict[str, Any], extra_problems: list[str] | None = None) -> None:
    problems = product_problems(dict(row.title or {}), dict(row.description or {}), row.producer, list(row.themes or []),
                                list(row.keywords or []), dict(row.coverage or {}), dict(row.properties or {}), hub_props)
    problems.extend(extra_problems or [])
    row.problems = problems
    row.status = "complete" if not problems else "draft"


# --- loading from schemas -------------------------------------------------------------------------

def _apply_meta(row: CatalogueProduct, meta: dict[str, Any], edited: set[str]) -> None:
    for key in EDITABLE:
        if key in edited or key not in meta:
            continue
        value = meta[key]
        if key in _PROPERTY_FIELDS:
            row.properties = {**(row.properties or {}), key: value}
        else:
            setattr(row, key, value)


def _variable_changes(old: list[CatalogueVariable], new: SourceTable) -> tuple[list[str], bool]:
    before = {v.name: v for v in old}
    after = {v.name: v for v in new.variables}
    changes: list[str] = []
    breaking = False
    for name in sorted(before.keys() - after.keys()):
        changes.append(f"field {name} removed")
        breaking = True
    for name in sorted(after.keys() - before.keys()):
        changes.append(f"field {name} added" + (" as required" if after[name].required else ""))
        breaking = breaking or after[name].required
    for name in sorted(before.keys() & after.keys()):
        o, n = before[name], after[name]
        if (o.type, o.format) != (n.type, n.format):
            changes.append(f"field {name}: type {o.type} became {n.type}")
            breaking = True
        if o.length != n.length:
            changes.append(f"field {name}: length {o.length or '-'} became {n.length or '-'}")
        if o.nomenclature != n.nomenclature:
            changes.append(f"field {name}: nomenclature {o.nomenclature or '-'} became {n.nomenclature or '-'}")
        if dict(o.description or {}) != n.description:
            changes.append(f"field {name}: description changed")
    return changes or ["schema changed (no field-level difference)"], breaking


def _write_variables(session: Session, product_id: str, table: CatalogueTable, source: SourceTable) -> None:
    session.execute(delete(CatalogueVariable).where(CatalogueVariable.table_id == table.id))
    session.add_all(CatalogueVariable(
        table_id=table.id, product_id=product_id, table_name=source.name, name=v.name, position=i, type=v.type,
        format=v.format, length=v.length, required=v.required, description=v.description,
        nomenclature=v.nomenclature, nomenclature_shipped=v.nomenclature_shipped, constraints=v.constraints,
        history=v.history) for i, v in enumerate(source.variables))


def apply_source(session: Session, src: SourceProduct, source_label: str, actor: str,
                 hub_props: dict[str, Any]) -> str:
    """Create or update one product from its schemas; 'created', 'updated' or 'unchanged'."""
    row = session.get(CatalogueProduct, src.id)
    digest = src.content_sha256()
    at = now()
    if row is not None and row.content_sha256 == digest:
        return "unchanged"
    outcome = "updated" if row is not None else "created"
    if row is None:
        row = CatalogueProduct(id=src.id, code=src.code, title={"fr": src.code}, description={}, themes=[], keywords=[],
                               coverage={}, properties={}, status="draft", problems=[], source=source_label,
                               content_sha256=digest, created_at=at, updated_at=at, reviewed_at=at)
        session.add(row)
        session.flush()
    edited = set((row.properties or {}).get("edited", []))
    _apply_meta(row, src.meta, edited)
    if not src.meta and not (row.description or {}):
        titles = "; ".join(f"{t.name} ({pick(t.title, 'fr')})" if t.title else t.name for t in src.tables)
        row.description = {"fr": f"Tables du produit {src.code} : {titles}.",
                           "en": f"Tables of the product {src.code}: {titles}."}
    row.source, row.content_sha256, row.updated_at = source_label, digest, at
    existing = {t.name: t for t in session.execute(select(CatalogueTable).where(CatalogueTable.product_id == src.id)).scalars()}
    for pos, table in enumerate(src.tables):
        current = existing.pop(table.name, None)
        if current is None:
            current = CatalogueTable(product_id=src.id, name=table.name, position=pos, title=table.title,
                                     description=table.description, primary_key=list(table.primary_key),
                                     schema_sha256=table.sha256, revision=1)
            session.add(current)
            session.flush()
            session.add(CatalogueSchemaRevision(product_id=src.id, table_name=table.name, revision=1, sha256=table.sha256,
                                                changes=["first loaded"], breaking=False, loaded_at=at, loaded_by=actor))
            _write_variables(session, src.id, current, table)
            continue
        current.position, current.title, current.description = pos, table.title, table.description
        current.primary_key = list(table.primary_key)
        if current.schema_sha256 != table.sha256:
            old = list(session.execute(select(CatalogueVariable).where(CatalogueVariable.table_id == current.id)).scalars())
            changes, breaking = _variable_changes(old, table)
            current.revision += 1
            current.schema_sha256 = table.sha256
            session.add(CatalogueSchemaRevision(product_id=src.id, table_name=table.name, revision=current.revision,
                                                sha256=table.sha256, changes=changes, breaking=breaking, loaded_at=at,
                                                loaded_by=actor))
            _write_variables(session, src.id, current, table)
    for gone in existing.values():
        revision = gone.revision + 1
        session.add(CatalogueSchemaRevision(product_id=src.id, table_name=gone.name, revision=revision, sha256="",
                                            changes=["table removed"], breaking=True, loaded_at=at, loaded_by=actor))
        session.delete(gone)
    session.execute(delete(CatalogueJoinKey).where(CatalogueJoinKey.product_id == src.id))
    session.add_all(CatalogueJoinKey(product_id=src.id, table_name=j.table, fields=list(j.fields), ref_table=j.ref_table,
                                     ref_fields=list(j.ref_fields), origin=j.origin, note=j.note) for j in src.joins)
    session.flush()
    refresh_status(row, hub_props)
    index_product(session, src.id)
    return outcome


def index_product(session: Session, product_id: str) -> None:
    p = get_row(session, product_id)
    docs = [SearchDoc("product", p.id, p.id, " ".join(filter(None, [*(p.title or {}).values(), p.code])),
                      " ".join(filter(None, [*(p.description or {}).values(), " ".join(p.keywords or []),
                                             p.producer_label or "", p.producer or ""])))]
    for t in session.execute(select(CatalogueTable).where(CatalogueTable.product_id == p.id)).scalars():
        docs.append(SearchDoc("table", p.id, t.name, t.name, " ".join([*(t.title or {}).values(),
                                                                       *(t.description or {}).values()])))
    for v in session.execute(select(CatalogueVariable).where(CatalogueVariable.product_id == p.id)).scalars():
        docs.append(SearchDoc("variable", p.id, f"{v.table_name}.{v.name}", v.name,
                              " ".join([*(v.description or {}).values(), v.nomenclature or ""])))
    reindex(session, p.id, docs)
