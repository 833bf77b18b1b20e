"""Key checks over the staged rows: ``primary_key`` and ``unique`` (second and later occurrences, in file
order) and ``foreign_key`` (against the referenced table's accepted rows in the same delivery, or its
latest published version). Their answer is kept as sorted arrays of row numbers per rule token, never as
a Python object per row: a file delivered twice over holds millions of duplicates (8 bytes each here)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlglot import exp

from guichet.deposit.rules import SEP, ValidationPlan, col, resolve_ref
from guichet.engine import Engine, literal
from guichet.schema import TableSchema

SOURCE_ROW = "_source_row"


def among_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """For each of ``values``, whether it is in ``sorted_set`` (sorted, unique)."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return np.asarray(sorted_set[pos] == values)


@dataclass(frozen=True)
class Reference:
    """Where a foreign key's target rows are: a staged table of the same delivery or a published version."""

    view: str
    columns: tuple[str, ...]


class KeyFailures:
    """Rows failing a key check, as a sorted array of row numbers per ``rule:FIELD`` token."""

    def __init__(self) -> None:
        self._tokens: dict[str, np.ndarray] = {}

    def add(self, token: str, rows: np.ndarray) -> None:
        old = self._tokens.get(token)
        self._tokens[token] = np.unique(rows if old is None else np.concatenate((old, rows)))

    def rows(self) -> np.ndarray:
        """Every failing row, sorted."""
        arrays = list(self._tokens.values())
        return np.unique(np.concatenate(arrays)) if arrays else np.zeros(0, dtype=np.int64)

    def rules(self, rows: np.ndarray) -> list[str]:
        """``rule:FIELD|...`` of each of ``rows`` (each one failing)."""
        hits = [(token, among_sorted(rows, found)) for token, found in self._tokens.items()]
        return [SEP.join(token for token, hit in hits if hit[i]) for i in range(len(rows))]


def _row_numbers(engine: Engine, q: exp.Select, purpose: str) -> np.ndarray:
    parts = [batch.column(0).to_numpy(zero_copy_only=False).astype(np.int64)
             for batch in engine.batches(q, purpose=purpose)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _later_occurrences(view: str, keys: tuple[str, ...], among: str | None) -> exp.Select:
    """Rows whose key an earlier row (by ``_source_row``) holds; with ``among``, only keys that view holds."""
    s = exp.to_table(view, alias="s")
    not_null = exp.and_(*[col(k, "s").is_(exp.null()).not_() for k in keys])
    if among:
        same = exp.and_(*[col(k, "h").eq(col(k, "s")) for k in keys])
        not_null = exp.and_(not_null, exp.Exists(
            this=exp.select(literal(1)).from_(exp.to_table(among, alias="h")).where(same)))
    rank = exp.Window(this=exp.RowNumber(), partition_by=[col(k, "s") for k in keys], order=exp.Order(
        expressions=[exp.Ordered(this=col(SOURCE_ROW, "s"))]))
    inner = exp.select(exp.alias_(col(SOURCE_ROW, "s"), SOURCE_ROW, quoted=True),
                       exp.alias_(rank, "__rank")).from_(s).where(not_null)
    return exp.select(col(SOURCE_ROW)).from_(exp.alias_(exp.paren(inner), "u")).where(
        exp.column("__rank") > literal(1))


def key_checks(engine: Engine, name: str, schema: TableSchema, plan: ValidationPlan, view: str,
               references: dict[str, Reference], checks: list[dict[str, str]],
               among: str | None = None) -> KeyFailures:
    """Rows of ``view`` failing a key check; each check applied (or why not) is added to ``checks``.
    ``among``: the view of the held-back duplicate candidates, when every duplicate is known to be among
    them ('' when there are none): the uniqueness checks then rank only the rows whose key one of them
    holds."""
    bad = KeyFailures()
    for rule, keys in plan.unique_keys:
        checks.append({"field": "+".join(keys), "rule": rule, "status": "applied"})
        if among == "":
            continue  # no two accepted rows share a key hash: no duplicate
        q = _later_occurrences(view, keys, among)
        bad.add(f"{rule}:{'+'.join(keys)}", _row_numbers(engine, q, f"{rule} of {name} ({', '.join(keys)})"))
    for fk in schema.foreign_keys:
        ref = references.get(fk.resource)
        label = "+".join(fk.fields)
        if ref is None or not set(fk.ref_fields) <= set(ref.columns):
            if len(fk.fields) == 1 and resolve_ref(fk.resource, fk.ref_fields[0]) is not None:
                continue  # a nomenclature written as a foreign key: checked in pass 1
            checks.append({"field": label, "rule": "foreign_key",
                           "status": f"not applicable: {fk.resource} is neither in the delivery nor published"})
            continue
        cond = exp.and_(*[exp.cast(col(a, "r"), "VARCHAR").eq(exp.cast(col(b, "s"), "VARCHAR"))
                          for a, b in zip(fk.ref_fields, fk.fields, strict=True)])
        exists = exp.Exists(this=exp.select(literal(1)).from_(exp.alias_(exp.to_table(ref.view), "r")).where(cond))
        q = (exp.select(col(SOURCE_ROW, "s")).from_(exp.alias_(exp.to_table(view), "s"))
             .where(exp.and_(*[col(k, "s").is_(exp.null()).not_() for k in fk.fields], exp.not_(exists))))
        bad.add(f"foreign_key:{label}", _row_numbers(engine, q, f"foreign key {label} of {name} -> {fk.resource}"))
        checks.append({"field": label, "rule": "foreign_key", "status": "applied"})
    return bad
