"""``persons.csv``: every delivered row → its person (``table,row_number,person_id``; empty when unlinked),
so that anyone can score the linkage independently."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from guichet.errors import BadInput
from guichet.hub import Hub
from guichet.linkage import index as idx


def _with_quarantined(table: pa.Table, delivered: dict[str, int]) -> pa.Table:
    """Rows the deposit quarantined are not in the lake; list them too, without a person."""
    if not delivered:
        return table
    seen: dict[str, set[int]] = {}
    for t, r in zip(table.column("_table").to_pylist(), table.column("_row").to_pylist(), strict=True):
        seen.setdefault(t, set()).add(int(r))
    extra_t: list[str] = []
    extra_r: list[int] = []
    for label, n in delivered.items():
        have = seen.get(label, set())
        missing = [r for r in range(1, n + 1) if r not in have]
        extra_t += [label] * len(missing)
        extra_r += missing
    if not extra_t:
        return table
    extra = pa.table({"_table": pa.array(extra_t, table.schema.field("_table").type),
                      "_row": pa.array(extra_r, table.schema.field("_row").type),
                      "person_id": pa.array([None] * len(extra_t), table.schema.field("person_id").type)})
    return pa.concat_tables([table, extra])


def export_persons(hub: Hub, out: Path) -> tuple[Path, int]:
    run = idx.require_latest(hub)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out}: not a folder")
    out.mkdir(parents=True, exist_ok=True)
    table = idx.read_file(hub, run, "links", ["_table", "_row", "person_id"])
    table = _with_quarantined(table, dict(run.summary.get("delivered", {})))
    table = table.take(pc.sort_indices(table, [("_table", "ascending"), ("_row", "ascending")]))
    target = out / "persons.csv"
    tmp = out / f".persons.csv.{os.getpid()}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        os.chmod(tmp, 0o600)
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["table", "row_number", "person_id"])
        for batch in table.to_batches(200_000):
            d = batch.to_pydict()
            w.writerows(zip(d["_table"], d["_row"], (p or "" for p in d["person_id"]), strict=True))
    os.replace(tmp, target)
    return target, table.num_rows


