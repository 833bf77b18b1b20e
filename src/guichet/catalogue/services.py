"""Catalogue services: load schemas, describe and review products, configure, publish, read, search, export;
a dataset's versions as the lake registers them.
Every state change is a ``@service`` (permission checked, audited); every read a ``@query``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from guichet.catalogue.dcat import serialize
from guichet.catalogue.model import FREQUENCIES, ProductInfo, ProductSummary, placeholders
from guichet.catalogue.properties import check_properties
from guichet.catalogue.publishing import catalogue_graph, check_product, publish, publish_checked, stored_graph
from guichet.catalogue.search import SearchHit, search
from guichet.catalogue.shacl import ValidationResult
from guichet.catalogue.source import default_join_graph, read_schema_dir
from guichet.catalogue.store import EDITABLE, apply_source, aware, get_row, index_product, now, product_info, summaries
from guichet.catalogue.tables import CatalogueProduct
from guichet.config import save_config
from guichet.errors import BadInput, Conflict, Refused
from guichet.governance import Unit, query, service
from guichet.lake.producers import producers_of
from guichet.lake.versions import VersionInfo, versions
from guichet.schema.nomenclatures import SOURCE as NOMENCLATURE_SOURCE

DEFAULT_REVIEW_DAYS = 365


@dataclass(frozen=True)
class LoadReport:
    folder: str
    products: dict[str, str]  # id -> created | updated | unchanged
    tables: int
    variables: int
    complete: list[str] = field(default_factory=list)
    drafts: dict[str, list[str]] = field(default_factory=dict)
    violations: int = 0

    @property
    def changed(self) -> bool:
        return any(v != "unchanged" for v in self.products.values())

    def to_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "products": self.products, "changed": self.changed, "tables": self.tables,
                "variables": self.variables, "complete": self.complete, "drafts": self.drafts,
                "violations": self.violations}


@dataclass(frozen=True)
class ExportResult:
    format: str
    text: str
    datasets: int
    validation: ValidationResult


def _require_own(unit: Unit, product: CatalogueProduct, action: str) -> None:
    if unit.actor.roles & {"operator", "system"}:
        return
    if not product.producer or product.producer not in producers_of(unit.session, unit.actor):
        raise Refused(f"{action}: {unit.actor.username} is not of the producer of {product.id}")


def _after_change(unit: Unit, product_ids: list[str], one_by_one: bool = False
                  ) -> tuple[list[str], dict[str, list[str]], int]:
    """Statuses after a change. One entry saved on its own is validated on its own; many entries (a load, a
    change of hub properties) are validated together, in one SHACL run of the catalogue graph."""
    violations = 0
    if one_by_one:
        for pid in product_ids:
            result = check_product(unit.session, unit.hub, pid)
            if result is not None:
                violations += sum(1 for v in result.violations if v.severity == "Violation")
        if "base_url" in unit.hub.config.properties:
            publish(unit.session, unit.hub)
    else:
        result = publish_checked(unit.session, unit.hub, product_ids)
        if result is not None:
            violations = sum(1 for v in result.violations if v.severity == "Violation")
    complete, drafts = [], {}
    for pid in product_ids:
        row = get_row(unit.session, pid)
        if row.status == "complete":
            complete.append(pid)
        else:
            drafts[pid] = list(row.problems or [])
    return complete, drafts, violations


@service("catalogue.load")
def load_schemas(unit: Unit, folder: Path, join_graph: Path | None = None) -> LoadReport:
    """Load a folder of Table Schemas (sub-folders are products); loading the same folder again changes nothing."""
    joins = join_graph if join_graph is not None else default_join_graph(folder)
    if join_graph is not None and not join_graph.is_file():
        raise BadInput(f"--joins {join_graph}: no such file")
    sources = read_schema_dir(folder, joins)
    label = f"{folder.name} (Table Schemas; nomenclatures {NOMENCLATURE_SOURCE})"
    outcomes = {s.id: apply_source(unit.session, s, label, unit.actor.username, dict(unit.hub.config.properties))
                for s in sources}
    changed = [pid for pid, o in outcomes.items() if o != "unchanged"]
    complete, drafts, violations = _after_change(unit, changed) if changed else ([], {}, 0)
    unchanged_rows = [get_row(unit.session, pid) for pid, o in outcomes.items() if o == "unchanged"]
    complete += [r.id for r in unchanged_rows if r.status == "complete"]
    drafts.update({r.id: list(r.problems or []) for r in unchanged_rows if r.status != "complete"})
    tables = sum(len(s.tables) for s in sources)
    variables = sum(len(t.variables) for s in sources for t in s.tables)
    unit.note(obj=f"catalogue:{folder.name}", products=len(sources), changed=len(changed), tables=tables,
              variables=variables)
    return LoadReport(str(folder), outcomes, tables, variables, sorted(complete), drafts, violations)


def _checked_changes(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise BadInput(f"catalogue describe: unknown field {unknown[0]} (known: {', '.join(EDITABLE)})")
    bad = placeholders(changes)
    if bad:
        raise BadInput(f"catalogue describe: placeholder value refused in {bad[0]}")
    if "frequency" in changes and changes["frequency"] not in FREQUENCIES:
        raise BadInput(f"catalogue describe: frequency is one of {', '.join(FREQUENCIES)}")
    for key in ("title", "description"):
        if key in changes and not (isinstance(changes[key], dict) and set(changes[key]) <= {"fr", "en"}):
            raise BadInput(f"catalogue describe: {key} is a table of fr and en texts")
    for key in ("themes", "keywords", "health_categories", "health_themes"):
        if key in changes and not (isinstance(changes[key], list) and all(isinstance(v, str) for v in changes[key])):
            raise BadInput(f"catalogue describe: {key} is a list of texts")
    return changes


@service("catalogue.describe")
def describe_product(unit: Unit, product_id: str, changes: dict[str, Any]) -> ProductInfo:
    """Fill or change a product's description; it is checked (placeholders, SHACL) as it is saved."""
    row = get_row(unit.session, product_id)
    _require_own(unit, row, "catalogue.describe")
    changes = _checked_changes(dict(changes))
    props = dict(row.properties or {})
    for key, value in changes.items():
        if key in ("health_categories", "health_themes", "access_rights", "disclosure_threshold"):
            props[key] = value
        else:
            setattr(row, key, value)
    props["edited"] = sorted(set(props.get("edited", [])) | set(changes))
    row.properties = props
    row.updated_at = now()
    unit.session.flush()
    index_product(unit.session, product_id)
    _after_change(unit, [product_id], one_by_one=True)
    unit.note(obj=f"product:{product_id}", fields=sorted(changes), status=row.status)
    return product_info(unit.session, product_id, with_variables=False)


@service("catalogue.configure")
def configure(unit: Unit, properties: dict[str, Any]) -> dict[str, Any]:
    """Set hub-wide catalogue properties (saved in guichet.toml); every entry's status is recomputed."""
    checked = check_properties(properties)
    config = unit.hub.config.with_properties(**checked)
    save_config(config)
    unit.hub.config = config
    ids = [pid for pid, in unit.session.execute(select(CatalogueProduct.id)).all()]
    complete, drafts, _ = _after_change(unit, ids)
    unit.note(obj="catalogue:properties", keys=sorted(checked), complete=len(complete), drafts=len(drafts))
    return {"properties": {k: config.properties.get(k) for k in sorted(checked)}, "complete": complete,
            "drafts": sorted(drafts)}


@service("catalogue.publish")
def publish_catalogue(unit: Unit) -> dict[str, Any]:
    """Rebuild and validate the whole catalogue graph; store it when it conforms."""
    ids = [pid for pid, in unit.session.execute(select(CatalogueProduct.id)).all()]
    for pid in ids:
        check_product(unit.session, unit.hub, pid)
    _turtle, result, datasets = publish(unit.session, unit.hub)
    unit.note(obj="catalogue:graph", datasets=datasets, conforms=result.conforms)
    return {"datasets": datasets, **result.to_dict()}


@service("catalogue.characterise", transactional=False)
def characterise_data(unit: Unit, product_id: str | None = None) -> dict[str, Any]:
    """Measure the latest published versions not measured yet (people, records, period, territory, ages) and
    keep the exact figures; the catalogue publishes them rounded and suppressed. The graph is published again."""
    from guichet.catalogue.measure import measure_version, remember
    from guichet.catalogue.publishing import unmeasured

    ids = [product_id] if product_id else [pid for pid, in unit.session.execute(select(CatalogueProduct.id)).all()]
    todo = sorted({item for pid in ids for item in unmeasured(unit.session, product_info(unit.session, pid, False))})
    unit.session.rollback()  # end the read transaction before the engine reads the store and the lake
    measured = []
    for dataset, version, year in todo:
        figures = measure_version(unit.hub, dataset, version, year)
        with unit.hub.store.write() as session:
            remember(session, figures)
        measured.append(f"{dataset} v{version}")
    if measured and "base_url" in unit.hub.config.properties:
        with unit.hub.store.write() as session:
            publish(session, unit.hub)
    unit.note(obj=f"product:{product_id}" if product_id else "catalogue:characterisation", versions=len(measured))
    return {"measured": measured}


@service("catalogue.review")
def review_product(unit: Unit, product_id: str) -> ProductInfo:
    """Confirm that a product's description was reviewed (the yearly reminder starts again)."""
    row = get_row(unit.session, product_id)
    _require_own(unit, row, "catalogue.review")
    row.reviewed_at = now()
    unit.note(obj=f"product:{product_id}")
    return product_info(unit.session, product_id, with_variables=False)


@service("catalogue.retract", transactional=True)
def retract_version(unit: Unit, dataset: str, version: int, reason: str, replaced_by: int | None = None) -> dict[str, Any]:
    """Retract a published version (or mark it superseded by a newer one), with a reason everyone can read."""
    from guichet.catalogue.versions_notes import record_note

    note = record_note(unit, dataset, version, reason, replaced_by)
    unit.note(obj=f"dataset:{dataset}", version=version, action=note["action"])
    return note


@query("catalogue.reminders")
def due_reviews(unit: Unit, within_days: int = 0) -> list[ProductSummary]:
    """Products whose yearly description review is due (a producer sees its own)."""
    days = int(unit.hub.config.properties.get("review_days") or DEFAULT_REVIEW_DAYS)
    limit = now() - timedelta(days=days - within_days)
    mine = None if unit.actor.roles & {"operator", "system"} else producers_of(unit.session, unit.actor)
    return [s for s in summaries(unit.session)
            if (s.reviewed_at is None or (aware(s.reviewed_at) or now()) <= limit)
            and (mine is None or s.producer in mine)]


@query("catalogue.list")
def list_products(unit: Unit, theme: str | None = None, producer: str | None = None,
                  status: str | None = None) -> list[ProductSummary]:
    return summaries(unit.session, theme=theme, producer=producer, status=status)


@query("catalogue.show")
def show_product(unit: Unit, product_id: str, with_variables: bool = True) -> ProductInfo:
    return product_info(unit.session, product_id, with_variables=with_variables)


@query("catalogue.search")
def search_catalogue(unit: Unit, text: str, kinds: tuple[str, ...] = ("product", "table", "variable"),
                     limit: int = 50) -> list[SearchHit]:
    if len(text) > 200:
        raise BadInput("search: at most 200 characters")
    return search(unit.session, text, kinds, limit)


@query("catalogue.export")
def export_catalogue(unit: Unit, fmt: str = "ttl", fresh: bool = True) -> ExportResult:
    """The HealthDCAT-AP catalogue: complete entries only (drafts are left out), validated before it is returned."""
    if fmt not in ("ttl", "jsonld"):
        raise BadInput("--format: ttl or jsonld")
    if not fresh:
        stored = stored_graph(unit.session)
        if stored is None:
            raise Conflict("catalogue: no validated graph yet (load schemas and configure the hub properties)")
        if fmt == "ttl":
            return ExportResult(fmt, stored.turtle, stored.datasets, ValidationResult(True, ()))
        from rdflib import Graph

        graph = Graph().parse(data=stored.turtle, format="turtle")
        return ExportResult(fmt, serialize(graph, fmt), stored.datasets, ValidationResult(True, ()))
    graph, result, datasets, digest = catalogue_graph(unit.session, unit.hub)
    stored = stored_graph(unit.session)
    if fmt == "ttl" and stored is not None and stored.sha256 == digest:
        return ExportResult(fmt, stored.turtle, datasets, result)
    return ExportResult(fmt, serialize(graph, fmt), datasets, result)


@query("catalogue.versions")
def list_versions(unit: Unit, dataset: str, include_all: bool = False) -> list[VersionInfo]:
    """A dataset's versions: the published ones, or every one (pending, held, rejected...)."""
    return versions(unit.hub, dataset, include_all=include_all)
