"""permit appeals: an appeal against a permit's end, lodged by its holder; while pending, the project's keys
are not shredded

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "permit_appeals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("permit_id", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lodged_by", sa.String(64), nullable=False),
        sa.Column("lodged_at", TZ, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
    )
    op.create_index("ix_permit_appeals_permit_id", "permit_appeals", ["permit_id"])
    op.create_index("ix_permit_appeals_state", "permit_appeals", ["state"])


def downgrade() -> None:
    op.drop_index("ix_permit_appeals_state", "permit_appeals")
    op.drop_index("ix_permit_appeals_permit_id", "permit_appeals")
    op.drop_table("permit_appeals")
