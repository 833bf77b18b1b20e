"""permits: explicit suspensions; airlock: re-checks of the sampled approved requests

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "permit_suspensions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("permit_id", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=True),
        sa.Column("suspended_by", sa.String(64), nullable=False),
        sa.Column("suspended_at", TZ, nullable=False),
        sa.Column("reinstated_by", sa.String(64), nullable=True),
        sa.Column("reinstated_at", TZ, nullable=True),
        sa.Column("reinstate_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_permit_suspensions_permit_id", "permit_suspensions", ["permit_id"])
    op.create_table(
        "airlock_rechecks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request", sa.String(24), nullable=False),
        sa.Column("checker", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_airlock_rechecks_request", "airlock_rechecks", ["request"])


def downgrade() -> None:
    op.drop_index("ix_airlock_rechecks_request", table_name="airlock_rechecks")
    op.drop_table("airlock_rechecks")
    op.drop_index("ix_permit_suspensions_permit_id", table_name="permit_suspensions")
    op.drop_table("permit_suspensions")
