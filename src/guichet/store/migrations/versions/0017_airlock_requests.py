"""airlock: output requests, their files and reviews, and the hub-wide differencing ledger

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "airlock_requests",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("permit", sa.String(24), nullable=False),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("org", sa.String(200), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("proposed", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("recheck", sa.Boolean(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", TZ, nullable=False),
        sa.Column("decided_at", TZ, nullable=True),
        sa.Column("released_at", TZ, nullable=True),
        sa.Column("released_by", sa.String(64), nullable=True),
    )
    for col in ("permit", "project", "author", "state"):
        op.create_index(f"ix_airlock_requests_{col}", "airlock_requests", [col])
    op.create_table(
        "airlock_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request", sa.String(24), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("group", sa.String(80), nullable=False),
        sa.Column("supporting", sa.Boolean(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("check", sa.JSON(), nullable=False),
        sa.Column("ledger", sa.JSON(), nullable=False),
        sa.Column("released_path", sa.String(1000), nullable=True),
        sa.Column("released_sha256", sa.String(64), nullable=True),
        sa.Column("recalled_at", TZ, nullable=True),
        sa.Column("recall_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_airlock_files_request", "airlock_files", ["request"])
    op.create_table(
        "airlock_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request", sa.String(24), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("checker", sa.String(64), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_airlock_reviews_request", "airlock_reviews", ["request"])
    op.create_index("ix_airlock_reviews_checker", "airlock_reviews", ["checker"])
    op.create_table(
        "airlock_ledger",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request", sa.String(24), nullable=False),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("cell", sa.Integer(), nullable=False),
        sa.Column("dims", sa.String(400), nullable=False),
        sa.Column("label", sa.String(400), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("persons", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("recalled", sa.Boolean(), nullable=False),
    )
    for col in ("request", "project", "dims"):
        op.create_index(f"ix_airlock_ledger_{col}", "airlock_ledger", [col])


def downgrade() -> None:
    op.drop_table("airlock_ledger")
    op.drop_table("airlock_reviews")
    op.drop_table("airlock_files")
    op.drop_table("airlock_requests")
