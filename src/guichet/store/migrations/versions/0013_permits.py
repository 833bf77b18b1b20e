"""permits: training attestations, fee estimates and invoices, the notification outbox, scheduler runs,
permits, their signed revisions and amendments

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "training_attestations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("attested_by", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_training_attestations_username", "training_attestations", ["username"])
    op.create_table(
        "fee_estimates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("application", sa.String(64), nullable=False),
        sa.Column("org", sa.String(200), nullable=False),
        sa.Column("org_kind", sa.String(16), nullable=False),
        sa.Column("schedule", sa.String(64), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
    )
    op.create_index("ix_fee_estimates_application", "fee_estimates", ["application"])
    op.create_index("ix_fee_estimates_state", "fee_estimates", ["state"])
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("application", sa.String(64), nullable=False),
        sa.Column("permit_id", sa.String(24), nullable=True),
        sa.Column("estimate_id", sa.Integer(), nullable=True),
        sa.Column("org", sa.String(200), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issued_at", TZ, nullable=False),
    )
    op.create_index("ix_invoices_application", "invoices", ["application"])
    op.create_index("ix_invoices_permit_id", "invoices", ["permit_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dedupe", sa.String(200), nullable=False, unique=True),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.Column("channel", sa.String(8), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
    )
    op.create_index("ix_notifications_recipient", "notifications", ["recipient"])
    op.create_index("ix_notifications_delivered_at", "notifications", ["delivered_at"])
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("today", sa.Date(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
    )
    op.create_table(
        "permits",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("application", sa.String(64), nullable=False, unique=True),
        sa.Column("org", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("ended_at", sa.Date(), nullable=True),
        sa.Column("exclude_until", sa.Date(), nullable=True),
        sa.Column("results_due", sa.Date(), nullable=True),
        sa.Column("delete_by", sa.Date(), nullable=True),
        sa.Column("keys_shredded_at", TZ, nullable=True),
    )
    op.create_index("ix_permits_org", "permits", ["org"])
    op.create_index("ix_permits_owner", "permits", ["owner"])
    op.create_index("ix_permits_state", "permits", ["state"])
    op.create_table(
        "permit_revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("permit_id", sa.String(24), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("permit_id", "revision"),
    )
    op.create_index("ix_permit_revisions_permit_id", "permit_revisions", ["permit_id"])
    op.create_table(
        "permit_amendments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("permit_id", sa.String(24), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
    )
    op.create_index("ix_permit_amendments_permit_id", "permit_amendments", ["permit_id"])


def downgrade() -> None:
    for table in ("permit_amendments", "permit_revisions", "permits", "job_runs", "notifications", "invoices", "fee_estimates",
                  "training_attestations"):
        op.drop_table(table)
