"""CI's check that every recorded statement transpiles to Spark SQL (until the "Scale-out" issue runs
the same operations on Spark itself)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def check_recorded(statements: Iterable[dict[str, Any]]) -> list[str]:
    """The problems: one line per recorded statement that has no Spark translation."""
    problems = []
    for st in statements:
        if not st.get("spark"):
            problems.append(f"{st.get('purpose')}: does not transpile to Spark ({st.get('spark_error')})")
    return problems
