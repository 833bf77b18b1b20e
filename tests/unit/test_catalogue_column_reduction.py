"""Validating one dictionary column per structure gives the same SHACL verdict as validating every column,
and the reduction is refused for shapes that look at column values."""

from __future__ import annotations

import shutil
from pathlib import Path

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF

from guichet.catalogue.shacl import SHAPE_FILES, SHAPES, columns_reducible, reduce_columns, validate

CSVW = Namespace("http://www.w3.org/ns/csvw#")


def _table(columns: int, broken: int | None = None, described: bool = True) -> Graph:
    g = Graph()
    t = URIRef("http://127.0.0.1:8000/catalogue/p/tables/T")
    g.add((t, RDF.type, CSVW.Table))
    g.add((t, CSVW.url, t))
    g.add((t, DCTERMS.title, Literal("T")))
    for i in range(columns):
        c = BNode(f"col-{i}")
        g.add((t, CSVW.column, c))
        g.add((c, RDF.type, CSVW.Column))
        g.add((c, CSVW.name, Literal(f"C{i}")))
        g.add((c, CSVW.titles, Literal(f"C{i}")))
        if i != broken:
            g.add((c, CSVW.datatype, Literal("string" if i % 2 else "integer")))
        if described:
            g.add((c, DCTERMS.description, Literal(f"column {i}", lang="fr")))
    return g


def test_the_pinned_shapes_constrain_columns_structurally() -> None:
    assert columns_reducible()


def test_same_structure_columns_merge_and_references_follow() -> None:
    g = _table(200)
    reduced, count = reduce_columns(g)
    assert count == 200
    kept = set(reduced.subjects(RDF.type, CSVW.Column))
    assert len(kept) == 1  # names, titles, types and descriptions differ only in value
    assert set(reduced.objects(None, CSVW.column)) == kept


def test_reduced_and_full_validation_agree() -> None:
    for graph in (_table(60), _table(60, broken=37), _table(60, described=False)):
        full = validate(graph, reduce=False)
        fast = validate(graph)
        assert fast.conforms == full.conforms
        assert {(v.path, v.message) for v in fast.violations} == {(v.path, v.message) for v in full.violations}
    assert not validate(_table(60, broken=37)).conforms, "a column without datatype is found among many"


def test_a_value_constraint_on_columns_turns_the_reduction_off(tmp_path: Path) -> None:
    for name in SHAPE_FILES:
        shutil.copy(SHAPES / name, tmp_path / name)
    with open(tmp_path / SHAPE_FILES[0], "a", encoding="utf-8") as f:
        f.write('\n:CSVWColumnShape sh:property [ sh:path csvw:name ; sh:pattern "^[A-Z_]+$" ] .\n')
    assert not columns_reducible(tmp_path)
