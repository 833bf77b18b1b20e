"""ORM models of the catalogue (created by migration 0007). ORM objects stay inside this package.

The search index is not mapped here: it is an FTS5 virtual table on SQLite and a table with a
``tsvector`` column on PostgreSQL (see ``search.py``), both named ``catalogue_search``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guichet.store.models import Base


class CatalogueProduct(Base):
    """One data product (DCIR, PMSI MCO, causes of death...): the unit a researcher asks for."""

    __tablename__ = "catalogue_products"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # slug: dcir, pmsi-mco...
    code: Mapped[str] = mapped_column(String(128), unique=True)  # the source folder's name
    title: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # {"fr": ..., "en": ...}
    description: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    producer: Mapped[str | None] = mapped_column(String(64))  # a registered producer's name
    producer_label: Mapped[str | None] = mapped_column(String(200))
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    coverage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # start, end, territory, population
    frequency: Mapped[str | None] = mapped_column(String(32))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # product-level overrides
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | complete
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)  # why it is a draft
    source: Mapped[str] = mapped_column(String(300))
    content_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CatalogueTable(Base):
    __tablename__ = "catalogue_tables"
    __table_args__ = (UniqueConstraint("product_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("catalogue_products.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    description: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    primary_key: Mapped[list[str]] = mapped_column(JSON, default=list)
    schema_sha256: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)


class CatalogueVariable(Base):
    __tablename__ = "catalogue_variables"
    __table_args__ = (UniqueConstraint("table_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("catalogue_tables.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    table_name: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128), index=True)
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    format: Mapped[str | None] = mapped_column(String(64))
    length: Mapped[str | None] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    nomenclature: Mapped[str | None] = mapped_column(String(128))
    nomenclature_shipped: Mapped[bool] = mapped_column(Boolean, default=False)
    constraints: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    history: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # dateCreated, dateDeleted, dateMissing


class CatalogueJoinKey(Base):
    __tablename__ = "catalogue_join_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    table_name: Mapped[str] = mapped_column(String(128), index=True)
    fields: Mapped[list[str]] = mapped_column(JSON)
    ref_table: Mapped[str] = mapped_column(String(128), index=True)
    ref_fields: Mapped[list[str]] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(16))  # schema (foreignKeys) | dico (dico-snds join graph)
    note: Mapped[str | None] = mapped_column(String(300))


class CatalogueSchemaRevision(Base):
    """Every distinct schema of a table the catalogue has seen, with what changed from the previous one."""

    __tablename__ = "catalogue_schema_history"
    __table_args__ = (UniqueConstraint("product_id", "table_name", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    table_name: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    changes: Mapped[list[str]] = mapped_column(JSON, default=list)
    breaking: Mapped[bool] = mapped_column(Boolean, default=False)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    loaded_by: Mapped[str] = mapped_column(String(64))


class CatalogueGraph(Base):
    """The last validated HealthDCAT-AP graph (what /api/catalogue.ttl serves)."""

    __tablename__ = "catalogue_graph"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    turtle: Mapped[str] = mapped_column(Text)
    datasets: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    validated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CatalogueVersionNote(Base):
    """A producer's or operator's decision on a published version: superseded or retracted, and why."""

    __tablename__ = "catalogue_version_notes"
    __table_args__ = (UniqueConstraint("dataset", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # superseded | retracted
    reason: Mapped[str] = mapped_column(Text)
    replaced_by: Mapped[int | None] = mapped_column(Integer)
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CatalogueCharacterisation(Base):
    """Exact figures measured on one published dataset version (migration 0008). Never shown as they are:
    ``characterise.characterise`` rounds and suppresses them for the pages, the API and the export."""

    __tablename__ = "catalogue_characterisations"
    __table_args__ = (UniqueConstraint("dataset", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # profile.TableFigures.to_dict()
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
