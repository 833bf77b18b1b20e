"""Which checks a table gets: those its Table Schema implies, plus the matching rules of the rule packs,
plus a whole-row duplicate check for tables without a primary key. Pure: no I/O beyond reading packs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from guichet.quality.features import drift_checks
from guichet.quality.generate import schema_checks
from guichet.quality.model import Check
from guichet.quality.packs import RulePack, builtin_packs
from guichet.schema import TableSchema


def plan_checks(dataset: str, schema: TableSchema | None, column_types: dict[str, str], *, as_of: dt.date,
                packs: Sequence[RulePack] | None = None, datasets: set[str] | None = None) -> list[Check]:
    """The checks of one table, in a stable order, ids unique (a pack rule wins over a generated one)."""
    checks: list[Check] = []
    if schema is not None:
        checks += schema_checks(dataset, schema, column_types, as_of=as_of, datasets=datasets)
        if not schema.primary_key:
            checks.append(Check(f"{dataset}.duplicate_row", dataset, "duplicate_row", "plausibility", "uniqueness",
                                "warning", 5.0, (), {}, "no row is an exact copy of an earlier row", "schema"))
    for pack in (builtin_packs() if packs is None else packs):
        checks += pack.checks_for(dataset, schema.name if schema else dataset, as_of=as_of)
    # the flow month a pack counts rows by is the month the drift checks compare
    period = next((c.columns[0] for c in checks if c.kind == "flow_volume" and c.columns[0] in column_types), None)
    checks += drift_checks(dataset, schema, column_types, period)
    seen: dict[str, Check] = {}
    for c in checks:
        seen[c.id] = c
    return list(seen.values())
