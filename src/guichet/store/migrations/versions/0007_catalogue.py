"""catalogue (products, tables, variables, search index, uploads)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

The search index differs per database: an FTS5 virtual table whose tokenizer removes diacritics on
SQLite; on PostgreSQL a table with a ``tsvector`` column built with the ``guichet_fr`` text search
configuration (French stemming after ``unaccent``), which needs the ``unaccent`` extension (shipped with
PostgreSQL's contrib; creating it needs a role allowed to, see docs/catalogue.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _ts() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "catalogue_products",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(128), nullable=False, unique=True),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("producer", sa.String(64), nullable=True),
        sa.Column("producer_label", sa.String(200), nullable=True),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("coverage", sa.JSON(), nullable=False),
        sa.Column("frequency", sa.String(32), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        _ts(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "catalogue_tables",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("product_id", sa.String(64), sa.ForeignKey("catalogue_products.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("name", sa.String(128), nullable=False, index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("primary_key", sa.JSON(), nullable=False),
        sa.Column("schema_sha256", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.UniqueConstraint("product_id", "name"),
    )
    op.create_table(
        "catalogue_variables",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("table_id", sa.Integer(), sa.ForeignKey("catalogue_tables.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("product_id", sa.String(64), nullable=False, index=True),
        sa.Column("table_name", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False, index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("format", sa.String(64), nullable=True),
        sa.Column("length", sa.String(16), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("nomenclature", sa.String(128), nullable=True),
        sa.Column("nomenclature_shipped", sa.Boolean(), nullable=False),
        sa.Column("constraints", sa.JSON(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.UniqueConstraint("table_id", "name"),
    )
    op.create_table(
        "catalogue_join_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("product_id", sa.String(64), nullable=False, index=True),
        sa.Column("table_name", sa.String(128), nullable=False, index=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("ref_table", sa.String(128), nullable=False, index=True),
        sa.Column("ref_fields", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("note", sa.String(300), nullable=True),
    )
    op.create_table(
        "catalogue_schema_history",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("product_id", sa.String(64), nullable=False, index=True),
        sa.Column("table_name", sa.String(128), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("breaking", sa.Boolean(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("product_id", "table_name", "revision"),
    )
    op.create_table(
        "catalogue_graph",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("turtle", sa.Text(), nullable=False),
        sa.Column("datasets", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "catalogue_uploads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("producer", sa.String(64), nullable=False, index=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=True),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        _ts(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "catalogue_version_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset", sa.String(128), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("replaced_by", sa.Integer(), nullable=True),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dataset", "version"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        op.execute("""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'guichet_fr') THEN
                CREATE TEXT SEARCH CONFIGURATION guichet_fr (COPY = french);
                ALTER TEXT SEARCH CONFIGURATION guichet_fr
                  ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem;
              END IF;
            END $$""")
        op.execute("""
            CREATE TABLE catalogue_search (
              id SERIAL PRIMARY KEY,
              kind VARCHAR(16) NOT NULL,
              product_id VARCHAR(64) NOT NULL,
              ref VARCHAR(300) NOT NULL,
              title TEXT NOT NULL,
              body TEXT NOT NULL,
              document TSVECTOR NOT NULL
            )""")
        op.execute("CREATE INDEX ix_catalogue_search_document ON catalogue_search USING GIN (document)")
        op.execute("CREATE INDEX ix_catalogue_search_product ON catalogue_search (product_id)")
    else:
        # remove_diacritics 2: 'décès', 'DECES' and 'deces' are one token (also for letters with several marks)
        op.execute("CREATE VIRTUAL TABLE catalogue_search USING fts5("
                   "kind UNINDEXED, product_id UNINDEXED, ref UNINDEXED, title, body, "
                   "tokenize = 'unicode61 remove_diacritics 2')")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS catalogue_search")
    for name in ("catalogue_version_notes", "catalogue_uploads", "catalogue_graph", "catalogue_schema_history",
                 "catalogue_join_keys", "catalogue_variables", "catalogue_tables", "catalogue_products"):
        op.drop_table(name)
