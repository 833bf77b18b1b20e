"""stats: statistics requests (EHDS Art 69 health data requests)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "stats_requests",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("org", sa.String(200), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("assessment_due", sa.Date(), nullable=False),
        sa.Column("answer_due", sa.Date(), nullable=True),
        sa.Column("assessed_by", sa.String(64), nullable=True),
        sa.Column("assessed_at", TZ, nullable=True),
        sa.Column("committee_by", sa.String(64), nullable=True),
        sa.Column("answered_by", sa.String(64), nullable=True),
        sa.Column("answered_at", TZ, nullable=True),
        sa.Column("reviewed_by", sa.String(64), nullable=True),
        sa.Column("released_at", TZ, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=False),
    )
    op.create_index("ix_stats_requests_requester", "stats_requests", ["requester"])
    op.create_index("ix_stats_requests_state", "stats_requests", ["state"])


def downgrade() -> None:
    op.drop_index("ix_stats_requests_state", table_name="stats_requests")
    op.drop_index("ix_stats_requests_requester", table_name="stats_requests")
    op.drop_table("stats_requests")
