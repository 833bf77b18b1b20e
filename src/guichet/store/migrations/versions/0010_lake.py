"""lake: a version's quality label in the register; snapshots; why a pair is in the clerical-review queue

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

The quality stage records each version's label (EHDS Art 78) with the version, so that the catalogue
reads it from the lake instead of from the quality stage's own tables. A snapshot names the published
versions and the person-index version that an extract or an export read. A clerical-review pair says
why it is queued: its probability is in the uncertain band, or it samples a probability bin for calibration
(pairs queued before this migration were in the band: the sample was added with the column's need).
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions") as batch:
        batch.add_column(sa.Column("label", sa.JSON(), nullable=True))
    op.create_table(
        "lake_snapshots",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
    )
    with op.batch_alter_table("linkage_review") as batch:
        batch.add_column(sa.Column("why", sa.String(16), nullable=True))
    # Versions checked before this migration get the label of their latest stored quality run.
    conn = op.get_bind()
    runs = conn.execute(sa.text(
        "SELECT r.id, r.dataset, r.version, r.label FROM quality_runs r WHERE r.id = "
        "(SELECT max(r2.id) FROM quality_runs r2 WHERE r2.dataset = r.dataset AND r2.version = r.version)"
    )).fetchall()
    for run_id, dataset, version, label in runs:
        counts: dict[str, int] = dict(conn.execute(sa.text("SELECT status, count(*) FROM quality_results WHERE run_id = :r "
                                           "GROUP BY status"), {"r": run_id}).fetchall())
        label = json.loads(label) if isinstance(label, str) else dict(label or {})
        label["checks"] = {k: int(counts.get(k, 0)) for k in ("pass", "fail", "not_applicable")}
        conn.execute(sa.text("UPDATE dataset_versions SET label = :label WHERE dataset = :d AND version = :v")
                     .bindparams(sa.bindparam("label", type_=sa.JSON())), {"label": label, "d": dataset, "v": version})


def downgrade() -> None:
    with op.batch_alter_table("linkage_review") as batch:
        batch.drop_column("why")
    op.drop_table("lake_snapshots")
    with op.batch_alter_table("dataset_versions") as batch:
        batch.drop_column("label")
