"""What the applications' pages read besides the workflow's services: a form's contents checked without saving
them (every problem with its path, shown next to its field), and the account's current draft (the basket).

Read-only (``@query``); the pages change applications only through ``guichet.access.services``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from guichet.access.contents import problems
from guichet.access.model import Problem
from guichet.access.tables import Application
from guichet.governance import Unit, query

@query("application.show")
def check_contents(unit: Unit, content: Any) -> list[Problem]:
    """Every problem of ``content`` (the schema, the catalogue's dictionary, the criteria against the
    dictionary and the lake), as saving it would find them; nothing is saved."""
    return problems(unit.hub, unit.session, content)


@query("application.list")
def current_draft(unit: Unit) -> int | None:
    """The id of the account's most recent draft (the one the catalogue's basket adds to), or None."""
    found = unit.session.execute(select(Application.id).where(Application.applicant == unit.actor.username,
                                                              Application.state == "draft")
                                 .order_by(Application.id.desc()).limit(1)).scalar_one_or_none()
    return int(found) if found is not None else None
