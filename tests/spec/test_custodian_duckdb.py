"""DuckDB 2.0.1 reads the encrypted Parquet files PyArrow writes (uniform mode, AES-GCM) with exact row
equality, refuses them without the key or with a wrong one, and keeps the key out of everything it
records: the engine's recorded SQL and bindings, its log, and DuckDB's own query log."""

from __future__ import annotations

import base64
import logging
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from sqlglot import exp

from guichet.custodian.parquet import (
    duckdb_encryption_config,
    duckdb_register_key,
    is_encrypted_parquet,
    write_encrypted_parquet,
)
from guichet.engine import Engine, SourceBinding, parquet_source
from guichet.errors import BadInput, Refused

KEY = bytes(range(100, 132))
OTHER = bytes(range(200, 232))


def _forms(key: bytes) -> list[str]:
    return [base64.b64encode(key).decode(), key.hex(), key.hex().upper(), repr(key)]


def _table(n: int = 7) -> pa.Table:
    return pa.table({
        "row": pa.array(range(n), pa.int64()),
        "person": pa.array([None if i % 3 == 1 else f"ÉLÈVE-{i}" for i in range(n)], pa.string()),
        "amount": pa.array([Decimal(i) / 4 for i in range(n)], pa.decimal128(9, 2)),
        "born": pa.array([date(1950 + i % 70, 1 + i % 12, 1 + i % 28) for i in range(n)], pa.date32()),
        "seen": pa.array([datetime(2024, 1, 1, i % 24, tzinfo=UTC) for i in range(n)], pa.timestamp("us", tz="UTC")),
        "flag": pa.array([None if i == 2 else i % 2 == 0 for i in range(n)], pa.bool_()),
        "score": pa.array([i * 0.5 for i in range(n)], pa.float64()),
    })


def _connect() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})


def _read(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> pa.Table:
    sql = f"SELECT * FROM read_parquet($path, encryption_config = {duckdb_encryption_config(name)})"
    return con.sql(sql, params={"path": str(path)}).to_arrow_table()


@pytest.fixture
def encrypted(tmp_path: Path) -> Path:
    path = tmp_path / "lake.parquet"
    assert write_encrypted_parquet(_table(), path, KEY) == 7
    return path


def test_duckdb_reads_exactly_what_pyarrow_encrypted(encrypted: Path) -> None:
    assert is_encrypted_parquet(encrypted)
    con = _connect()
    duckdb_register_key(con, "k_lake", KEY)
    got = _read(con, encrypted, "k_lake")
    expected = _table()
    assert got.column_names == expected.column_names
    assert got.to_pylist() == expected.to_pylist()
    # Same types too (DuckDB names the UTC zone Etc/UTC: the same instant, the same zone).
    assert got.cast(expected.schema).equals(expected)


def test_many_row_groups_keep_order_and_every_row(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    table = _table(30_000)
    batches = table.to_batches(max_chunksize=4_000)
    assert write_encrypted_parquet(iter(batches), path, KEY, schema=table.schema) == 30_000
    con = _connect()
    duckdb_register_key(con, "k_big", KEY)
    got = _read(con, path, "k_big")
    assert got.cast(table.schema).equals(table)


def test_duckdb_refuses_without_the_key(encrypted: Path) -> None:
    con = _connect()
    with pytest.raises(duckdb.Error, match=r"(?i)encrypt"):
        con.sql("SELECT * FROM read_parquet($p)", params={"p": str(encrypted)}).fetchall()
    with pytest.raises(duckdb.Error):  # a key name nobody registered
        _read(con, encrypted, "k_missing")


def test_duckdb_refuses_the_wrong_key_and_does_not_echo_it(encrypted: Path) -> None:
    con = _connect()
    duckdb_register_key(con, "k_wrong", OTHER)
    with pytest.raises(duckdb.Error) as refused:
        _read(con, encrypted, "k_wrong")
    for form in _forms(OTHER) + _forms(KEY):
        assert form not in str(refused.value)


def test_a_plain_parquet_reader_sees_nothing(encrypted: Path) -> None:
    blob = encrypted.read_bytes()
    assert blob[:4] == b"PARE" and blob[-4:] == b"PARE"
    assert "ÉLÈVE".encode() not in blob and b"LVE-1" not in blob


def test_engine_records_no_key_in_sql_bindings_or_logs(encrypted: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with Engine() as engine:
        engine.add_parquet_key("k_engine", KEY)
        engine.bind("lake", parquet_source([encrypted], "k_engine"),
                    SourceBinding("lake", "parquet", str(encrypted), {"key_id": "k_engine"}))
        rows = engine.fetch_all(exp.select("row", "person").from_("lake").order_by("row"), purpose="spec: read lake")
        assert rows == [(r["row"], r["person"]) for r in _table().to_pylist()]
        settings = engine.con.execute(
            "SELECT current_setting('enable_logging'), current_setting('log_query_path')").fetchone()
        assert settings is not None and not settings[0] and not settings[1]
        kept = str(engine.con.execute("SELECT * FROM duckdb_logs").fetchall())
        recorded = [str(r.to_dict()) for r in engine.recorded] + [str(b.to_dict()) for b in engine.bindings]
    assert engine.recorded and "k_engine" in " ".join(recorded)  # the statements were recorded
    for text in [*recorded, kept, caplog.text]:
        for form in _forms(KEY):
            assert form not in text


def test_register_key_refuses_a_connection_that_keeps_its_queries(tmp_path: Path) -> None:
    # With DuckDB's logger on, every statement's text is kept in duckdb_logs: the PRAGMA would keep the key.
    con = _connect()
    con.execute("CALL enable_logging('QueryLog')")
    con.execute("SELECT 'a statement DuckDB keeps' AS s").fetchall()
    assert "a statement DuckDB keeps" in str(con.execute("SELECT message FROM duckdb_logs").fetchall())
    with pytest.raises(Refused, match="query logging is on"):
        duckdb_register_key(con, "k_logged", KEY)
    kept = str(con.execute("SELECT message FROM duckdb_logs").fetchall())
    for form in _forms(KEY):
        assert form not in kept

    con2 = _connect()
    con2.execute("SET log_query_path = $p", {"p": str(tmp_path / "queries.log")})
    with pytest.raises(Refused, match="query logging is on"):
        duckdb_register_key(con2, "k_logged", KEY)
    con2.close()
    log = tmp_path / "queries.log"
    text = log.read_text() if log.exists() else ""
    for form in _forms(KEY):
        assert form not in text


def test_register_key_errors_never_quote_the_key() -> None:
    con = _connect()
    for bad_name in ("k'; DROP", "", "1abc"):
        with pytest.raises(BadInput) as err:
            duckdb_register_key(con, bad_name, KEY)
        for form in _forms(KEY):
            assert form not in str(err.value)
    with pytest.raises(BadInput, match="32 bytes"):
        duckdb_register_key(con, "k_short", os.urandom(16))
