"""The one seam to the data engines. DuckDB (embedded) today; Spark with the "Scale-out" issue.

Everything that touches data builds SQLGlot trees and runs them through ``Engine.execute``; the recorded
statements carry their Spark translation, so that CI proves the operations transpile.
"""

from guichet.engine.connection import EngineSettings
from guichet.engine.execute import (
    Engine,
    EngineError,
    RecordedSql,
    RowHash,
    SourceBinding,
    csv_source,
    literal,
    parquet_source,
    to_spark,
)
from guichet.engine.spark_check import check_recorded

__all__ = [
    "Engine",
    "EngineError",
    "EngineSettings",
    "RecordedSql",
    "RowHash",
    "SourceBinding",
    "check_recorded",
    "csv_source",
    "literal",
    "parquet_source",
    "to_spark",
]
