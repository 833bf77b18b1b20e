"""deposit (datasets, versions, deposits, lineage, producers)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "producers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("org", sa.String(200), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "schema_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset", sa.String(128), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("declared_version", sa.String(64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dataset", "version"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deposit_id", sa.String(40), nullable=False, index=True),
        sa.Column("delivery_id", sa.String(40), nullable=True, index=True),
        sa.Column("dataset", sa.String(128), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("producer", sa.String(64), nullable=True),
        sa.Column("schema_version", sa.Integer(), nullable=True),
        sa.Column("schema_sha256", sa.String(64), nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("input_file", sa.String(500), nullable=False),
        sa.Column("rows_in", sa.Integer(), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("quarantine_reasons", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("staging", sa.String(500), nullable=True),
        sa.Column("quarantine_path", sa.String(500), nullable=True),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("dataset", "version"),
    )


def downgrade() -> None:
    op.drop_table("dataset_versions")
    op.drop_table("schema_versions")
    op.drop_table("producers")
