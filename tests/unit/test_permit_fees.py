"""The fee schedule: free for academic and public research, reduced for SMEs, priced for industry by
products, duration and compute; overridable by hub properties or a file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from guichet.errors import BadInput
from guichet.permits.fees import estimate, load_schedule, months_between


def test_industry_pays_products_months_and_compute() -> None:
    s = load_schedule()
    est = estimate(s, "industry", products=2, months=12, compute_hours=100)
    p = s.prices
    assert est.total_cents == p["application"] + 2 * p["per_product"] + 12 * p["per_month"] + 100 * p["per_compute_hour"]
    assert est.total_cents == 30000 + 100000 + 180000 + 4000
    assert [ln.item for ln in est.lines] == ["application", "products", "months", "compute_hours"]
    assert est.to_dict()["total"] == "3140.00 EUR"


@pytest.mark.parametrize(("kind", "total"), [("academic", 0), ("public_body", 0), ("sme", 157000), ("industry", 314000)])
def test_the_organisation_kind_sets_the_share(kind: str, total: int) -> None:
    est = estimate(load_schedule(), kind, products=2, months=12, compute_hours=100)
    assert est.total_cents == total
    assert sum(ln.amount_cents for ln in est.lines) == total  # the reduction is a line of its own


def test_more_products_months_or_compute_never_cost_less() -> None:
    s = load_schedule()
    base = estimate(s, "industry", 1, 6, 10).total_cents
    assert estimate(s, "industry", 2, 6, 10).total_cents > base
    assert estimate(s, "industry", 1, 7, 10).total_cents > base
    assert estimate(s, "industry", 1, 6, 11).total_cents > base


def test_properties_and_a_file_override_the_schedule(tmp_path: Path) -> None:
    f = tmp_path / "fees.toml"
    f.write_text('name = "regional"\n[prices]\nper_product = 1000\n[share]\nsme = 10\n', encoding="utf-8")
    s = load_schedule({"fees_file": str(f), "fees": {"prices": {"application": 0}}})
    assert s.name == "regional" and s.prices["per_product"] == 1000 and s.prices["application"] == 0
    assert s.prices["per_month"] == 15000  # the rest from the default
    assert estimate(s, "sme", 1, 1, 0).total_cents == 1600  # ceil((1000 + 15000) * 10 %)
    with pytest.raises(BadInput):
        load_schedule({"fees": {"share": {"sme": 150}}})
    with pytest.raises(BadInput):
        load_schedule({"fees_file": str(tmp_path / "missing.toml")})
    with pytest.raises(BadInput):
        estimate(s, "charity", 1, 1)


def test_months_are_started_months() -> None:
    assert months_between(date(2026, 1, 1), date(2026, 1, 31)) == 1
    assert months_between(date(2026, 1, 1), date(2026, 2, 1)) == 2
    assert months_between(date(2026, 1, 15), date(2026, 2, 14)) == 1
    assert months_between(date(2026, 1, 15), date(2028, 1, 14)) == 24
    with pytest.raises(BadInput):
        months_between(date(2026, 2, 1), date(2026, 1, 1))
