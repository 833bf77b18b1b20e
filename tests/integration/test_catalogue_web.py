"""The catalogue's pages and API in-process: public, accent-insensitive search, product and dictionary,
the validated Turtle, and no exact count for a product with a small population."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from rdflib import Graph
from starlette.testclient import TestClient

from guichet.catalogue import services as svc
from guichet.catalogue.model import placeholder_in
from guichet.catalogue.shacl import validate
from guichet.demo.catalogue import DEMO_PROPERTIES
from guichet.governance import Actor
from guichet.hub import Hub
from tests.conftest import SNDS_SCHEMAS, SYNTHETIC_SNDS
from tests.web_support import csrf_of

OPERATOR = Actor("operator", frozenset({"operator"}), strong_auth=True)


@pytest.fixture
def catalogue_hub(hub: Hub, tmp_path: Path) -> Hub:
    root = tmp_path / "schemas"
    for name in ("BENEFICIAIRE", "Causes de décès"):
        shutil.copytree(SNDS_SCHEMAS / name, root / name)
    svc.configure(hub, OPERATOR, properties=DEMO_PROPERTIES)
    svc.load_schemas(hub, OPERATOR, folder=root)
    return hub


def _deposit_published(hub: Hub, file: Path, schema: Path) -> None:
    """Deposit IR_BEN_R and publish it: the synthetic sample's random values may be held by the quality gate,
    which an operator overrides here (the catalogue shows published versions only)."""
    from guichet.deposit import services as deposit
    from guichet.deposit.model import DepositRequest, TableRequest
    from guichet.quality import services as quality

    deposit.add_producer(hub, OPERATOR, name="cnam", org="CNAM")
    [result] = deposit.deposit(hub, OPERATOR, request=DepositRequest(tables=(TableRequest(
        name="IR_BEN_R", dataset="IR_BEN_R", file=file, schema_path=schema, producer="cnam"),)))
    if result.status == "held":
        quality.override(hub, OPERATOR, dataset="IR_BEN_R", version=result.version,
                         reason="synthetic test data, published to test the catalogue")
    assert result.status in ("held", "published") and result.rows_quarantined == 0, result.quarantine_reasons


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
    sample = SYNTHETIC_SNDS / "BENEFICIAIRE"
    _deposit_published(catalogue_hub, sample / "IR_BEN_R.csv", sample / "IR_BEN_R.json")  # 10 people
    c = _client(catalogue_hub)
    data = c.get("/api/datasets/beneficiaire").json()
    char = data["characterisation"]
    assert char is not None and char["source"] == "data"  # measured on the published file
    assert char["records"] is None and char["individuals"] is None and char["departements"] is None
    assert char["age_p5"] is None and char["age_p95"] is None
    assert {"records", "individuals", "departements"} <= set(char["suppressed"])
    assert all(t["records"] is None and t["individuals"] is None for t in char["tables"])
    page = c.get("/catalogue/beneficiaire").text
    assert "withheld" in page or "masqué" in page
    assert ">10<" not in page and ">9<" not in page
    ttl = c.get("/api/catalogue.ttl").text
    assert "numberOfRecords" not in ttl and "numberOfUniqueIndividuals" not in ttl


def test_the_product_page_shows_the_quality_label_of_its_published_data(catalogue_hub: Hub) -> None:
    from guichet.quality import services as quality
    from guichet.quality.label import GRADES

    sample = SYNTHETIC_SNDS / "BENEFICIAIRE"
    _deposit_published(catalogue_hub, sample / "IR_BEN_R.csv", sample / "IR_BEN_R.json")

    quality.run_quality(catalogue_hub, OPERATOR, dataset="IR_BEN_R")
    c = _client(catalogue_hub)
    data = c.get("/api/datasets/beneficiaire").json()["quality"]
    [label] = data["datasets"]
    assert label["dataset"] == "IR_BEN_R" and label["grade"] in GRADES and label["passed"] + label["failed"] > 0
    assert data["grade"] == label["grade"]
    page = c.get("/catalogue/beneficiaire", headers={"Accept-Language": "en"}).text
    assert f"IR_BEN_R — {label['grade']}" in page and "failing_rows" not in page


def _beneficiaries(path: Path, people: int, seed: int = 7) -> list[int]:
    """A synthetic IR_BEN_R of ``people`` distinct persons (format of the synthetic-snds sample); their birth years."""
    import csv
    import random
    import string

    rng = random.Random(seed)
    sample = SYNTHETIC_SNDS / "BENEFICIAIRE" / "IR_BEN_R.csv"
    with sample.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header, template = list(reader.fieldnames or []), next(reader)
    years = [rng.randint(1935, 2004) for _ in range(people)]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        for i, year in enumerate(years):
            ids = {c: "".join(rng.choices(string.ascii_letters, k=17))
                   for c in ("BEN_NIR_PSA", "BEN_NIR_ANO", "BEN_IDT_ANO", "ASS_NIR_ANO")}
            w.writerow({**template, **ids, "BEN_RNG_GEM": "1",
                        "BEN_NAI_ANN": str(year), "BEN_RES_DPT": ("075", "013", "069")[i % 3]})
    return years


def test_the_characterisation_is_measured_on_the_published_data(catalogue_hub: Hub, tmp_path: Path) -> None:
    import datetime as dt

    from guichet.catalogue.characterise import percentile

    sample = SYNTHETIC_SNDS / "BENEFICIAIRE"
    years = _beneficiaries(tmp_path / "IR_BEN_R.csv", 57)
    _deposit_published(catalogue_hub, tmp_path / "IR_BEN_R.csv", sample / "IR_BEN_R.json")
    c = _client(catalogue_hub)
    char = c.get("/api/datasets/beneficiaire").json()["characterisation"]
    assert char["source"] == "data" and char["suppressed"] == []
    assert char["records"] == 60 and char["individuals"] == 60  # 57 measured, published rounded to 10
    ages = sorted(dt.date.today().year - y for y in years)  # a referential: age in the year of its deposit
    assert (char["age_p5"], char["age_p95"]) == (percentile(ages, 5), percentile(ages, 95))
    assert char["age_p5"] > min(ages) and char["age_p95"] < max(ages)  # never the extremes
    assert char["departements"] == 3 and char["period_start"] is None  # no event date in the referential
    [table] = char["tables"]
    assert table["dataset"] == "IR_BEN_R" and table["individuals"] == 60 and table["source"] == "data"
    page = c.get("/catalogue/beneficiaire", headers={"Accept-Language": "en"}).text
    assert f"{char['age_p5']}–{char['age_p95']}" in page and ">57<" not in page and "57" not in page.split("</h1>")[1]
    from guichet.catalogue.tables import CatalogueCharacterisation

    with catalogue_hub.store.read() as s:  # measured once, exact figures kept apart from what is published
        [row] = s.query(CatalogueCharacterisation).all()
        assert row.figures["individuals"] == 57 and row.figures["columns"]["person"] == "BEN_NIR_PSA"
    ttl = c.get("/api/catalogue.ttl").text
    assert "numberOfUniqueIndividuals" in ttl and '"57"' not in ttl


def _cached_client(hub: Hub, seconds: int) -> TestClient:
    from guichet.config import save_config
    from guichet.web import create_app

    config = hub.config.with_properties(web_catalogue_cache_seconds=seconds)
    save_config(config)
    return TestClient(create_app(config))


def _retitle(hub: Hub, title: str) -> None:
    """A change made outside this app (as the CLI or another worker would)."""
    svc.describe_product(hub, OPERATOR, product_id="beneficiaire", changes={"title": {"fr": title, "en": title}})


def test_cached_pages_follow_the_hubs_revision_within_the_documented_bound(catalogue_hub: Hub) -> None:
    # A cache trusted for an hour: a change elsewhere is not seen until this worker reads the revision again,
    # which any state-changing request made to it forces (here the public language form).
    with _cached_client(catalogue_hub, 3600) as c:
        c.headers["Accept-Language"] = "en"
        assert "Bénéficiaires renommés" not in c.get("/catalogue/beneficiaire").text
        for path in ("/catalogue/beneficiaire", "/api/datasets/beneficiaire", "/catalogue/beneficiaire/dictionary"):
            assert c.get(path).status_code == 200
        _retitle(catalogue_hub, "Bénéficiaires renommés")
        assert "Bénéficiaires renommés" not in c.get("/catalogue/beneficiaire").text  # kept: the bound is 1 h
        page = c.get("/catalogue")
        c.post("/language", data={"locale": "en", "csrf_token": csrf_of(page.text), "next": "/catalogue"})
        assert "Bénéficiaires renommés" in c.get("/catalogue/beneficiaire").text
        assert c.get("/api/datasets/beneficiaire").json()["title"]["en"] == "Bénéficiaires renommés"
        assert "renomm" in c.get("/api/search", params={"q": "renommes"}).text
    # The default (1 s): a change elsewhere shows within a second, with no request in between.
    with _cached_client(catalogue_hub, 1) as c:
        assert "Deuxième titre" not in c.get("/catalogue/beneficiaire").text
        _retitle(catalogue_hub, "Deuxième titre")
        time.sleep(1.1)
        assert "Deuxième titre" in c.get("/catalogue/beneficiaire").text
    # Off: every request reads the database.
    with _cached_client(catalogue_hub, 0) as c:
        c.get("/catalogue/beneficiaire")
        _retitle(catalogue_hub, "Troisième titre")
        assert "Troisième titre" in c.get("/catalogue/beneficiaire").text
        assert "catalogue" not in c.app.state.web.caches or not c.app.state.web.caches["catalogue"].enabled


def test_search_answers_are_kept_per_normalised_query(catalogue_hub: Hub) -> None:
    with _cached_client(catalogue_hub, 3600) as c:
        first = c.get("/api/search", params={"q": "Décès"}).json()["results"]
        cache = c.app.state.web.caches["catalogue"]
        misses = cache.misses
        for q in ("deces", "  DÉCÈS "):
            assert c.get("/api/search", params={"q": q}).json()["results"] == first
        assert cache.misses == misses and cache.hits >= 2
