"""DuckDB 2.0.1 reads the lake's encrypted Parquet only in the layout the shared writer produces.

Reproduction of the two DuckDB 2.0.1 limits the hub works around (docs/deposit.md):
- an encrypted column chunk of more than one data page fails ("Computed AES tag differs from read AES
  tag"): ``guichet.custodian.parquet.encrypted_writer`` writes one page per chunk, whatever the size;
- a column chunk read selectively (a filter or a join's dynamic filter pushed into the scan) fails too:
  every ``Engine`` connection turns those optimisers off.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlglot import exp

from guichet.custodian.parquet import (
    ROW_GROUP_ROWS,
    decryption_properties,
    duckdb_register_key,
    encrypted_writer,
    encryption_properties,
    write_encrypted_parquet,
)
from guichet.engine import Engine, SourceBinding, parquet_source

ROWS = 3 * ROW_GROUP_ROWS + 1234  # several row groups, each far above PyArrow's 20,000 rows per page


def _table(rows: int = ROWS, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    wide = pa.array([f"{x:040d}" for x in rng.integers(0, 10**15, rows)])  # high cardinality: > 1 MiB per chunk
    return pa.table({"i": np.arange(rows), "s": wide, "c": pa.array([f"c{x}" for x in rng.integers(0, 50, rows)])})


def _duckdb_reads(path: Path, key: bytes) -> tuple[int, int, int]:
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    duckdb_register_key(con, "k", key)
    row = con.execute("SELECT count(*), sum(i), count(DISTINCT s) FROM read_parquet(?, encryption_config = "
                      "{footer_key: 'k'})", [str(path)]).fetchone()
    con.close()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_duckdb_reads_a_large_multi_row_group_file_from_the_shared_writer(tmp_path: Path) -> None:
    table, key = _table(), os.urandom(32)
    one = tmp_path / "table.parquet"
    assert write_encrypted_parquet(table, one, key) == ROWS
    streamed = tmp_path / "batches.parquet"
    with encrypted_writer(streamed, table.schema, key) as writer:
        for batch in table.to_batches(max_chunksize=200_000):  # batches larger than a row group
            writer.write_batch(batch)
    expected = (ROWS, ROWS * (ROWS - 1) // 2, len(set(table.column("s").to_pylist())))
    for path in (one, streamed):
        meta = pq.ParquetFile(path, decryption_properties=decryption_properties(key)).metadata
        assert meta.num_row_groups == 4 and max(meta.row_group(g).num_rows for g in range(4)) == ROW_GROUP_ROWS
        assert _duckdb_reads(path, key) == expected


def test_pyarrow_defaults_still_break_duckdb(tmp_path: Path) -> None:
    """The canary: when this fails, DuckDB reads multi-page encrypted chunks and the workaround can go."""
    table, key = _table(), os.urandom(32)
    path = tmp_path / "default.parquet"
    with pq.ParquetWriter(path, table.schema, encryption_properties=encryption_properties(key)) as writer:
        writer.write_table(table)
    with pytest.raises(duckdb.InvalidInputException, match="AES tag"):
        _duckdb_reads(path, key)


def test_page_limits_cannot_be_overridden(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="page limits"):
        encrypted_writer(tmp_path / "x.parquet", _table(10).schema, os.urandom(32), data_page_size=1 << 20)


def test_an_engine_joins_two_encrypted_files_with_a_pushed_down_filter(tmp_path: Path) -> None:
    """A foreign-key check: NOT EXISTS between two files under different keys (a join filter on the scan)."""
    keys, paths = [os.urandom(32), os.urandom(32)], [tmp_path / "child.parquet", tmp_path / "parent.parquet"]
    write_encrypted_parquet(pa.table({"k": [str(i) for i in range(10)]}), paths[0], keys[0])
    write_encrypted_parquet(pa.table({"k": [str(i) for i in range(0, 10, 2)]}), paths[1], keys[1])
    with Engine() as engine:
        for name, path, key in zip(("child", "parent"), paths, keys, strict=True):
            engine.add_parquet_key(f"k_{name}", key)
            engine.bind(name, parquet_source([path], f"k_{name}"), SourceBinding(name, "parquet", path.name))
        cond = exp.column("k", "p").eq(exp.column("k", "c"))
        missing = exp.not_(exp.Exists(this=exp.select("1").from_(exp.alias_(exp.to_table("parent"), "p")).where(cond)))
        q = exp.select(exp.column("k", "c")).from_(exp.alias_(exp.to_table("child"), "c")).where(missing)
        assert sorted(int(r[0]) for r in engine.fetch_all(q, purpose="orphans")) == [1, 3, 5, 7, 9]
