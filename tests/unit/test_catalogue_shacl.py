"""The pinned shapes ship unmodified; a hand-made graph shows the validator finds what is missing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, RDF

from guichet.catalogue.dcat import DCAT, build_graph, serialize
from guichet.catalogue.model import ProductInfo, TableInfo, VariableInfo, placeholder_in
from guichet.catalogue.shacl import SHAPE_FILES, SHAPES, validate
from guichet.demo.catalogue import DEMO_PROPERTIES

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# sha256 of the files of CAVDgit/healthDCAT-AP.github.io at commit 53039fc3061c46f60bdc55c021df281e405f890d
# (taken from the pinned copies in shared/data/ehds/healthdcat-ap), so that a fresh clone checks them alone.
PINNED = {
    "HealthDCAT-AP_sensitive-shapes.ttl": "dc33abf8f878101cb8d385adb48ca460ee576a992e2ddb7fedea7e66c224a809",
    "HealthDCAT-AP_ranges.ttl": "8bfb21ab1ece44d96c1a8af67771e54a999fb723feb0074ce48f52cec938c2da",
}


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
    assert set(SHAPE_FILES) == set(PINNED)
    for name in SHAPE_FILES:
        assert hashlib.sha256((SHAPES / name).read_bytes()).hexdigest() == PINNED[name], name


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
