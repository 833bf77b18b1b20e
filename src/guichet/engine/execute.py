"""The one place where the hub runs SQL on DuckDB.

Code *builds* SQL as SQLGlot trees (values are literals in the tree, never formatted into strings) and
hands them to ``Engine.execute``, which logs the purpose and duration, bounds the time (interrupting the
query), adds context to errors without echoing data, and records the statement — with its Spark
translation, made from the tree — for the lineage. Sources (a CSV file, an encrypted Parquet file) are
*bound* to names first; a binding is recorded apart, since the Spark engine reads files with its own
reader (and keys reach it through its decryption factory), so that recorded statements only name views.
Keys reach DuckDB through ``add_parquet_key``, which is neither logged nor recorded.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from guichet.engine.connection import EngineSettings, connect, remove_spill, spill_directory
from guichet.errors import BadInput, GuichetError, Unavailable

log = logging.getLogger("guichet.engine")
_KEY_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


@dataclass(frozen=True)
class RecordedSql:
    purpose: str
    sql: str  # DuckDB dialect, as run
    spark: str | None  # the same statement in Spark's dialect, or None when it does not transpile
    spark_error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SourceBinding:
    name: str
    kind: str  # csv | parquet
    path: str
    options: dict[str, Any] = field(default_factory=dict)  # never a key; encrypted sources name a key id

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class EngineError(BadInput):
    """A statement failed; the message names its purpose, not the data. ``kind``: the engine's exception
    class (e.g. ``OutOfMemoryException``), for callers that explain a failure in their own words."""

    def __init__(self, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.kind = kind


def to_spark(tree: exp.Expression) -> tuple[str | None, str | None]:
    """Transpile a statement tree to Spark SQL; (None, reason) when SQLGlot cannot."""
    unknown = sorted({n.name.upper() for n in tree.find_all(exp.Anonymous)})
    if unknown:
        return None, f"functions unknown to SQLGlot: {', '.join(unknown)}"
    try:
        return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE), None
    except sqlglot.errors.SqlglotError as exc:
        return None, str(exc).splitlines()[0][:200]


class Engine:
    """A DuckDB connection with its choke point. Use as a context manager."""

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self._spill = spill_directory()
        self.con = connect(self.settings, self._spill)
        self.recorded: list[RecordedSql] = []
        self.bindings: list[SourceBinding] = []

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def scratch(self) -> Path:
        """This engine's private folder (its spill folder: RAM-backed when possible, removed at close), for
        a file the engine must read that may not be written anywhere else."""
        return self._spill

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            remove_spill(self._spill)

    # -- keys: never logged, never recorded ------------------------------------------------------------
    def add_parquet_key(self, name: str, key: bytes) -> None:
        """Register a Parquet key through the custodian's one registration path (never logged or recorded;
        refused on a connection whose DuckDB query logging would keep the statement)."""
        from guichet.custodian.parquet import duckdb_register_key

        if not _KEY_NAME.match(name) or len(key) not in (16, 24, 32):
            raise ValueError("a Parquet key needs a plain name and 16, 24 or 32 bytes")
        try:
            duckdb_register_key(self.con, name, key)
        except GuichetError:
            raise Unavailable("the engine refused an encryption key") from None

    # -- sources -----------------------------------------------------------------------------------------
    def bind(self, name: str, source: exp.Expression, binding: SourceBinding) -> None:
        """Make a file readable under ``name`` (a temporary view) and record the binding."""
        view = exp.Create(this=exp.to_table(name), kind="VIEW", replace=True,
                          properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
                          expression=exp.select("*").from_(source))
        self._run(view, f"bind {binding.kind} {name}", record=False)
        self.bindings.append(binding)

    # -- the choke point -----------------------------------------------------------------------------------
    def execute(self, tree: exp.Expression, *, purpose: str, timeout: float | None = None,
                record: bool = True) -> duckdb.DuckDBPyConnection:
        return self._run(tree, purpose, record=record, timeout=timeout)

    def arrow_table(self, tree: exp.Expression, *, purpose: str) -> pa.Table:
        """A (small) result as one Arrow table, with its schema even when it has no rows."""
        sql = tree.sql(dialect="duckdb")
        try:
            table = self.con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise EngineError(f"engine: {purpose} failed ({type(exc).__name__})") from None
        spark, error = to_spark(tree)
        self.recorded.append(RecordedSql(purpose, sql, spark, error))
        return table

    def fetch_all(self, tree: exp.Expression, *, purpose: str) -> list[tuple[Any, ...]]:
        return self._run(tree, purpose).fetchall()

    def batches(self, tree: exp.Expression, *, purpose: str, rows: int = 122_880) -> Iterator[pa.RecordBatch]:
        """Stream a query's result as Arrow batches, in the order DuckDB produces them (time-bounded)."""
        sql = tree.sql(dialect="duckdb")
        timer = threading.Timer(self.settings.timeout_seconds, self.con.interrupt)
        timer.daemon = True
        started = time.perf_counter()
        timer.start()
        try:
            reader = self.con.sql(sql).to_arrow_reader(rows)
            yield from reader
        except duckdb.InterruptException:
            raise Unavailable(f"engine: {purpose}: interrupted after the time limit") from None
        except (duckdb.Error, pa.ArrowException, OSError) as exc:  # a DuckDB error met mid-stream reaches
            # Python through the Arrow stream, as an OSError
            log.info("engine: %s failed: %s", purpose, type(exc).__name__)
            raise EngineError(f"engine: {purpose} failed ({type(exc).__name__})", type(exc).__name__) from None
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        log.info("engine: %s (%.3f s)", purpose, seconds)
        spark, error = to_spark(tree)
        self.recorded.append(RecordedSql(purpose, sql, spark, error, round(seconds, 3)))

    def _run(self, tree: exp.Expression, purpose: str, *, record: bool = True,
             timeout: float | None = None) -> duckdb.DuckDBPyConnection:
        sql = tree.sql(dialect="duckdb")
        limit = timeout if timeout is not None else self.settings.timeout_seconds
        timer = threading.Timer(limit, self.con.interrupt)
        timer.daemon = True
        started = time.perf_counter()
        timer.start()
        try:
            cursor = self.con.execute(sql)
        except duckdb.InterruptException:
            raise Unavailable(f"engine: {purpose}: stopped after {limit:.0f} s") from None
        except duckdb.Error as exc:
            # info, not warning: the error raised says it, and a CLI prints one line per error
            log.info("engine: %s failed: %s", purpose, type(exc).__name__)
            raise EngineError(f"engine: {purpose} failed ({type(exc).__name__})", type(exc).__name__) from None
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        log.info("engine: %s (%.3f s)", purpose, seconds)
        if record:
            spark, error = to_spark(tree)
            self.recorded.append(RecordedSql(purpose, sql, spark, error, round(seconds, 3)))
        return cursor


class RowHash(exp.Expression, exp.Func):
    """``hash(a, b, ...)``: a 64-bit hash in DuckDB, Murmur3 (32-bit) in Spark — both engines have it under
    this name. Only ever used as a hint (duplicate candidates), never as an identity."""

    arg_types = {"expressions": True}
    is_var_len_args = True
    _sql_names = ["HASH"]


def literal(value: Any) -> exp.Expression:
    """A value as an SQL literal node (never formatted into SQL text by hand)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def struct(options: Mapping[str, Any]) -> exp.Expression:
    return exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(k), expression=v if isinstance(
        v, exp.Expression) else literal(v)) for k, v in options.items()])


def csv_source(path: Path, *, columns: list[str], delimiter: str, encoding: str,
               store_rejects: bool = True, buffer_size: int | None = None, parallel: bool = True,
               rejects_limit: int | None = None, ignore_errors: bool = False) -> exp.Expression:
    """``read_csv`` with every column as text and nothing guessed: the schema says what to expect."""
    col_struct = exp.Struct(expressions=[exp.PropertyEQ(this=exp.Literal.string(c),
                                                        expression=exp.Literal.string("VARCHAR")) for c in columns])
    args: list[exp.Expression] = [literal(str(path))]
    opts: dict[str, Any] = {"header": True, "delim": delimiter, "quote": '"', "escape": '"',
                            "auto_detect": False, "encoding": encoding, "strict_mode": True,
                            "store_rejects": store_rejects, "null_padding": False, "parallel": parallel}
    if buffer_size:
        opts["buffer_size"] = buffer_size
    if store_rejects and rejects_limit:
        opts["rejects_limit"] = rejects_limit
    elif ignore_errors:  # skip the rows that cannot be read, without recording them (store_rejects implies it)
        opts["ignore_errors"] = True
    for key, value in opts.items():
        args.append(exp.PropertyEQ(this=exp.to_identifier(key), expression=literal(value)))
    args.append(exp.PropertyEQ(this=exp.to_identifier("columns"), expression=col_struct))
    return exp.Anonymous(this="read_csv", expressions=args)


def parquet_source(paths: list[Path], key_name: str | None) -> exp.Expression:
    args: list[exp.Expression] = [exp.Array(expressions=[literal(str(p)) for p in paths])]
    if key_name:
        args.append(exp.PropertyEQ(this=exp.to_identifier("encryption_config"),
                                   expression=struct({"footer_key": key_name})))
    return exp.Anonymous(this="read_parquet", expressions=args)
