"""From entries to the validated HealthDCAT-AP graph: extras from published versions, SHACL, storage.

An entry is validated when it is saved on its own (``check_product``): a complete product whose graph has a
SHACL violation goes back to draft with the violation as its problem. A load of many entries validates them
together, once (``publish_checked``). The catalogue graph is rebuilt from the complete products, validated
as a whole, and stored only when it conforms (``publish``); the export and ``/api/catalogue.ttl`` serve that
stored graph, so nothing unvalidated is ever published.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any

from rdflib import Graph
from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.catalogue.characterise import DEFAULT_THRESHOLD, Characterisation, characterise
from guichet.catalogue.dcat import ProductExtras, build_graph, serialize
from guichet.catalogue.model import ProductInfo, placeholder_in
from guichet.catalogue.profile import TableFigures
from guichet.catalogue.shacl import ValidationResult, validate
from guichet.catalogue.store import now, product_info, refresh_status
from guichet.catalogue.tables import CatalogueGraph, CatalogueProduct, CatalogueVersionNote
from guichet.errors import Conflict
from guichet.hub import Hub
from guichet.lake.versions import LABEL_GRADES, VersionInfo, versions_in
from guichet.schema.model import canonical_json

GRAPH_KEY = "catalogue"


def _published(session: Session, dataset: str) -> list[VersionInfo]:
    return versions_in(session, dataset)


def datasets_of(product: ProductInfo) -> list[str]:
    """The hub datasets holding a product's data: its tables' names, plus any listed in its properties."""
    names = [t.name for t in product.tables]
    return names + [d for d in product.properties.get("datasets", []) if d not in names]


def threshold_of(hub: Hub, product: ProductInfo) -> int:
    """The source's minimum cell count: the product's ``disclosure_threshold``, else the hub's, else 11."""
    value = product.properties.get("disclosure_threshold") or hub.config.properties.get("disclosure_threshold")
    return int(value or DEFAULT_THRESHOLD)


def unmeasured(session: Session, product: ProductInfo) -> list[tuple[str, int, int]]:
    """(dataset, version, deposit year) of the latest published versions not measured yet."""
    from guichet.catalogue.measure import cached

    out = []
    for dataset in datasets_of(product):
        versions = _published(session, dataset)
        if versions and versions[-1].files and cached(session, dataset, versions[-1].version) is None:
            latest = versions[-1]
            created = dt.datetime.fromisoformat(latest.created_at) if latest.created_at else now()
            out.append((dataset, latest.version, created.year))
    return out


def _table_char(figures: TableFigures | None, dataset: str, version: int, rows: int, threshold: int
                ) -> Characterisation:
    if figures is None:  # not measured yet: the version's row count only
        return dataclasses.replace(characterise(rows, threshold=threshold, versions=1), dataset=dataset,
                                   version=version)
    ages = (figures.age_p5, figures.age_p95, figures.aged) if figures.age_p5 is not None else None
    char = characterise(figures.records, figures.individuals, period=(figures.period_start, figures.period_end),
                        versions=1, threshold=threshold, age_range=ages,  # type: ignore[arg-type]
                        departements=figures.departements, source="data")
    return dataclasses.replace(char, dataset=dataset, version=version)


def _product_char(tables: list[tuple[Characterisation, TableFigures | None, int]], threshold: int) -> Characterisation:
    """The product's figures from its tables' exact ones, rounded and suppressed once, at the end.

    Records add up. People are not summed (the same person is in several tables): the product's count is its
    largest table's, and its ages those of the table with the most people of known age; the period spans
    every table's; the territory is the largest table's count of départements."""
    measured = [f for _c, f, _rows in tables if f is not None]
    records = sum(f.records if f is not None else rows for _c, f, rows in tables)
    people = [f.individuals for f in measured if f.individuals is not None]
    aged = max((f for f in measured if f.age_p5 is not None), key=lambda f: f.aged, default=None)
    starts = [f.period_start for f in measured if f.period_start]
    ends = [f.period_end for f in measured if f.period_end]
    deps = [f.departements for f in measured if f.departements is not None]
    char = characterise(records, max(people) if people else None,
                        period=(min(starts) if starts else None, max(ends) if ends else None),
                        versions=len(tables), threshold=threshold,
                        age_range=(aged.age_p5, aged.age_p95, aged.aged) if aged else None,  # type: ignore[arg-type]
                        departements=max(deps) if deps else None,
                        source="data" if len(measured) == len(tables) else "metadata")
    return dataclasses.replace(char, tables=tuple(c for c, _f, _rows in tables))


def characterisation(session: Session, hub: Hub, product: ProductInfo) -> tuple[Characterisation | None, int, list[str]]:
    """(disclosure-safe characterisation, bytes of the published files, version labels) from published versions:
    the figures measured on their data when there are (``catalogue.characterise``), else their row counts."""
    from guichet.catalogue.measure import cached

    threshold = threshold_of(hub, product)
    size = 0
    labels: list[str] = []
    tables: list[tuple[Characterisation, TableFigures | None, int]] = []
    for dataset in datasets_of(product):
        versions = _published(session, dataset)
        if not versions:
            continue
        latest = versions[-1]
        rows = latest.rows
        figures = cached(session, dataset, latest.version)
        tables.append((_table_char(figures, dataset, latest.version, rows, threshold), figures, rows))
        labels.append(f"{dataset} v{latest.version}")
        for f in latest.files or []:
            path = hub.home / str(f.get("path", ""))
            if path.is_file():
                size += path.stat().st_size
    if not tables:
        return None, 0, []
    return _product_char(tables, threshold), size, labels


def quality_labels(session: Session, product: ProductInfo) -> list[dict[str, Any]]:
    """The quality label of each of the product's datasets, as the lake records it for its latest published
    version: grade, what the next grade needs, and check counts (never failing row numbers)."""
    out = []
    for dataset in datasets_of(product):
        versions = _published(session, dataset)
        if not versions or not versions[-1].label:
            continue
        v = versions[-1]
        checks = dict(v.label.get("checks", {}))
        out.append({"dataset": dataset, "version": v.version, "grade": v.label.get("grade"),
                    "next_grade": v.label.get("next_grade"), "to_reach_next": list(v.label.get("to_reach_next", [])),
                    "passed": int(checks.get("pass", 0)), "failed": int(checks.get("fail", 0)),
                    "not_applicable": int(checks.get("not_applicable", 0))})
    return out


def quality_of(session: Session, hub: Hub, product: ProductInfo) -> tuple[str | None, str | None]:
    """The product's quality label (the lowest grade of its datasets) and its public report address."""
    grades = [str(q["grade"]) for q in quality_labels(session, product) if q["grade"] in LABEL_GRADES]
    if not grades:
        return None, None
    base = str(hub.config.properties.get("base_url", "")).rstrip("/")
    return min(grades, key=LABEL_GRADES.index), f"{base}/catalogue/{product.id}#quality" if base else None


def extras_for(session: Session, hub: Hub, product: ProductInfo) -> ProductExtras:
    char, size, labels = characterisation(session, hub, product)
    grade, report = quality_of(session, hub, product)
    notes = [f"{n.dataset} v{n.version} {n.action}: {n.reason}" for n in session.execute(
        select(CatalogueVersionNote).where(CatalogueVersionNote.dataset.in_(datasets_of(product)))).scalars()]
    return ProductExtras(version="; ".join(labels) or None, version_notes="; ".join(notes) or None, byte_size=size,
                         quality_grade=grade, quality_report_url=report, characterisation=char)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(canonical_json([_plain(p) for p in parts])).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, ProductInfo):
        return value.to_dict()
    if isinstance(value, ProductExtras):
        d = dataclasses.asdict(value)
        d["characterisation"] = value.characterisation.to_dict() if value.characterisation else None
        return d
    return value


def _cached(session: Session, key: str) -> CatalogueGraph | None:
    return session.get(CatalogueGraph, key)


def _remember(session: Session, key: str, digest: str, datasets: int = 1, turtle: str = "") -> None:
    row = _cached(session, key)
    if row is None:
        session.add(CatalogueGraph(key=key, turtle=turtle, datasets=datasets, sha256=digest, validated_at=now()))
    else:
        row.turtle, row.datasets, row.sha256, row.validated_at = turtle, datasets, digest, now()


def validate_entries(props: dict[str, Any], entries: list[tuple[ProductInfo, ProductExtras]], stamp: Any
                     ) -> ValidationResult:
    """One SHACL validation of the catalogue graph of ``entries``, dictionaries included."""
    return validate(build_graph(props, entries, stamp))


def check_product(session: Session, hub: Hub, product_id: str) -> ValidationResult | None:
    """Recompute a product's status; validate its graph with SHACL when it is otherwise complete."""
    row = session.get(CatalogueProduct, product_id)
    assert row is not None
    props = dict(hub.config.properties)
    refresh_status(row, props)
    if row.status != "complete":
        return None
    session.flush()
    info = product_info(session, product_id)
    result = validate_entries(props, [(info, extras_for(session, hub, info))], info.updated_at)
    if not result.conforms:
        refresh_status(row, props, [f"SHACL: {v.line()}" for v in result.violations if v.severity == "Violation"][:20])
    return result


def catalogue_graph(session: Session, hub: Hub) -> tuple[Graph, ValidationResult, int, str]:
    """The full graph of the complete products, validated; (graph, result, datasets, inputs digest)."""
    props = dict(hub.config.properties)
    if "base_url" not in props:
        raise Conflict("catalogue: hub property base_url is not set (guichet catalogue configure --set base_url=...)")
    ids = [pid for pid, in session.execute(select(CatalogueProduct.id).where(CatalogueProduct.status == "complete")
                                          .order_by(CatalogueProduct.id)).all()]
    infos = [product_info(session, pid) for pid in ids]
    entries = [(i, extras_for(session, hub, i)) for i in infos]
    stamp = max((i.updated_at for i in infos), default=now())  # same entries -> same bytes
    digest = _digest(props, [[i, e] for i, e in entries])
    stored = _cached(session, GRAPH_KEY)
    graph = build_graph(props, entries, stamp)
    if stored is not None and stored.sha256 == digest:
        return graph, ValidationResult(True, ()), len(ids), digest
    return graph, validate(graph), len(ids), digest


def publish(session: Session, hub: Hub) -> tuple[str, ValidationResult, int]:
    """Build the catalogue graph from the complete products, validate it, store it if it conforms."""
    graph, result, datasets, digest = catalogue_graph(session, hub)
    stored = _cached(session, GRAPH_KEY)
    if stored is not None and stored.sha256 == digest:
        return stored.turtle, result, datasets
    turtle = serialize(graph, "ttl")
    found = placeholder_in(turtle)
    if found:
        raise Conflict(f"catalogue export: placeholder value {found!r} in the graph; fix the entry before publishing")
    if result.conforms:
        _remember(session, GRAPH_KEY, digest, datasets, turtle)
    return turtle, result, datasets


def stored_graph(session: Session) -> CatalogueGraph | None:
    return session.get(CatalogueGraph, GRAPH_KEY)


def publish_checked(session: Session, hub: Hub, product_ids: list[str]) -> ValidationResult | None:
    """After a change of many entries: recompute their status, then validate the catalogue graph *once*.

    Only when that graph does not conform are the changed entries validated one by one, to send the faulty
    ones back to draft, and the graph published again without them."""
    props = dict(hub.config.properties)
    for pid in product_ids:
        row = session.get(CatalogueProduct, pid)
        assert row is not None
        refresh_status(row, props)
    session.flush()
    if "base_url" not in props:
        return None
    _turtle, result, _datasets = publish(session, hub)
    if result.conforms:
        return result
    for pid in product_ids:
        check_product(session, hub, pid)
    session.flush()
    return publish(session, hub)[1]
