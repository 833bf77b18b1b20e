"""ORM models of the lake's register (migrations 0003 and 0010). ORM objects stay inside this package:
stages read ``VersionInfo`` records (``guichet.lake.versions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guichet.store.models import Base


class Producer(Base):
    """A registered data producer and the public key its quarantined identifier cells are sealed to."""

    __tablename__ = "producers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    org: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[str] = mapped_column(Text)  # PEM, X25519
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SchemaVersion(Base):
    __tablename__ = "schema_versions"
    __table_args__ = (UniqueConstraint("dataset", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    declared_version: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the schema's canonical JSON
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DatasetVersion(Base):
    """One deposit of one table = one version of a dataset, with its accounting and lineage."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deposit_id: Mapped[str] = mapped_column(String(40), index=True)
    delivery_id: Mapped[str | None] = mapped_column(String(40), index=True)
    dataset: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending published held rejected rolled_back
    mode: Mapped[str] = mapped_column(String(8))  # append | replace
    producer: Mapped[str | None] = mapped_column(String(64))
    schema_version: Mapped[int | None] = mapped_column(Integer)
    schema_sha256: Mapped[str] = mapped_column(String(64))
    input_sha256: Mapped[str] = mapped_column(String(64), index=True)
    input_file: Mapped[str] = mapped_column(String(500))
    rows_in: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)  # rows of the version (append adds up)
    quarantine_reasons: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{path, rows, key_id}]
    staging: Mapped[str | None] = mapped_column(String(500))
    quarantine_path: Mapped[str | None] = mapped_column(String(500))
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # quarantine purged
    label: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # quality label (EHDS Art 78), set by quality


class Snapshot(Base):
    """A named set of published versions and the person-index version: what an extract or an export read,
    so that it can be recomputed later on exactly the same data."""

    __tablename__ = "lake_snapshots"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    versions: Mapped[dict[str, int]] = mapped_column(JSON)  # dataset -> published version
    parts: Mapped[dict[str, Any]] = mapped_column(JSON)  # registered parts: person_index -> {version, inputs}


class LakeDataset(Base):
    """A dataset of the lake: the producer it belongs to and the identifier columns it declares.

    A dataset belongs to the producer that first deposited it, or to the one an operator assigned it to;
    only that producer's organisation (or an operator, audited) writes new versions of it. Its identifier
    columns are known from its first deposit: a later delivery cannot drop them (their values would then
    reach the lake unconverted)."""

    __tablename__ = "lake_datasets"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    producer: Mapped[str] = mapped_column(String(64), index=True)
    identifiers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # column -> {kind, state}
    assigned_by: Mapped[str | None] = mapped_column(String(64))  # the operator who assigned it, if one did
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
