"""What the over-time checks look at in each column, chosen from its Table Schema field and its SQL type.

Every column is seen through one or two *features*: a categorical summary of a cell, small by construction,
whose distribution can be compared between versions and between flow months whatever the data's size:

| column                                   | feature     | categories                                        |
|------------------------------------------|-------------|---------------------------------------------------|
| text                                     | ``shape``   | the value with digits as 9 and letters as A / a   |
|                                          |             | (``'01028'`` → ``99999``; over 8 characters: its  |
|                                          |             | length, ``L9``)                                   |
| text or integer with a code list         | ``code``    | the value itself                                  |
| (``nomenclature``, ``enum``), boolean    |             |                                                   |
| other integer, not a key                 | ``count``   | the value up to 999, else its magnitude           |
| number, year                             | ``magnitude``| sign, power of ten, whole or not (``+1f``: 10–99,|
|                                          |             | with cents; a year is ``+3i``)                    |
| date, datetime                           | ``day``     | first day of a month, last day, other             |

Every feature has one more category, ``∅``, the empty cell. Integer key columns that are not codes (order
numbers, sequence numbers) get none: their values grow with the size of a delivery.

Pairs of date columns (and of number columns) get an ``order`` feature: how many rows have the first before,
equal to, or after the second (by day, and by month for dates) — what a producer's file kept in (nearly)
every row of an earlier version is a constraint learnt from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from guichet.quality.model import Check
from guichet.schema import FieldSpec, TableSchema

EMPTY = "∅"
TEXT_TYPES = ("VARCHAR", "TEXT", "STRING", "CHAR")
INTEGER_TYPES = ("BIGINT", "INTEGER", "INT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER")
NUMBER_TYPES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")
DATE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "DATETIME")
MAX_ORDERED = 10  # date (and number) columns with values whose pairs are compared: at most 45 pairs each


@dataclass(frozen=True)
class Feature:
    """One categorical view of a column (``kind`` one of shape, code, count, magnitude, day)."""

    column: str
    kind: str

    @property
    def key(self) -> str:
        return f"{self.column}:{self.kind}"


@dataclass(frozen=True)
class Pair:
    """Two comparable columns of a row; ``unit`` day or month (dates), '' (numbers)."""

    first: str
    second: str
    unit: str = ""

    @property
    def key(self) -> str:
        return f"{self.first}|{self.second}|{self.unit}"

    @property
    def label(self) -> str:
        return f"{self.first} vs {self.second}" + (f" (by {self.unit})" if self.unit else "")


def base_type(sql_type: str | None) -> str:
    return (sql_type or "").split("(")[0].strip().upper()


def _coded(f: FieldSpec | None) -> bool:
    return f is not None and (f.nomenclature is not None or bool(f.enum) or f.type == "boolean")


def column_features(name: str, sql_type: str, f: FieldSpec | None, keys: set[str]) -> list[Feature]:
    """The features of one column (none for integer keys that are not codes)."""
    t = base_type(sql_type)
    if t in DATE_TYPES:
        return [Feature(name, "day")]
    if t in NUMBER_TYPES:
        return [Feature(name, "magnitude")]
    if f is not None and f.type == "year":  # the year itself moves with the period delivered; its size does not
        return [Feature(name, "magnitude")]
    if t in INTEGER_TYPES:
        if _coded(f):
            return [Feature(name, "code")]
        return [] if name in keys else [Feature(name, "count")]
    if t == "BOOLEAN":
        return [Feature(name, "code")]
    if t in TEXT_TYPES:
        return [Feature(name, "shape")] + ([Feature(name, "code")] if _coded(f) else [])
    return []


def _keys(schema: TableSchema | None) -> set[str]:
    if schema is None:
        return set()
    return set(schema.primary_key) | {f.name for f in schema.fields if f.unique}


def _fields(schema: TableSchema | None) -> dict[str, FieldSpec]:
    return {f.name: f for f in schema.fields} if schema is not None else {}


def table_features(schema: TableSchema | None, column_types: dict[str, str]) -> list[Feature]:
    fields, keys = _fields(schema), _keys(schema)
    out: list[Feature] = []
    for name in [c for c in column_types if not c.startswith("_")]:
        out += column_features(name, column_types[name], fields.get(name), keys)
    return out


def order_pairs(column_types: dict[str, str], filled: set[str] | None = None) -> list[Pair]:
    """Pairs of date columns (by day and by month) and of number columns, in column order: of the first
    ``MAX_ORDERED`` of each type that have values in this version (``filled``; all when unknown)."""
    data = [c for c in column_types if not c.startswith("_") and (filled is None or c in filled)]
    dates = [c for c in data if base_type(column_types[c]) in DATE_TYPES][:MAX_ORDERED]
    numbers = [c for c in data if base_type(column_types[c]) in NUMBER_TYPES][:MAX_ORDERED]
    pairs = [Pair(a, b, unit) for a, b in combinations(dates, 2) for unit in ("day", "month")]
    return pairs + [Pair(a, b) for a, b in combinations(numbers, 2)]


def drift_checks(table: str, schema: TableSchema | None, column_types: dict[str, str],
                 period: str | None) -> list[Check]:
    """One ``column_drift`` check per featured column and one ``order_drift`` check per table: warnings that
    compare this version with the previous one (and, with a ``period`` column, month by month). And one
    ``row_count``, blocking: a version without a row where the previous one had rows (every row of the
    file quarantined — amounts with a decimal comma, sexes as letters — would otherwise publish an empty
    table in place of the last good one)."""
    out: list[Check] = [Check(f"{table}.row_count", table, "row_count", "completeness", "", "blocking", 0.0, (), {},
                              "the version has rows when the previous version had some", "schema", False)]
    features = table_features(schema, column_types)
    for column in dict.fromkeys(f.column for f in features):
        kinds = [f.kind for f in features if f.column == column]
        out.append(Check(f"{table}.column_drift.{column}", table, "column_drift", "plausibility", "temporal",
                         "warning", 0.0, (column,), {"features": kinds, "period": period},
                         f"{column}: empty cells and {' and '.join(kinds)} against the previous version"
                         + (" and across flow months" if period else ""), "schema", False))
    if order_pairs(column_types):  # which pairs: decided when the version's empty columns are known
        out.append(Check(f"{table}.order_drift", table, "order_drift", "plausibility", "temporal", "warning", 0.0,
                         (), {"types": dict(column_types), "period": period},
                         "date (and amount) orders that held in the previous version's rows still hold", "schema",
                         False))
    return out
