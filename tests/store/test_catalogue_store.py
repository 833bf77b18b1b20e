"""Catalogue on SQLite and PostgreSQL: idempotent schema loading, accent-insensitive search, drafts, export."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from guichet.catalogue import services as svc
from guichet.catalogue.model import fold
from guichet.catalogue.tables import CatalogueSchemaRevision, CatalogueVariable
from guichet.demo.catalogue import DEMO_PROPERTIES
from guichet.errors import BadInput, Refused
from guichet.governance import Actor
from guichet.hub import Hub
from guichet.store.models import AuditEvent
from tests.conftest import SNDS_SCHEMAS

SCHEMAS = SNDS_SCHEMAS
OPERATOR = Actor("operator", frozenset({"operator"}), strong_auth=True)


def _subset(tmp_path: Path, *folders: str) -> Path:
    root = tmp_path / "schemas"
    for name in folders:
        shutil.copytree(SCHEMAS / name, root / name)
    return root


def _events(hub: Hub) -> int:
    with hub.store.read() as s:
        return s.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def test_loading_twice_changes_nothing(store_hub: Hub, tmp_path: Path) -> None:
    root = _subset(tmp_path, "BENEFICIAIRE", "Causes de décès")
    first = svc.load_schemas(store_hub, OPERATOR, folder=root)
    assert first.products == {"beneficiaire": "created", "causes-de-deces": "created"}
    assert first.tables == 4 and first.variables == 99
    with store_hub.store.read() as s:
        variables = s.execute(select(func.count()).select_from(CatalogueVariable)).scalar_one()
        revisions = s.execute(select(func.count()).select_from(CatalogueSchemaRevision)).scalar_one()
    second = svc.load_schemas(store_hub, OPERATOR, folder=root)
    assert second.products == {"beneficiaire": "unchanged", "causes-de-deces": "unchanged"}
    assert not second.changed
    with store_hub.store.read() as s:
        assert s.execute(select(func.count()).select_from(CatalogueVariable)).scalar_one() == variables == 99
        assert s.execute(select(func.count()).select_from(CatalogueSchemaRevision)).scalar_one() == revisions == 4


def test_a_changed_schema_is_a_new_revision_with_its_changes(store_hub: Hub, tmp_path: Path) -> None:
    root = _subset(tmp_path, "BENEFICIAIRE")
    svc.load_schemas(store_hub, OPERATOR, folder=root)
    path = root / "BENEFICIAIRE" / "IR_BEN_R.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    removed = raw["fields"].pop()["name"]
    path.write_text(json.dumps(raw), encoding="utf-8")
    report = svc.load_schemas(store_hub, OPERATOR, folder=root)
    assert report.products == {"beneficiaire": "updated"}
    info = svc.show_product(store_hub, OPERATOR, product_id="beneficiaire")
    ben = next(t for t in info.tables if t.name == "IR_BEN_R")
    assert ben.revision == 2 and removed not in {v.name for v in ben.variables}
    last = [h for h in info.history if h.table == "IR_BEN_R"][-1]
    assert last.breaking and f"field {removed} removed" in last.changes


@pytest.mark.parametrize("query", ["décès", "deces", "DECES", "Décés"])
def test_search_ignores_accents_and_case(store_hub: Hub, tmp_path: Path, query: str) -> None:
    svc.load_schemas(store_hub, OPERATOR, folder=_subset(tmp_path, "BENEFICIAIRE", "Causes de décès"))
    hits = svc.search_catalogue(store_hub, OPERATOR, text=query)
    assert hits, query
    assert {"causes-de-deces", "beneficiaire"} & {h.product_id for h in hits}
    assert any(h.kind == "product" and h.product_id == "causes-de-deces" for h in hits)


def test_search_does_not_widen_a_word_to_its_stem_prefix(store_hub: Hub, tmp_path: Path) -> None:
    """'deces' finds 'décès', not every word beginning with its stem 'dec' ('déclaration', 'décembre'): on
    PostgreSQL a query word matches a stem exactly or a whole word by prefix; SQLite has no stemmer. A
    partial word still finds the whole word by prefix."""
    # CARTOGRAPHIE_PATHOLOGIES' descriptions say 'décembre' and 'déclaré'
    svc.load_schemas(store_hub, OPERATOR, folder=_subset(tmp_path, "Causes de décès", "CARTOGRAPHIE_PATHOLOGIES"))
    hits = svc.search_catalogue(store_hub, OPERATOR, text="deces")
    assert hits
    wide = [h.ref for h in hits if not re.search(r"\bdec(es\w*|e)?\b", fold(f"{h.title} {h.snippet}"))]
    assert not wide, f"hits without the word: {wide[:5]}"
    assert any(h.product_id == "causes-de-deces" for h in svc.search_catalogue(store_hub, OPERATOR, text="cause dece"))


def test_search_finds_variables_by_name_and_refuses_nothing_odd(store_hub: Hub, tmp_path: Path) -> None:
    svc.load_schemas(store_hub, OPERATOR, folder=_subset(tmp_path, "BENEFICIAIRE"))
    hits = svc.search_catalogue(store_hub, OPERATOR, text="BEN_NAI_ANN")
    assert any(h.kind == "variable" and h.ref.endswith(".BEN_NAI_ANN") for h in hits)
    # query syntax of FTS5 / tsquery never reaches the engine: operators and quotes are just separators
    for odd in ['"', "a OR b", "*", "NEAR(", "x:*", "!", "'; DROP TABLE x; --", "   "]:
        svc.search_catalogue(store_hub, OPERATOR, text=odd)
    assert svc.search_catalogue(store_hub, OPERATOR, text="zzzzqqq") == []


def test_products_stay_drafts_until_hub_properties_are_set(store_hub: Hub, tmp_path: Path) -> None:
    report = svc.load_schemas(store_hub, OPERATOR, folder=_subset(tmp_path, "BENEFICIAIRE"))
    assert report.complete == [] and any("base_url" in p for p in report.drafts["beneficiaire"])
    out = svc.configure(store_hub, OPERATOR, properties=DEMO_PROPERTIES)
    assert out["complete"] == ["beneficiaire"]
    export = svc.export_catalogue(store_hub, OPERATOR, fmt="ttl")
    assert export.datasets == 1 and export.validation.conforms and not export.validation.violations
    assert "IR_BEN_R" in export.text and "csvw:Column" in export.text


def test_placeholders_are_refused_and_the_refusal_is_audited(store_hub: Hub, tmp_path: Path) -> None:
    svc.load_schemas(store_hub, OPERATOR, folder=_subset(tmp_path, "BENEFICIAIRE"))
    for value in ("TODO", "Lorem ipsum dolor", "see https://example.org/x", "TBD later"):
        with pytest.raises(BadInput, match="placeholder"):
            svc.describe_product(store_hub, OPERATOR, product_id="beneficiaire", changes={"keywords": [value]})
    with pytest.raises(BadInput, match="placeholder"):
        svc.configure(store_hub, OPERATOR, properties={"contact_email": "someone@example.com"})


def test_a_producer_describes_only_its_own_products(store_hub: Hub, tmp_path: Path) -> None:
    svc.load_schemas(store_hub, OPERATOR, folder=_subset(tmp_path, "BENEFICIAIRE"))
    stranger = Actor("atih.producer", frozenset({"producer"}), org="ATIH", strong_auth=True)
    before = _events(store_hub)
    with pytest.raises(Refused, match="not of the producer"):
        svc.describe_product(store_hub, stranger, product_id="beneficiaire", changes={"frequency": "ANNUAL"})
    assert _events(store_hub) == before + 1
