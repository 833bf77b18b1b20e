"""Validating the HealthDCAT-AP graph offline with pySHACL and the pinned shapes.

The shapes are HealthDCAT-AP v0.1.2 for sensitive (non-public) data plus the class-range file v0.1.1, as
pinned in ``shared/data/ehds/healthdcat-ap`` (CC BY 4.0, European Union / HealthData@EU Pilot WP6); a copy
ships in ``shapes/`` so that an installed hub validates without the shared folder. Nothing is fetched:
``owl:imports`` are not followed, and the vocabulary subsets in ``vocabularies/`` are given as the
ontology graph.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS

from guichet.catalogue.dcat import vocabulary_graph

SHAPES = Path(__file__).parent / "shapes"
SHAPE_FILES = ("HealthDCAT-AP_sensitive-shapes.ttl", "HealthDCAT-AP_ranges.ttl")
SH = Namespace("http://www.w3.org/ns/shacl#")


@dataclass(frozen=True)
class Violation:
    focus: str
    path: str
    message: str
    severity: str

    def to_dict(self) -> dict[str, str]:
        return {"focus": self.focus, "path": self.path, "message": self.message, "severity": self.severity}

    def line(self) -> str:
        return f"{self.focus} {self.path}: {self.message}"


@dataclass(frozen=True)
class ValidationResult:
    conforms: bool
    violations: tuple[Violation, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"conforms": self.conforms, "violations": [v.to_dict() for v in self.violations]}


@cache
def shapes_graph(folder: Path = SHAPES) -> Graph:
    g = Graph()
    for name in SHAPE_FILES:
        g.parse(folder / name, format="turtle")
    return g


# Constraint parameters whose outcome on a node depends only on the *kinds* of its values (IRI, blank node,
# literal with its datatype and language) and their number per predicate, never on the values themselves.
STRUCTURAL = frozenset(SH[n] for n in ("path", "minCount", "maxCount", "nodeKind", "severity", "message", "name",
                                       "description", "order", "group", "deactivated"))
CSVW_COLUMN = URIRef("http://www.w3.org/ns/csvw#Column")
CSVW_COLUMN_PROP = URIRef("http://www.w3.org/ns/csvw#column")


@cache
def columns_reducible(folder: Path = SHAPES) -> bool:
    """Whether every shape that can reach a ``csvw:Column`` constrains it structurally only.

    Then columns with the same structure (same predicates, same kinds and counts of values, same types)
    get the same SHACL results, and validating one column of each structure is validating them all. The
    shapes are pinned, so this holds for HealthDCAT-AP 0.1.2; should a later version add a value
    constraint (a pattern, a length, a list of values), every column is validated again.
    """
    g = shapes_graph(folder)
    to_columns = list(g.subjects(SH.path, CSVW_COLUMN_PROP))
    column_shapes = set(g.subjects(SH.targetClass, CSVW_COLUMN)) | {n for ps in to_columns for n in g.objects(ps, SH.node)}
    if any(g.triples((None, SH.targetSubjectsOf, None))) or any(g.triples((None, SH.targetObjectsOf, None))) \
            or any(g.triples((None, SH.targetNode, None))):
        return False
    # Merging columns keeps at least one per table, but fewer distinct ones: no maximum on csvw:column. A
    # column's types are part of its structure, so sh:class on the link holds for the merged ones too.
    allowed_on_link = (STRUCTURAL - {SH.maxCount}) | {SH.node, SH["class"]}
    if any(p not in allowed_on_link for ps in to_columns for p in g.predicates(ps, None)):
        return False
    for shape in column_shapes:
        for pred, obj in g.predicate_objects(shape):
            if pred == SH.property:
                if any(p not in STRUCTURAL for p in g.predicates(obj, None)):
                    return False
            elif pred not in STRUCTURAL and pred not in (RDF.type, SH.targetClass, RDFS.label, RDFS.comment):
                return False
    return True


def _kind(term: Any) -> tuple[str, str, str]:
    if isinstance(term, Literal):
        return "literal", str(term.datatype or ""), term.language or ""
    return ("iri" if isinstance(term, URIRef) else "bnode"), "", ""


def reduce_columns(data: Graph) -> tuple[Graph, int]:
    """The graph with one ``csvw:Column`` per distinct structure (references redirected to it); (graph, columns)."""
    columns = set(data.subjects(RDF.type, CSVW_COLUMN))
    if len(columns) < 2:
        return data, len(columns)
    representative: dict[Any, Any] = {}
    first: dict[tuple[Any, ...], Any] = {}
    for col in columns:
        signature = tuple(sorted(Counter((str(p), *(_kind(o) if p != RDF.type else ("type", str(o), "")))
                                         for p, o in data.predicate_objects(col)).items()))
        representative[col] = first.setdefault(signature, col)
    reduced = Graph()
    for s, p, o in data:
        if s in representative:
            if representative[s] is s:
                reduced.add((s, p, o))
            continue
        reduced.add((s, p, representative.get(o, o)))
    return reduced, len(columns)


def validate(data: Graph, shapes_folder: Path = SHAPES, reduce: bool = True) -> ValidationResult:
    """Validate ``data`` against the pinned shapes (no inference, nothing fetched).

    Thousands of dictionary columns cost most of a validation; when the shapes allow it
    (``columns_reducible``), one column of each structure stands for all of its structure."""
    from pyshacl import validate as run

    if reduce and shapes_folder == SHAPES and columns_reducible(shapes_folder):
        data, _count = reduce_columns(data)
    conforms, report, _text = run(data, shacl_graph=shapes_graph(shapes_folder), ont_graph=vocabulary_graph(),
                                  inference="none", abort_on_first=False, allow_warnings=True,
                                  advanced=False, do_owl_imports=False)
    violations = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        severity = str(report.value(result, SH.resultSeverity) or "").rsplit("#", 1)[-1]
        violations.append(Violation(
            focus=str(report.value(result, SH.focusNode) or ""),
            path=str(report.value(result, SH.resultPath) or ""),
            message=str(report.value(result, SH.resultMessage) or "constraint not met"),
            severity=severity))
    violations.sort(key=lambda v: (v.severity != "Violation", v.focus, v.path))
    blocking = [v for v in violations if v.severity == "Violation"]
    return ValidationResult(bool(conforms) or not blocking, tuple(violations))
