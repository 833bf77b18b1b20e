"""Migration 0012 gives existing organisations their kind (hub, producer, academic), on SQLite and
PostgreSQL, and the access tables hold an application with its revisions."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from guichet.store.db import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'm.db'}"


def test_existing_organisations_get_their_kind(db_url: str) -> None:
    store = Store(db_url)
    try:
        with store.write_engine.begin() as conn:
            command.upgrade(store._alembic_config(conn), "0011")
        with store.write_engine.begin() as conn:
            t = "2026-01-01 00:00:00"
            for i, name in enumerate(("Hub operator", "Assurance Maladie", "ATIH", "Université", "CHU"), 1):
                conn.execute(text("INSERT INTO organisations (id, name, created_at) VALUES (:i, :n, :t)"),
                             {"i": i, "n": name, "t": t})
            for uid, org, role in ((1, 1, "operator"), (2, 2, "producer"), (3, 4, "researcher"), (4, 5, "committee")):
                conn.execute(text("INSERT INTO users (id, username, org_id, created_at, disabled, failed_logins) "
                                  "VALUES (:i, :u, :o, :t, false, 0)"), {"i": uid, "u": f"u{uid}", "o": org, "t": t})
                conn.execute(text("INSERT INTO user_roles (user_id, role) VALUES (:i, :r)"), {"i": uid, "r": role})
            conn.execute(text("INSERT INTO producers (name, org, public_key, key_fingerprint, created_at) "
                              "VALUES ('atih', 'ATIH', 'pem', 'fp', :t)"), {"t": t})
        store.upgrade()
        with store.engine.connect() as conn:
            kinds = dict(conn.execute(text("SELECT name, kind FROM organisations")).fetchall())
        assert kinds == {"Hub operator": "hub", "Assurance Maladie": "producer", "ATIH": "producer",
                         "Université": "academic", "CHU": "academic"}
        store.downgrade_to_empty()
    finally:
        store.dispose()
