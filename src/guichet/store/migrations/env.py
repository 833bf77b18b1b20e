"""Alembic environment: always run with a connection handed in by ``Store.upgrade``.

The migrations are written by hand (no autogenerate), so no target metadata is needed here: the store
stays below the packages whose tables it creates.
"""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the CLI always hands a connection in
    raise RuntimeError("run migrations through guichet (guichet init / guichet doctor)")
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
