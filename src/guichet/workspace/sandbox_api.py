"""What a script run in a workspace session (``guichet workspace python``) gets from the hub::

    from guichet.workspace.sandbox_api import connect, tables
    con = connect()                       # DuckDB, the extract's tables as views, configuration locked
    con.execute("SELECT count(*) FROM ER_PRS_F").fetchall()
    tables()                              # {"ER_PRS_F": ["PERSON_ID", ...], ...}

The working folder is the workspace's ``outputs/`` (files written there stay in the workspace and leave only
through the airlock); nothing else is writable but the session's private tmpfs (``/tmp``, wiped at the end).
Outside a session, ``connect()`` raises.
"""

from __future__ import annotations

from typing import Any

from guichet.workspace import session_inside


def connect() -> Any:
    """The session's DuckDB connection (external access off, configuration locked)."""
    return session_inside.connection()


def tables() -> dict[str, list[str]]:
    """The extract's views and their columns."""
    return session_inside.table_columns()


OUTPUTS = session_inside.OUTPUTS
