"""catalogue characterisation measured on published data (cache per dataset version)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

Exact figures (records, people, ages' 5th-95th percentiles, period, départements) of each published
dataset version, measured once; the catalogue publishes them only rounded and above the source's minimum
cell count (see docs/catalogue.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_characterisations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dataset", "version"),
    )
    op.create_index("ix_catalogue_characterisations_dataset", "catalogue_characterisations", ["dataset"])


def downgrade() -> None:
    op.drop_index("ix_catalogue_characterisations_dataset", "catalogue_characterisations")
    op.drop_table("catalogue_characterisations")
