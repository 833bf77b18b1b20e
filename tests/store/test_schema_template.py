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
