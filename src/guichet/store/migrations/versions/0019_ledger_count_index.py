"""airlock: an index on the differencing ledger's cell sizes (the ledger reads only the cells whose size is
within the threshold of a new cell's)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_airlock_ledger_count", "airlock_ledger", ["count"])


def downgrade() -> None:
    op.drop_index("ix_airlock_ledger_count", table_name="airlock_ledger")
