"""Pure rules of the catalogue: slugs, placeholders, completeness, disclosure-safe characterisation."""

from __future__ import annotations

import pytest

from guichet.catalogue.characterise import characterise, round10, safe_count
from guichet.catalogue.model import fold, placeholder_in, product_problems, slug
from guichet.catalogue.search import words
from guichet.demo.catalogue import DEMO_PROPERTIES


def test_slugs_and_folding() -> None:
    assert slug("PMSI MCO") == "pmsi-mco"
    assert slug("Causes de décès") == "causes-de-deces"
    assert fold("Décès À l'Hôpital") == "deces a l'hopital"


@pytest.mark.parametrize("value", ["TODO", "todo: write", "Lorem ipsum", "TBD", "a placeholder", "x@example.org",
                                   "https://www.example.com/a", "FIXME"])
def test_placeholders_are_found(value: str) -> None:
    assert placeholder_in(value)


@pytest.mark.parametrize("value", ["Todos los datos", "stbd", "examples of care", "Données de remboursement"])
def test_real_text_is_not_a_placeholder(value: str) -> None:
    assert placeholder_in(value) is None


def test_demo_properties_are_real_values() -> None:
    assert not [k for k, v in DEMO_PROPERTIES.items() if placeholder_in(v)]


def test_a_product_is_complete_only_with_every_mandatory_property() -> None:
    args = dict(title={"fr": "DCIR"}, description={"fr": "Remboursements"}, producer="cnam", themes=["HEAL"],
                keywords=["claims"], coverage={"territory": "FRA"}, properties={"health_categories": ["CLAIMS"]},
                hub_props=DEMO_PROPERTIES)
    assert product_problems(**args) == []  # type: ignore[arg-type]
    assert "missing: producer" in product_problems(**{**args, "producer": None})  # type: ignore[arg-type]
    props = {k: v for k, v in DEMO_PROPERTIES.items() if k != "legal_basis"}
    assert "missing hub property: legal_basis" in product_problems(**{**args, "hub_props": props})  # type: ignore[arg-type]
    assert any("placeholder" in p for p in product_problems(**{**args, "keywords": ["TODO"]}))  # type: ignore[arg-type]


def test_counts_are_rounded_to_ten_and_suppressed_under_the_threshold() -> None:
    assert [round10(n) for n in (0, 4, 5, 14, 15, 25, 1234)] == [0, 0, 10, 10, 20, 30, 1230]
    assert safe_count(10) is None and safe_count(11) == 10 and safe_count(123) == 120
    small = characterise(7, individuals=7, ages=[30, 31, 32, 33, 34, 35, 90])
    assert small.records is None and small.individuals is None and small.age_p5 is None
    assert set(small.suppressed) == {"records", "individuals", "ages"}
    big = characterise(1234, individuals=1001, ages=list(range(0, 101)) * 3)
    assert (big.records, big.individuals) == (1230, 1000)
    assert big.age_p5 == 5 and big.age_p95 == 95  # never the minimum or the maximum


def test_search_words_never_carry_query_syntax() -> None:
    assert words('"décès" OR x:* NEAR(') == ["deces", "or", "x", "near"]
    assert words("BEN_NIR_PSA") == ["ben", "nir", "psa"]
    assert len(words("a " * 50)) == 8
