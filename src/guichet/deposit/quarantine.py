"""A table's quarantine: its failing rows as encrypted Parquet parts, identifier and quasi-identifier cells
(or a malformed row's whole line) sealed to the producer. Every encrypted file goes through the custodian's
shared writer: one data page per column chunk, the only layout DuckDB 2.0.1 can decrypt (docs/deposit.md,
"Encrypted Parquet and DuckDB 2.0.1")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from guichet.custodian.parquet import encrypted_writer
from guichet.deposit.sealing import Sealer
from guichet.lake.keys import FileKey, Protection, decryption

SOURCE_FILE, SOURCE_ROW = "_source_file", "_source_row"
ROW_GROUP_ROWS = 122_880  # rows per batch when a staged or quarantine file is rewritten (its writer's row groups)
FLUSH_ROWS = 10_000  # quarantined rows kept (as Python objects, ~3 KB each on 123 columns) before they are written


def encrypted_file_writer(path: Path, schema: pa.Schema, key: FileKey) -> pq.ParquetWriter:
    return encrypted_writer(path, schema, key.key)


def renumbered(batch: pa.RecordBatch, remap: Callable[[np.ndarray], np.ndarray]) -> pa.RecordBatch:
    """``batch`` with its provisional ``_source_row`` numbers (among readable rows) made the file's."""
    exact = pa.array(remap(batch.column(SOURCE_ROW).to_numpy() - 1), pa.int64())
    return batch.set_column(batch.schema.get_field_index(SOURCE_ROW), SOURCE_ROW, exact)


QUARANTINE_SCHEMA = pa.schema([
    (SOURCE_FILE, pa.string()),
    (SOURCE_ROW, pa.int64()),
    ("rules", pa.string()),  # rule:FIELD|rule:FIELD — never a value
    ("cells", pa.string()),  # JSON of the row's other cells, as delivered
    ("sealed", pa.binary()),  # identifier and quasi-identifier cells, sealed to the producer
])


class QuarantineWriter:
    """Writes a table's quarantine as encrypted Parquet parts (each with its own data key)."""

    def __init__(self, folder: Path, stem: str, protection: Protection, sealer: Sealer, header: tuple[str, ...],
                 protected: set[str], label: str) -> None:
        self.folder, self.stem, self.protection = folder, stem, protection
        self.sealer, self.header, self.label = sealer, header, label
        self.protected_idx = [i for i, h in enumerate(header) if h in protected]
        self.open_idx = [i for i, h in enumerate(header) if h not in protected]
        self.parts: list[tuple[Path, FileKey]] = []
        self.rows: dict[str, list[Any]] = {n: [] for n in QUARANTINE_SCHEMA.names}
        self.count = 0
        self._serial = 0
        self._open_part()

    def _open_part(self) -> None:
        key = self.protection.new_file_key("quarantine")
        path = self.folder / f"{self.stem}.quarantine-{self._serial}.parquet"
        self._serial += 1
        self.parts.append((path, key))
        self.writer = encrypted_file_writer(path, QUARANTINE_SCHEMA, key)

    def add(self, row: int, rules: str, cells: list[str | None] | None, whole_line: str | None = None) -> None:
        if cells is not None:
            secret = {self.header[i]: cells[i] for i in self.protected_idx}
            shown = {self.header[i]: cells[i] for i in self.open_idx}
        else:  # a malformed row: the whole line is sealed, nothing is shown
            secret, shown = {"line": whole_line}, {}
        self.rows[SOURCE_FILE].append(self.label)
        self.rows[SOURCE_ROW].append(row)
        self.rows["rules"].append(rules)
        self.rows["cells"].append(json.dumps(shown, ensure_ascii=False))
        self.rows["sealed"].append(self.sealer.seal(json.dumps(secret, ensure_ascii=False).encode()))
        self.count += 1
        if len(self.rows[SOURCE_ROW]) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.rows[SOURCE_ROW]:
            self.writer.write_table(pa.table(self.rows, schema=QUARANTINE_SCHEMA))
            self.rows = {n: [] for n in QUARANTINE_SCHEMA.names}

    def renumber_current(self, remap: Callable[[np.ndarray], np.ndarray]) -> None:
        """Rows written so far carry provisional numbers: rewrite them exactly (a row group at a time), then go
        on in a new part."""
        self.flush()
        self.writer.close()
        path, key = self.parts.pop()
        self._open_part()
        old = pq.ParquetFile(path, decryption_properties=decryption(key))
        try:
            for batch in old.iter_batches(batch_size=ROW_GROUP_ROWS):
                self.writer.write_batch(renumbered(batch, remap))
        finally:
            old.close()
        path.unlink()

    def close(self) -> None:
        self.flush()
        self.writer.close()

    def discard(self) -> None:
        """Close and remove every part (the table is read again, or not deposited)."""
        self.close()
        for path, _key in self.parts:
            path.unlink(missing_ok=True)
