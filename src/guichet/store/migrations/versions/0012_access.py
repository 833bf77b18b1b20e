"""access: applications, their revisions, reviews, panels; organisations get a kind

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

Organisations get a kind (academic, public_body, industry, sme, producer, hub): fees and conflict rules
read it. Existing ones get theirs: the organisation of an operator account is the hub's own (hub); the
organisation of a registered producer or of a producer account is a producer; every other one is taken
as academic (an operator corrects it when it is not).
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _kinds() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE organisations SET kind = 'academic'"))
    conn.execute(sa.text("UPDATE organisations SET kind = 'producer' WHERE name IN (SELECT org FROM producers) "
                         "OR id IN (SELECT u.org_id FROM users u JOIN user_roles r ON r.user_id = u.id "
                         "WHERE r.role = 'producer')"))
    conn.execute(sa.text("UPDATE organisations SET kind = 'hub' WHERE id IN (SELECT u.org_id FROM users u "
                         "JOIN user_roles r ON r.user_id = u.id WHERE r.role = 'operator')"))


def upgrade() -> None:
    # A plain ADD COLUMN (no table rebuild: on SQLite, rebuilding a table that accounts reference fails).
    op.add_column("organisations", sa.Column("kind", sa.String(16), nullable=False, server_default="academic"))
    _kinds()

    op.create_table(
        "access_applications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("applicant", sa.String(64), nullable=False),
        sa.Column("org", sa.String(200), nullable=False),
        sa.Column("org_kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("opinion", sa.String(16), nullable=True),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("step_started", sa.Date(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("answer_due", sa.Date(), nullable=True),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_access_applications_applicant", "access_applications", ["applicant"])
    op.create_index("ix_access_applications_state", "access_applications", ["state"])
    op.create_table(
        "access_revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("application_id", sa.Integer(), sa.ForeignKey("access_applications.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("why", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("application_id", "number"),
    )
    op.create_index("ix_access_revisions_application_id", "access_revisions", ["application_id"])
    op.create_table(
        "access_history",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("application_id", sa.Integer(), sa.ForeignKey("access_applications.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
    )
    op.create_index("ix_access_history_application_id", "access_history", ["application_id"])
    op.create_table(
        "access_clock_stops",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("application_id", sa.Integer(), sa.ForeignKey("access_applications.id"), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("stopped", sa.Date(), nullable=False),
        sa.Column("resumed", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_access_clock_stops_application_id", "access_clock_stops", ["application_id"])
    op.create_table(
        "access_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("application_id", sa.Integer(), sa.ForeignKey("access_applications.id"), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(64), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_access_notes_application_id", "access_notes", ["application_id"])
    op.create_table(
        "access_opinions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("application_id", sa.Integer(), sa.ForeignKey("access_applications.id"), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("panel", sa.String(16), nullable=False),
        sa.Column("binding", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rapporteur", sa.String(64), nullable=False),
        sa.Column("present", sa.JSON(), nullable=False),
        sa.Column("vote", sa.JSON(), nullable=False),
        sa.Column("conflicts", sa.JSON(), nullable=False),
        sa.Column("given_by", sa.String(64), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_access_opinions_application_id", "access_opinions", ["application_id"])
    op.create_table(
        "access_panels",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("binding", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "access_panel_members",
        sa.Column("panel", sa.String(16), sa.ForeignKey("access_panels.name"), primary_key=True),
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("access_panel_members")
    op.drop_table("access_panels")
    for table in ("access_opinions", "access_notes", "access_clock_stops", "access_history", "access_revisions"):
        op.drop_index(f"ix_{table}_application_id", table_name=table)
        op.drop_table(table)
    op.drop_index("ix_access_applications_state", table_name="access_applications")
    op.drop_index("ix_access_applications_applicant", table_name="access_applications")
    op.drop_table("access_applications")
    op.drop_column("organisations", "kind")  # SQLite 3.35+ drops a column in place
