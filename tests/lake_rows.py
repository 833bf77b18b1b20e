"""Read a deposit back as the hub stored it — the lake's encrypted Parquet and the quarantine's — to check
each row's lineage against the delivered file (tests only; the keys come from the hub's own store)."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe
from sqlalchemy import select

from guichet.hub import Hub
from guichet.lake.keys import load_key, protection_for
from guichet.lake.tables import DatasetVersion


def _latest(hub: Hub, dataset: str) -> DatasetVersion:
    with hub.store.read() as s:
        v = s.execute(select(DatasetVersion).where(DatasetVersion.dataset == dataset)
                      .order_by(DatasetVersion.version.desc()).limit(1)).scalar_one()
        s.expunge(v)
    return v


def _read(hub: Hub, path: str, key_id: str, columns: list[str] | None = None) -> pa.Table:
    key = load_key(hub, protection_for(hub), key_id)
    return pq.read_table(hub.home / path, columns=columns,
                         decryption_properties=pe.create_decryption_properties(footer_key=key.key))


def lake_table(hub: Hub, dataset: str, columns: list[str] | None = None) -> pa.Table:
    """Every accepted row of the dataset's latest version, decrypted (with ``_source_row``)."""
    v = _latest(hub, dataset)
    wanted = None if columns is None else [*columns, "_source_row"]
    parts = [_read(hub, f["path"], f["key_id"], wanted) for f in v.files]
    return pa.concat_tables(parts) if parts else pa.table({})


def quarantined(hub: Hub, dataset: str) -> dict[int, str]:
    """The latest version's quarantined rows: {row number: 'rule:FIELD|...'}."""
    v = _latest(hub, dataset)
    out: dict[int, str] = {}
    for part in (v.lineage or {}).get("quarantine", []):
        t = _read(hub, part["path"], part["key_id"], ["_source_row", "rules"])
        for row, rules in zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True):
            assert row not in out, f"row {row} quarantined twice"
            out[int(row)] = str(rules)
    return out


def file_rows(path: Path, delimiter: str = ";") -> list[list[str] | None]:
    """The file's data rows as RFC 4180 splits them (1-based: index 0 is None), a blank line as []."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows: list[list[str] | None] = [None]
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader)
        rows.extend(reader)
    return rows
