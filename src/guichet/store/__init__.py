"""The metadata store: SQLAlchemy models and Alembic migrations. SQLite by default, PostgreSQL in production."""

from guichet.store.db import Store, open_store

__all__ = ["Store", "open_store"]
