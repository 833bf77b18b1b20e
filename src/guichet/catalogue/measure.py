"""Measuring published versions (DuckDB on the encrypted lake) and caching the exact figures.

The lake opens the version on an engine connection, which turns off the optimisers that make DuckDB 2.0.1
misread PyArrow-encrypted Parquet (``guichet.engine.connection``).
Figures are measured once per published version and kept in
``catalogue_characterisations``; a new version is measured the first time the catalogue shows it (or
when ``catalogue.characterise`` runs), and published only through ``characterise.characterise``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlglot import exp

from guichet.catalogue.profile import TableFigures, age_histogram, figures_from, plan_profile, stage_rows, totals
from guichet.catalogue.store import now
from guichet.catalogue.tables import CatalogueCharacterisation
from guichet.engine import Engine
from guichet.hub import Hub
from guichet.lake import open_version


def measure_version(hub: Hub, dataset: str, version: int, created_year: int) -> TableFigures:
    """Exact figures of one version, from its files (reads the version's files once)."""
    with Engine() as engine:
        src = open_version(hub, engine, dataset, version, view="char_src")
        columns = [str(r[0]) for r in engine.fetch_all(exp.Describe(this=exp.to_table(src.view)),
                                                       purpose=f"describe {dataset}")]
        plan = plan_profile(dataset, columns)
        engine.execute(stage_rows(plan, src.view), purpose=f"characterise {dataset} v{version}: rows", record=False)
        total = engine.fetch_all(totals(), purpose="characterise: totals")[0]
        histogram = [(int(a), int(n)) for a, n in engine.fetch_all(age_histogram(created_year),
                                                                   purpose="characterise: ages")
                     ] if plan.birth_year and plan.person else []
    return figures_from(plan, dataset, version, total, histogram)


def cached(session: Session, dataset: str, version: int) -> TableFigures | None:
    row = session.execute(select(CatalogueCharacterisation).where(
        CatalogueCharacterisation.dataset == dataset, CatalogueCharacterisation.version == version)).scalar_one_or_none()
    return TableFigures.from_dict(row.figures) if row is not None else None


def remember(session: Session, figures: TableFigures) -> None:
    row = session.execute(select(CatalogueCharacterisation).where(
        CatalogueCharacterisation.dataset == figures.dataset,
        CatalogueCharacterisation.version == figures.version)).scalar_one_or_none()
    if row is None:
        session.add(CatalogueCharacterisation(dataset=figures.dataset, version=figures.version,
                                              figures=figures.to_dict(), computed_at=now()))
    else:
        row.figures, row.computed_at = figures.to_dict(), now()
