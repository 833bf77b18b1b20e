"""workspace: the log of every session run (queries and scripts)

Revision ID: 0015
Revises: 0016
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspace_session_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("permit_id", sa.String(24), nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("exit", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("cpu_s", sa.Float(), nullable=False),
        sa.Column("peak_kb", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
    )
    op.create_index("ix_workspace_session_runs_permit_id", "workspace_session_runs", ["permit_id"])


def downgrade() -> None:
    op.drop_table("workspace_session_runs")
