"""Connecting to the metadata store, migrating it, and opening sessions.

SQLite runs in WAL mode; write sessions start with ``BEGIN IMMEDIATE`` so that two writers never
interleave (the audit chain relies on it). On PostgreSQL the audit head row is locked instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from guichet.config import redact_url
from guichet.errors import Unavailable

if TYPE_CHECKING:  # alembic is imported where a migration or a revision is asked (~0.3 s of every CLI start)
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Store:
    """The metadata database of one hub."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, immediate=False)
            self.write_engine = _sqlite_engine(url, immediate=True)
        else:
            # The web app runs up to ``web_threads`` database users per worker: keep the pool above that.
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=2 * pool_size)
            self.write_engine = self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def check(self) -> None:
        """Raise ``Unavailable`` with a one-line reason when the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except (OperationalError, SQLAlchemyError) as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
            raise Unavailable(f"database {redact_url(self.url)} is unreachable: {reason}") from None

    def _alembic_config(self, conn: Any) -> Config:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        return cfg

    def upgrade(self) -> None:
        """Migrate the database to the latest schema (harmless when already there)."""
        from alembic import command

        with self.write_engine.begin() as conn:
            command.upgrade(self._alembic_config(conn), "head")

    def downgrade_to_empty(self) -> None:
        """Undo every migration (``guichet init``'s clean-up of a database it had just created)."""
        from alembic import command

        with self.write_engine.begin() as conn:
            command.downgrade(self._alembic_config(conn), "base")

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(cfg).get_current_head()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that may write; committed on success, rolled back on any error."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session: any attempt to flush a change raises."""
        with self._read() as session:  # closing ends the transaction without expiring loaded objects
            event.listen(session, "before_flush", _refuse_flush)
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()


def _refuse_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read-only session tried to write; state changes go through a service")


def open_store(url: str, *, migrate: bool = False) -> Store:
    store = Store(url)
    store.check()
    if migrate:
        store.upgrade()
    return store
