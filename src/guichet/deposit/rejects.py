"""Rows DuckDB's reader could not split into the schema's columns (its ``reject_errors`` table), kept as a
sorted array of row numbers and written to the quarantine by streaming their lines: a file whose every
row is malformed holds as many rejects as rows (a dict of their lines was ~500 bytes a row)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlglot import exp

from guichet.deposit.quarantine import QuarantineWriter
from guichet.deposit.records import OVERSIZED_ROW
from guichet.deposit.structure import FileShape, NotATable
from guichet.engine import Engine, literal

SLICE = 5_000  # rejected lines turned into Python objects at a time


def _rule(kind: object) -> str:
    return f"structure:{str(kind).lower().replace(' ', '_')}"


@dataclass
class Rejects:
    """The data rows (1-based, sorted) the reader rejected reading ``path``; ``replaced``: rows the deposit
    gave the reader as a marker, with their own rule and text (deposit/records.py)."""

    path: Path
    rows: np.ndarray
    replaced: dict[int, tuple[str, str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


def _of(path: Path) -> exp.Select:
    e, s = exp.to_table("reject_errors", alias="e"), exp.to_table("reject_scans", alias="s")
    return (exp.select().from_(e).join(s, on=exp.and_(exp.column("scan_id", "e").eq(exp.column("scan_id", "s")),
                                                      exp.column("file_id", "e").eq(exp.column("file_id", "s"))))
            .where(exp.column("file_path", "s").eq(literal(str(path)))))


def read_rejects(engine: Engine, name: str, shape: FileShape, returned: int, path: Path) -> Rejects:
    """The rows rejected reading ``path``; not a table when the last one is cut or a row is undecodable."""
    line = exp.column("line", "e")
    q = _of(path).select(exp.alias_(line - literal(1), "row")).distinct()
    parts = [b.column(0).to_numpy(zero_copy_only=False).astype(np.int64)
             for b in engine.batches(q, purpose=f"malformed rows of {name}")]
    rows = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    found = Rejects(path, rows)
    if not len(rows):
        return found
    kinds = {_rule(k) for (k,) in engine.fetch_all(_of(path).select(exp.column("error_type", "e")).distinct(),
                                                   purpose=f"kinds of malformed rows of {name}")}
    last = returned + len(rows)
    if rows[-1] == last:  # the last row is cut when the file ends mid-row or inside a quoted field
        q = _of(path).select(exp.column("csv_line", "e")).where(line.eq(literal(last + 1)))
        texts = [str(t or "") for (t,) in engine.fetch_all(q, purpose=f"last malformed row of {name}")]
        if not shape.ends_with_newline or any(t.count('"') % 2 == 1 for t in texts):
            raise NotATable(shape.path, "truncated in the middle of a row", f"row {last}")
    if any(k.startswith("structure:invalid_encoding") for k in kinds):
        raise NotATable(shape.path, f"undecodable as {shape.encoding}", f"row {int(rows[0])}")
    return found


def quarantine_rejects(engine: Engine, name: str, rejects: Rejects, qwriter: QuarantineWriter,
                       reasons: Counter[str]) -> None:
    """Quarantine every rejected row with its rule and sealed line, in row order, a slice at a time."""
    if not len(rejects):
        return
    line, kind = exp.column("line", "e"), exp.column("error_type", "e")
    oversized = kind.eq(literal(OVERSIZED_ROW.split(":", 1)[1].replace("_", " ").upper()))
    # one line per row: a row too long is also cut into too many cells — its rule is its length
    q = (_of(rejects.path).select(line, kind, exp.column("csv_line", "e"))
         .order_by(line, exp.Ordered(this=oversized, desc=True)))
    previous = -1
    for batch in engine.batches(q, purpose=f"lines of malformed rows of {name}", rows=SLICE):
        for number, error, text in zip(*(batch.column(i).to_pylist() for i in range(3)), strict=True):
            if number == previous:
                continue
            previous = number
            row = int(number) - 1
            rule, shown = rejects.replaced.get(row, (_rule(error), str(text or "")))
            qwriter.add(row, rule, None, shown)
            reasons[rule.split(":", 1)[0]] += 1
