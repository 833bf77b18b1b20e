"""Encryption at rest: Parquet modular encryption, *uniform* mode, one random 256-bit key per file.

Written with PyArrow (``pyarrow.parquet.encryption``: footer and every column under the file's data key,
AES-GCM, magic ``PARE``); read by PyArrow, by DuckDB (``PRAGMA add_parquet_key`` then
``read_parquet(path, encryption_config = {footer_key: 'name'})``) and by Spark
(``guichet.custodian.spark``: a small decryption factory compiled with javac).
DuckDB cannot write such files with the extensions inside its wheel, and its ``force_mbedtls_unsafe``
setting is not secure: it is never used.

Keys reach DuckDB only through ``duckdb_register_key``: DuckDB's PRAGMA cannot take a prepared
parameter, so the key is inlined there and nowhere else — that statement is never recorded, logged or
echoed in an error (errors are replaced by a one-line message naming the key *name* only).

Usage::

    dk = custodian.new_data_key("lake")                  # DataKey(key_id, wrapped, key)
    write_encrypted_parquet(table_or_batches, path, dk.key)
    # store dk.key_id and dk.wrapped in the metadata store; forget dk.key
    key = custodian.unwrap(key_id, wrapped)
    duckdb_register_key(conn, "k_" + key_id.replace("-", "_"), key)
    conn.execute("SELECT * FROM read_parquet(?, encryption_config = {footer_key: 'k_...'})", [str(path)])
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe

from guichet.errors import BadInput, Refused

ENCRYPTED_MAGIC = b"PARE"
KEY_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != 32:
        raise BadInput("data key: must be 32 bytes (AES-256)")


def encryption_properties(key: bytes) -> pe.FileEncryptionProperties:
    _check_key(key)
    return pe.create_encryption_properties(footer_key=bytes(key))


def decryption_properties(key: bytes) -> pe.FileDecryptionProperties:
    _check_key(key)
    return pe.create_decryption_properties(footer_key=bytes(key))


# DuckDB 2.0.1 cannot decrypt an encrypted column chunk that holds more than one data page ("Computed AES
# tag differs from read AES tag": it gets the page ordinal of the AES-GCM additional data wrong after the
# first page; duckdb/duckdb#18524). PyArrow cuts pages at 1 MiB or 20,000 rows and falls back from a
# dictionary to plain pages at 1 MiB of dictionary, so its default files fail as soon as a row group has
# more than ~20k rows. Measured (tests/spec/test_encrypted_parquet_pages.py): with the three limits
# below lifted, every column chunk is ONE page whatever the row group's size, and DuckDB reads files of
# 122,880-row (and 1M-row) groups; any single limit left at its default breaks it again. Row groups are
# capped (a page is one allocation of the whole chunk, and Parquet page sizes are 32-bit).
ONE_PAGE_PER_CHUNK: dict[str, int] = {
    "data_page_size": 1 << 30,
    "dictionary_pagesize_limit": 1 << 30,
    "max_rows_per_page": 1 << 30,
}
ROW_GROUP_ROWS = 122_880  # DuckDB's own row-group size: 60 vectors of 2,048 rows


class EncryptedParquetWriter(pq.ParquetWriter):
    """A ``ParquetWriter`` whose row groups are at most ``ROW_GROUP_ROWS`` rows, one page per column chunk."""

    def write_table(self, table: pa.Table, row_group_size: int | None = None) -> None:
        super().write_table(table, row_group_size=min(row_group_size or ROW_GROUP_ROWS, ROW_GROUP_ROWS))


def encrypted_writer(path: Path, schema: pa.Schema, key: bytes, **kwargs: Any) -> pq.ParquetWriter:
    """A ``ParquetWriter`` that encrypts (use as a context manager; write batches as they come).

    Files are written so that DuckDB 2.0.1 can read them back (one data page per column chunk, see
    ``ONE_PAGE_PER_CHUNK``): the page limits cannot be overridden; compression defaults to zstd."""
    if set(kwargs) & set(ONE_PAGE_PER_CHUNK):
        raise ValueError("encrypted_writer: page limits are fixed (DuckDB reads one page per chunk only)")
    kwargs.setdefault("compression", "zstd")
    return EncryptedParquetWriter(str(path), schema, encryption_properties=encryption_properties(key),
                                  **ONE_PAGE_PER_CHUNK, **kwargs)


def write_encrypted_parquet(data: pa.Table | Iterable[pa.RecordBatch], path: Path, key: bytes,
                            schema: pa.Schema | None = None, *, atomic: bool = True,
                            use_dictionary: bool | list[str] = True) -> int:
    """Write a table or a stream of record batches as one encrypted Parquet file; returns the row count.

    With ``atomic`` the file is written beside its destination and renamed, so a crash never leaves a
    torn file under the final name. ``use_dictionary``: PyArrow's (a list names the columns written with a
    dictionary; a column of distinct values is better without).
    """
    path = Path(path)
    target = path.with_name(f".{path.name}.{os.getpid()}.tmp") if atomic else path
    rows = 0
    try:
        if isinstance(data, pa.Table):
            with encrypted_writer(target, data.schema, key, use_dictionary=use_dictionary) as writer:
                writer.write_table(data)
            rows = data.num_rows
        else:
            writer = None
            try:
                for batch in data:
                    if writer is None:
                        writer = encrypted_writer(target, schema or batch.schema, key, use_dictionary=use_dictionary)
                    writer.write_batch(batch)
                    rows += batch.num_rows
                if writer is None:
                    if schema is None:
                        raise BadInput(f"{path}: no batches and no schema to write")
                    writer = encrypted_writer(target, schema, key, use_dictionary=use_dictionary)
            finally:
                if writer is not None:
                    writer.close()
        if atomic:
            os.replace(target, path)
    except BaseException:
        if atomic:
            target.unlink(missing_ok=True)
        raise
    return rows


def read_encrypted_parquet(path: Path, key: bytes, columns: list[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(str(path), columns=columns, decryption_properties=decryption_properties(key))
    except (OSError, pa.ArrowException):
        raise BadInput(f"{path}: cannot be decrypted with this key (wrong key, or not an encrypted file)") from None


def is_encrypted_parquet(path: Path) -> bool:
    """Encrypted-footer Parquet ends (and starts) with ``PARE`` instead of ``PAR1``."""
    with open(path, "rb") as fh:
        fh.seek(-4, os.SEEK_END)
        return fh.read(4) == ENCRYPTED_MAGIC


def duckdb_register_key(conn: Any, name: str, key: bytes) -> None:
    """Give a DuckDB connection a named Parquet key without the key reaching logs, history or errors."""
    _check_key(key)
    if not KEY_NAME_RE.match(name):
        raise BadInput(f"parquet key name {name!r}: must match {KEY_NAME_RE.pattern}")
    _refuse_logged_connection(conn, name)
    encoded = base64.b64encode(bytes(key)).decode("ascii")  # [A-Za-z0-9+/=]: nothing to escape
    try:
        conn.execute(f"PRAGMA add_parquet_key('{name}', '{encoded}')")
    except Exception:  # noqa: BLE001 - the original message could quote the statement, hence the key
        raise BadInput(f"duckdb: could not register parquet key {name}") from None


def _refuse_logged_connection(conn: Any, name: str) -> None:
    """DuckDB keeps the text of every statement when its logger is on (``duckdb_logs``, type QueryLog) or
    when ``log_query_path`` is set: the PRAGMA, hence the key, would be kept. Refuse such a connection."""
    try:
        logging_on, query_log = conn.execute(
            "SELECT current_setting('enable_logging'), current_setting('log_query_path')").fetchone()
    except Exception:  # noqa: BLE001 - cannot tell: do not risk it
        raise Refused(f"duckdb: cannot check query logging before registering parquet key {name}") from None
    if logging_on or query_log:
        raise Refused(f"duckdb: query logging is on (enable_logging or log_query_path); parquet key {name} not registered")


def duckdb_encryption_config(name: str) -> str:
    """The ``encryption_config`` argument of ``read_parquet`` for a registered key name."""
    if not KEY_NAME_RE.match(name):
        raise BadInput(f"parquet key name {name!r}: must match {KEY_NAME_RE.pattern}")
    return f"{{footer_key: '{name}'}}"
