"""What the applications' pages read besides the workflow's services: a form's contents checked without saving
them, every problem with its path (shown next to its section).

Read-only (``@query``); the pages change applications only through ``guichet.access.services``.
"""

from __future__ import annotations

from typing import Any

from guichet.access.contents import problems
from guichet.access.model import Problem
from guichet.governance import Unit, query


@query("application.validate")
def check_contents(unit: Unit, content: Any) -> list[Problem]:
    """Every problem of ``content`` (the schema, the catalogue's dictionary, the criteria against the
    dictionary and the lake), as saving it would find them; nothing is saved."""
    return problems(unit.hub, unit.session, content)
