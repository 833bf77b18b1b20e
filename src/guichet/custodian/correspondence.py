"""The correspondence table (level-1 value → hub pseudonym), kept by the custodian in encrypted segments.

Each pseudonymisation call appends one encrypted Parquet segment with the distinct level-1 values it
saw; rotation reads every segment of the current generation, deduplicates, and rewrites one segment
for the new generation. Segments are compacted when they pile up. The table is what makes rotation
possible without ever asking producers for their data again.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from guichet.custodian.home import CustodianHome
from guichet.custodian.keys import Keyring
from guichet.custodian.parquet import read_encrypted_parquet, write_encrypted_parquet

SCHEMA = pa.schema([("level1", pa.string()), ("hub", pa.string())])
COMPACT_AFTER = 64


class Correspondence:
    def __init__(self, home: CustodianHome, keyring: Keyring) -> None:
        self.home, self.keyring = home, keyring
        self.folder = home.path / "correspondence"

    def segments(self, generation: int) -> list[Path]:
        return sorted(self.folder.glob(f"g{generation}-*.parquet"))

    def append(self, generation: int, level1: pa.Array, hub: pa.Array) -> None:
        if len(level1) == 0:
            return
        table = pa.table({"level1": level1.cast(pa.string()), "hub": hub.cast(pa.string())}, schema=SCHEMA)
        name = f"g{generation}-{time.time_ns():020d}-{secrets.token_hex(4)}.parquet"
        write_encrypted_parquet(table, self.folder / name, self.keyring.correspondence_key(generation))
        os.chmod(self.folder / name, 0o600)
        if len(self.segments(generation)) > COMPACT_AFTER:
            with self.home.lock():
                self.compact(generation)

    def read(self, generation: int) -> pa.Table:
        """Every known (level1, hub) pair of a generation, once each."""
        key = self.keyring.correspondence_key(generation)
        parts = [read_encrypted_parquet(p, key) for p in self.segments(generation)]
        if not parts:
            return SCHEMA.empty_table()
        table = pa.concat_tables(parts)
        return table.group_by(["level1", "hub"], use_threads=False).aggregate([]).sort_by("level1")

    def count(self, generation: int) -> int:
        return self.read(generation).num_rows

    def compact(self, generation: int) -> None:
        old = self.segments(generation)
        if len(old) <= 1:
            return
        self.write_generation(generation, self.read(generation), replace=old)

    def write_generation(self, generation: int, table: pa.Table, replace: list[Path]) -> None:
        name = f"g{generation}-{time.time_ns():020d}-{secrets.token_hex(4)}.parquet"
        write_encrypted_parquet(table.select(["level1", "hub"]).cast(SCHEMA), self.folder / name,
                                self.keyring.correspondence_key(generation))
        os.chmod(self.folder / name, 0o600)
        for p in replace:
            p.unlink(missing_ok=True)


def distinct_valid(values: pa.Array) -> pa.Array:
    return pc.unique(values.filter(pc.is_valid(values)))
