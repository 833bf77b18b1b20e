"""SQL as SQLGlot trees: statements are written once, as text with ``:name`` placeholders, parsed, and the
placeholders replaced by literal nodes — values are never formatted into SQL strings. Every statement then
runs through ``Engine.execute`` (recorded with its Spark translation)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

from guichet.engine import Engine, RowHash, literal


@lru_cache(maxsize=512)
def _parse(text: str) -> exp.Expr:
    return sqlglot.parse_one(text, read="duckdb")


def _value(value: Any) -> exp.Expression:
    if isinstance(value, dt.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("DATE"))
    return literal(value)


def build(text: str, **params: Any) -> exp.Expression:
    """Parse ``text`` and bind its ``:name`` placeholders to literals (a missing one is an error)."""
    tree = _parse(text).copy()
    names = {p.name for p in tree.find_all(exp.Placeholder)}
    missing = names - params.keys()
    if missing:
        raise KeyError(f"unbound SQL parameters: {', '.join(sorted(missing))}")

    def bind(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in params:
            return _value(params[node.name])
        if isinstance(node, exp.Anonymous) and node.name.lower() == "hash":  # a hint only (RowHash)
            return RowHash(expressions=node.expressions)
        return node

    return tree.transform(bind)


def create_table(engine: Engine, name: str, select_text: str, purpose: str, **params: Any) -> None:
    """``CREATE OR REPLACE TEMP TABLE name AS <select>``, through the engine's choke point."""
    select = build(select_text, **params)
    tree = exp.Create(this=exp.to_table(name), kind="TABLE", replace=True,
                      properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=select)
    engine.execute(tree, purpose=purpose)


def rows(engine: Engine, text: str, purpose: str, **params: Any) -> list[tuple[Any, ...]]:
    return engine.fetch_all(build(text, **params), purpose=purpose)


def scalar(engine: Engine, text: str, purpose: str, **params: Any) -> Any:
    got = rows(engine, text, purpose, **params)
    return got[0][0] if got else None


def table_exists(engine: Engine, name: str) -> bool:
    found = engine.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? UNION ALL "
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name, name]).fetchall()
    return sum(r[0] for r in found) > 0
