"""Alembic environment: always run with a connection handed in by ``Store.upgrade``."""

from alembic import context

from guichet.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the CLI always hands a connection in
    raise RuntimeError("run migrations through guichet (guichet init / guichet doctor)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
