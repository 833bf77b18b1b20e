"""linkage (person index versions, link events, review queue)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linkage_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),  # pending | committed | rolled_back
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("origin", sa.String(400), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(400), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),  # name -> {path, key_id, wrapped, rows}
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "linkage_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),  # merge | split
        sa.Column("person_id", sa.String(16), nullable=False, index=True),
        sa.Column("other", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "linkage_review",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False, index=True),
        sa.Column("cert_table", sa.String(200), nullable=False),
        sa.Column("cert_row", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.String(16), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("calibrated", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # open | match | non_match | superseded
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(400), nullable=True),
    )
    op.create_index("ix_linkage_review_pair", "linkage_review", ["cert_table", "cert_row", "person_id"])


def downgrade() -> None:
    op.drop_index("ix_linkage_review_pair", table_name="linkage_review")
    op.drop_table("linkage_review")
    op.drop_table("linkage_events")
    op.drop_table("linkage_runs")
