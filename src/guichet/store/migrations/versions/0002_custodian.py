"""custodian (wrapped data keys, key ids, opt-out register)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Wrapped per-file data keys: the hub keeps them, only the custodian can unwrap them.
    op.create_table(
        "data_keys",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_index("ix_data_keys_purpose", "data_keys", ["purpose"])
    # The opt-out register (EHDS Art 71): one row per objection, its receipt only as a hash.
    op.create_table(
        "optouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("receipt_hash"),
    )
    # The person's hub pseudonyms (every domain, ano and psa); rewritten by rotation.
    op.create_table(
        "optout_pseudonyms",
        sa.Column("optout_id", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=17), nullable=False),
        sa.ForeignKeyConstraint(["optout_id"], ["optouts.id"]),
        sa.PrimaryKeyConstraint("optout_id", "pseudonym"),
    )
    op.create_index("ix_optout_pseudonyms_pseudonym", "optout_pseudonyms", ["pseudonym"])


def downgrade() -> None:
    op.drop_index("ix_optout_pseudonyms_pseudonym", table_name="optout_pseudonyms")
    op.drop_table("optout_pseudonyms")
    op.drop_table("optouts")
    op.drop_index("ix_data_keys_purpose", table_name="data_keys")
    op.drop_table("data_keys")
