"""lake: datasets belong to a producer and keep their identifier columns

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

A dataset belongs to the producer that first deposited it (or to which an operator assigned it): another
producer could replace it before. Its identifier columns are kept with it, so that a later delivery that
omits them cannot store level-1 pseudonyms unconverted. Existing datasets get the producer and the
identifier roles of their first version that named a producer.
"""

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lake_datasets",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("producer", sa.String(64), nullable=False),
        sa.Column("identifiers", sa.JSON(), nullable=False),
        sa.Column("assigned_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_lake_datasets_producer", "lake_datasets", ["producer"])
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT dataset, producer, lineage FROM dataset_versions "
                                "WHERE producer IS NOT NULL ORDER BY dataset, version")).fetchall()
    seen: set[str] = set()
    now = dt.datetime.now(dt.UTC)
    insert = sa.text("INSERT INTO lake_datasets (name, producer, identifiers, assigned_by, created_at, updated_at) "
                     "VALUES (:n, :p, :i, NULL, :t, :t)").bindparams(sa.bindparam("i", type_=sa.JSON()))
    for dataset, producer, lineage in rows:
        if dataset in seen:
            continue
        seen.add(dataset)
        lineage = json.loads(lineage) if isinstance(lineage, str) else dict(lineage or {})
        conn.execute(insert, {"n": dataset, "p": producer, "i": dict(lineage.get("identifiers") or {}), "t": now})


def downgrade() -> None:
    op.drop_index("ix_lake_datasets_producer", table_name="lake_datasets")
    op.drop_table("lake_datasets")
