"""catalogue search on PostgreSQL: whole words beside the French stems

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

A prefix query on a French stem is too broad: 'deces' stems to 'dec', and 'dec:*' also finds
'déclaration', 'décembre' and 'décédé'. Each document now also holds its words unstemmed (``unaccent``
then ``simple``, configuration ``guichet_words``), so that a query word matches a stem exactly or a whole
word by prefix (see guichet.catalogue.search). SQLite's FTS5 index (no stemmer) is unchanged.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_STEMS = ("setweight(to_tsvector('guichet_fr', title), 'A') || "
          "setweight(to_tsvector('guichet_fr', body), 'B')")
_WORDS = ("setweight(to_tsvector('guichet_words', title), 'A') || "
          "setweight(to_tsvector('guichet_words', body), 'B')")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'guichet_words') THEN
            CREATE TEXT SEARCH CONFIGURATION guichet_words (COPY = simple);
            ALTER TEXT SEARCH CONFIGURATION guichet_words
              ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;
          END IF;
        END $$""")
    op.execute(f"UPDATE catalogue_search SET document = {_STEMS} || {_WORDS}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"UPDATE catalogue_search SET document = {_STEMS}")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS guichet_words")
