"""The catalogue's pages and API in-process: public, accent-insensitive search, product and dictionary,
the validated Turtle, and no exact count for a product with a small population."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rdflib import Graph
from starlette.testclient import TestClient

from guichet.catalogue import catalogue_services as svc
from guichet.catalogue.model import placeholder_in
from guichet.catalogue.shacl import validate
from guichet.demo.catalogue import DEMO_PROPERTIES
from guichet.governance import Actor
from guichet.hub import Hub
from tests.conftest import SHARED

SNDS = SHARED / "data" / "snds"
OPERATOR = Actor("operator", frozenset({"operator"}), strong_auth=True)


@pytest.fixture
def catalogue_hub(hub: Hub, tmp_path: Path) -> Hub:
    root = tmp_path / "schemas"
    for name in ("BENEFICIAIRE", "Causes de décès"):
        shutil.copytree(SNDS / "schema-snds" / "schemas" / name, root / name)
    svc.configure(hub, OPERATOR, properties=DEMO_PROPERTIES)
    svc.load_schemas(hub, OPERATOR, folder=root)
    return hub


def _client(hub: Hub) -> TestClient:
    from guichet.web import create_app

    return TestClient(create_app(hub.config))


def test_pages_and_api_are_public_and_search_ignores_accents(catalogue_hub: Hub) -> None:
    c = _client(catalogue_hub)
    assert c.get("/catalogue").status_code == 200
    for q in ("décès", "deces"):
        body = c.get("/api/search", params={"q": q}).json()
        assert any(r["product"] == "causes-de-deces" and r["kind"] == "product" for r in body["results"]), q
        page = c.get("/catalogue/search", params={"q": q})
        assert page.status_code == 200 and "/catalogue/causes-de-deces" in page.text
    product = c.get("/catalogue/beneficiaire")
    assert product.status_code == 200 and "IR_BEN_R" in product.text
    dictionary = c.get("/catalogue/beneficiaire/dictionary")
    assert "BEN_SEX_COD" in dictionary.text and "MASCULIN" in dictionary.text  # shipped IR_SEX_V values
    data = c.get("/api/datasets/beneficiaire").json()
    assert data["status"] == "complete" and data["characterisation"] is None
    assert c.get("/api/datasets/nope").status_code == 404
    producers = c.get("/catalogue/producers").text
    assert "CépiDc" in producers and "CNAM" in producers


def test_catalogue_ttl_is_the_validated_graph_without_placeholders(catalogue_hub: Hub) -> None:
    r = _client(catalogue_hub).get("/api/catalogue.ttl")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/turtle")
    assert placeholder_in(r.text) is None
    graph = Graph().parse(data=r.text, format="turtle")
    result = validate(graph)
    assert result.conforms and not result.violations
    assert "causes-de-deces" in r.text and "beneficiaire" in r.text


def test_a_small_population_shows_no_exact_count(catalogue_hub: Hub, tmp_path: Path) -> None:
    from guichet.deposit import services as deposit
    from guichet.deposit.model import DepositRequest, TableRequest

    sample = SNDS / "synthetic-snds" / "schemas" / "BENEFICIAIRE"
    deposit.add_producer(catalogue_hub, OPERATOR, name="cnam", org="CNAM")
    deposit.deposit(catalogue_hub, OPERATOR, request=DepositRequest(tables=(TableRequest(
        name="IR_BEN_R", dataset="IR_BEN_R", file=sample / "IR_BEN_R.csv", schema_path=sample / "IR_BEN_R.json",
        producer="cnam"),)))
    c = _client(catalogue_hub)
    data = c.get("/api/datasets/beneficiaire").json()
    char = data["characterisation"]
    assert char is not None and char["records"] is None and "records" in char["suppressed"]
    page = c.get("/catalogue/beneficiaire").text
    assert "withheld" in page or "masqué" in page
    assert ">10<" not in page and ">9<" not in page


def test_the_product_page_shows_the_quality_label_of_its_published_data(catalogue_hub: Hub) -> None:
    from guichet.deposit import services as deposit
    from guichet.deposit.model import DepositRequest, TableRequest
    from guichet.quality.label import GRADES

    sample = SNDS / "synthetic-snds" / "schemas" / "BENEFICIAIRE"
    deposit.add_producer(catalogue_hub, OPERATOR, name="cnam", org="CNAM")
    deposit.deposit(catalogue_hub, OPERATOR, request=DepositRequest(tables=(TableRequest(
        name="IR_BEN_R", dataset="IR_BEN_R", file=sample / "IR_BEN_R.csv", schema_path=sample / "IR_BEN_R.json",
        producer="cnam"),)))
    from guichet.quality import services as quality

    quality.run_quality(catalogue_hub, OPERATOR, dataset="IR_BEN_R")
    c = _client(catalogue_hub)
    data = c.get("/api/datasets/beneficiaire").json()["quality"]
    [label] = data["datasets"]
    assert label["dataset"] == "IR_BEN_R" and label["grade"] in GRADES and label["passed"] + label["failed"] > 0
    assert data["grade"] == label["grade"]
    page = c.get("/catalogue/beneficiaire", headers={"Accept-Language": "en"}).text
    assert f"IR_BEN_R — {label['grade']}" in page and "failing_rows" not in page
