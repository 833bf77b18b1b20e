"""The variable dictionary as other stages read it: plain ``VariableInfo`` records by table (access criteria
check the variables they name against it)."""

from __future__ import annotations

from sqlalchemy import select

from guichet.catalogue.model import VariableInfo
from guichet.catalogue.store import _variable_info
from guichet.catalogue.tables import CatalogueVariable
from guichet.hub import Hub


def table_variables(hub: Hub, tables: set[str]) -> dict[str, dict[str, VariableInfo]]:
    """``{table: {variable: info}}`` for the tables of ``tables`` the dictionary describes (absent: not
    described). A table name is the dictionary's (``T_MCOaaB``, not a yearly file's ``T_MCO23B``)."""
    out: dict[str, dict[str, VariableInfo]] = {}
    if not tables:
        return out
    with hub.store.read() as s:
        rows = s.execute(select(CatalogueVariable).where(CatalogueVariable.table_name.in_(sorted(tables)))
                         .order_by(CatalogueVariable.table_name, CatalogueVariable.position)).scalars()
        for v in rows:
            out.setdefault(v.table_name, {})[v.name] = _variable_info(v)
    return out
