"""The sidecar every helper writes beside its output: what each cell was computed from.

``<output>.meta.json`` (format ``guichet.analysis/1``) records the helper, its parameters, the SQL that made the
cells, the output's SHA-256, the table's shape (dimensions, row and column labels, margins) and, per cell, the
evidence a disclosure check needs: the persons and records behind it, the sum, the two largest per-person
contributions (dominance), the number of negative contributions, whether every contribution is the same, the
degrees of freedom of a model. ``<output>.persons.parquet`` lists the persons behind each cell (``cell``: the
index into ``cells``; ``person``: the workspace's person surrogate, dictionary-encoded), so that a release's
differencing ledger can compare cells by the people in them. Neither file is ever released: they stay in
the workspace beside the output and the airlock reads them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

FORMAT = "guichet.analysis/1"
META_SUFFIX = ".meta.json"
PERSONS_SUFFIX = ".persons.parquet"


@dataclass
class Cell:
    """One released number: where it is in the CSV (1-based data row, column name) and its evidence."""

    row: int
    column: str
    stat: str  # count, sum, mean, median, std, min, max, pNN, survival, at_risk, events, censored, coef...
    value: float | int | None
    persons: int  # distinct persons behind the cell
    records: int = 0  # records behind it
    total: float | None = None  # sum of the per-person contributions (magnitude cells)
    top: list[float] = field(default_factory=list)  # the largest per-person contributions, descending (<= 2)
    negatives: int = 0  # contributions below zero
    all_same: bool = False  # every record has the same value (a mean then tells each person's value)
    margin: bool = False  # a total over a dimension
    key: list[str] = field(default_factory=list)  # the labels of the cell along each dimension ("Total"...)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: v for k, v in d.items() if v not in (None, [], False) or k in ("value", "persons", "row")}


@dataclass
class Metadata:
    helper: str
    parameters: dict[str, Any]
    kind: str  # frequency | magnitude | describe | survival | histogram | regression
    output: str  # the output's file name (beside the sidecar)
    sha256: str
    code: str  # the SQL (or code) that made the cells
    dims: list[str]
    cells: list[Cell]
    layout: str = "wide"  # wide: rows x columns (+ margins); long: one row per cell combination
    row_labels: list[str] = field(default_factory=list)
    column_labels: list[str] = field(default_factory=list)  # the value columns of a wide table
    margins: bool = False
    dof: int | None = None  # residual degrees of freedom (regression)
    extra: dict[str, Any] = field(default_factory=dict)  # helper-specific: bin edges, time grouping...
    source: str | None = None  # the SQL or description of the data the helper read

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT}
        for k, v in asdict(self).items():
            if k == "cells":
                out[k] = [c.to_dict() for c in self.cells]
            else:
                out[k] = v
        return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def meta_path(output: Path) -> Path:
    return output.with_name(output.name + META_SUFFIX)


def persons_path(output: Path) -> Path:
    return output.with_name(output.name + PERSONS_SUFFIX)


def write(output: Path, meta: Metadata, persons: list[list[str]] | None) -> Path:
    """Write the sidecar (and the persons file when ``persons`` is given: one list per cell, same order)."""
    meta.sha256 = sha256(output)
    if persons is not None:
        cell_ids: list[int] = []
        flat: list[str] = []
        for i, people in enumerate(persons):
            cell_ids.extend([i] * len(people))
            flat.extend(people)
        table = pa.table({"cell": pa.array(cell_ids, pa.int32()),
                          "person": pa.array(flat, pa.string()).dictionary_encode()})
        pq.write_table(table, persons_path(output), compression="zstd")
        meta.extra["persons_file"] = persons_path(output).name
    path = meta_path(output)
    path.write_text(json.dumps(meta.to_dict(), ensure_ascii=False, indent=1, default=_plain) + "\n", encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def read(output: Path) -> dict[str, Any] | None:
    """The sidecar of ``output`` as a dict, or None when there is none."""
    path = meta_path(output)
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def read_persons(output: Path) -> dict[int, list[str]]:
    """The persons behind each cell index (what a differencing ledger compares)."""
    path = persons_path(output)
    if not path.is_file():
        return {}
    table = pq.read_table(path)
    out: dict[int, list[str]] = {}
    for cell, person in zip(table.column("cell").to_pylist(), table.column("person").to_pylist(), strict=True):
        out.setdefault(cell, []).append(person)
    return out
