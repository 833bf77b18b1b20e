"""The pinned shapes ship unmodified; a hand-made graph shows the validator finds what is missing."""

from __future__ import annotations

from datetime import UTC, datetime

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, RDF

from guichet.catalogue.dcat import DCAT, build_graph, serialize
from guichet.catalogue.model import ProductInfo, TableInfo, VariableInfo, placeholder_in
from guichet.catalogue.shacl import SHAPE_FILES, SHAPES, validate
from guichet.demo.catalogue import DEMO_PROPERTIES
from tests.conftest import SHARED

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _product() -> ProductInfo:
    var = VariableInfo("T1", "BEN_SEX_COD", 0, "integer", None, "1", True, {"fr": "Sexe du bénéficiaire"},
                       "IR_SEX_V", True)
    return ProductInfo(
        id="demo-product", code="DEMO", title={"fr": "Produit", "en": "Product"},
        description={"fr": "Description réelle", "en": "A real description"}, producer="cnam",
        producer_label="CNAM", themes=("HEAL",), keywords=("claims",), coverage={"territory": "FRA", "start": "2006"},
        frequency="ANNUAL", properties={"health_categories": ["CLAIMS"]}, status="complete", problems=(),
        source="test", created_at=NOW, updated_at=NOW, reviewed_at=NOW,
        tables=(TableInfo("T1", {"fr": "Table"}, {}, ("BEN_SEX_COD",), "0" * 64, 1, (var,)),))


def test_shapes_are_the_pinned_files() -> None:
    for name in SHAPE_FILES:
        pinned = SHARED / "data" / "ehds" / "healthdcat-ap" / name
        assert (SHAPES / name).read_bytes() == pinned.read_bytes(), name


def test_a_complete_product_validates_with_zero_violations() -> None:
    graph = build_graph(dict(DEMO_PROPERTIES), [(_product(), __import__("guichet.catalogue.dcat", fromlist=["x"]).ProductExtras())], NOW)
    result = validate(graph)
    assert result.conforms and result.violations == ()
    text = serialize(graph, "ttl")
    assert placeholder_in(text) is None
    assert "csvw:Table" in text and "csvw:Column" in text


def test_the_validator_reports_a_missing_mandatory_property() -> None:
    from guichet.catalogue.dcat import ProductExtras

    graph = build_graph(dict(DEMO_PROPERTIES), [(_product(), ProductExtras())], NOW)
    ds = URIRef(DEMO_PROPERTIES["base_url"] + "/catalogue/demo-product")
    graph.remove((ds, DCTERMS.accessRights, None))
    graph.remove((ds, DCAT.keyword, None))
    graph.add((ds, DCAT.version, Literal("1")))
    graph.add((ds, DCAT.version, Literal("2")))  # maxCount 1
    result = validate(graph)
    assert not result.conforms
    paths = {v.path for v in result.violations if v.severity == "Violation"}
    assert {str(DCTERMS.accessRights), str(DCAT.keyword), str(DCAT.version)} <= paths
    assert (ds, RDF.type, DCAT.Dataset) in graph
