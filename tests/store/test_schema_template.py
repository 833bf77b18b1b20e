"""The tests' hubs get their SQLite schema copied from one database migrated per process (tests/conftest.py,
TemplateStore): the copy must equal a database that ran every migration, so that it cannot drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

import guichet.lifecycle.init
from guichet.store.db import Store
from tests.conftest import TemplateStore, make_hub, migrated_template


def _content(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        schema = conn.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")).all()
        rows = {name: sorted(conn.execute(text(f'SELECT * FROM "{name}"')).all(), key=repr)
                for _type, name, _tbl, _sql in schema if _type == "table"}
        pragmas = {p: conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("user_version", "journal_mode")}
    return {"schema": schema, "rows": rows, "pragmas": pragmas}


def test_the_copied_schema_equals_a_migrated_database(tmp_path: Path) -> None:
    migrated, copied = Store(f"sqlite:///{tmp_path / 'migrated.db'}"), TemplateStore(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        migrated.upgrade()
        copied.upgrade()
        assert TemplateStore.template is not None and TemplateStore.template == migrated_template()
        a, b = _content(migrated), _content(copied)
        assert len(a["schema"]) > 20 and a["rows"]["alembic_version"] == [(Store.head_revision(),)]
        assert a == b
        assert copied.current_revision() == Store.head_revision()
    finally:
        migrated.dispose()
        copied.dispose()


def test_the_tests_hubs_use_the_copy_and_work(tmp_path: Path) -> None:
    assert guichet.lifecycle.init.Store is TemplateStore
    hub = make_hub(tmp_path)
    try:
        assert hub.store.current_revision() == Store.head_revision()
        with hub.store.read() as s:
            assert s.execute(text("SELECT count(*) FROM users")).scalar() == 1  # init's operator, written after
    finally:
        hub.close()


def _pg_content(url: str) -> dict[str, Any]:
    """What a PostgreSQL database holds: tables, columns, constraints, indexes, sequences and rows."""
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            def rows(sql: str) -> list[Any]:
                return sorted(conn.execute(text(sql)).all(), key=repr)

            schema = {
                "columns": rows("SELECT table_name, column_name, data_type, is_nullable, column_default "
                                "FROM information_schema.columns WHERE table_schema = 'public'"),
                "constraints": rows("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                                    "FROM pg_constraint WHERE connamespace = 'public'::regnamespace"),
                "indexes": rows("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"),
                "sequences": rows("SELECT sequence_name FROM information_schema.sequences "
                                  "WHERE sequence_schema = 'public'"),
            }
            tables = sorted({t for t, *_ in schema["columns"]})
            content = {t: rows(f'SELECT * FROM "{t}"') for t in tables}
        return {"schema": schema, "tables": tables, "rows": content}
    finally:
        store.dispose()


def test_a_postgresql_database_copied_from_the_template_equals_a_migrated_one(pg_url: str) -> None:
    import uuid

    from tests.conftest import PG_ADMIN_URL, PG_TEST_PREFIX, _pg_admin, pg_template

    copied = TemplateStore(pg_url)
    try:
        copied.upgrade()  # the test's empty database, created again from the template
    finally:
        copied.dispose()
    migrated_name = f"{PG_TEST_PREFIX}{uuid.uuid4().hex[:12]}"
    migrated_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{migrated_name}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{migrated_name}"')
    try:
        migrated = Store(migrated_url)
        try:
            migrated.upgrade()  # every Alembic migration, for real
        finally:
            migrated.dispose()
        a, b = _pg_content(migrated_url), _pg_content(pg_url)
        assert len(a["tables"]) > 20 and a["rows"]["alembic_version"] == [(Store.head_revision(),)]
        assert a == b
        with _pg_admin() as conn:
            assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (pg_template(),)).fetchone()
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{migrated_name}" WITH (FORCE)')


def test_the_tests_hubs_on_postgresql_use_the_copy_and_work(tmp_path: Path, pg_url: str) -> None:
    hub = make_hub(tmp_path, db_url=pg_url)
    try:
        assert hub.store.current_revision() == Store.head_revision()
        with hub.store.read() as s:
            assert s.execute(text("SELECT count(*) FROM users")).scalar() == 1
            assert s.execute(text("SELECT count(*) FROM audit_events")).scalar() >= 1
    finally:
        hub.close()
