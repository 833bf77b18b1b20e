"""Validating the HealthDCAT-AP graph offline with pySHACL and the pinned shapes.

The shapes are HealthDCAT-AP v0.1.2 for sensitive (non-public) data plus the class-range file v0.1.1, as
pinned in ``shared/data/ehds/healthdcat-ap`` (CC BY 4.0, European Union / HealthData@EU Pilot WP6); a copy
ships in ``shapes/`` so that an installed hub validates without the shared folder. Nothing is fetched:
``owl:imports`` are not followed, and the vocabulary subsets in ``vocabularies/`` are given as the
ontology graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rdflib import Graph, Namespace
from rdflib.namespace import RDF

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


def validate(data: Graph, shapes_folder: Path = SHAPES) -> ValidationResult:
    """Validate ``data`` against the pinned shapes (no inference, nothing fetched)."""
    from pyshacl import validate as run

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
