"""The claim id's parts computed for their type (``_key_typed``) are the text ``_key`` computes (leading zeros
trimmed): the same surrogate for the same claim whatever the build's path, on the values where the two could
differ — zero, negatives, the largest integers, dates before the year 1000 and before the era, nulls."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from sqlglot import exp

from guichet.workspace.build import _key, _key_typed

VALUES = {
    "i64": pa.array([0, 1, 10, 100, -1, -10, 9223372036854775807, -9223372036854775808, None], pa.int64()),
    "i32": pa.array([0, 7, -7, 2147483647, None, 5, 50, 500, 1], pa.int32()),
    "u8": pa.array([0, 1, 255, None, 10, 2, 3, 4, 5], pa.uint8()),
    "d": pa.array([0, -719162, -719528, -800000, 18628, 2932896, None, -700000, 1], pa.date32()),
    "s": pa.array(["007", "0", "", None, "A0", "00A", "10", " 0", "x"], pa.string()),
}


def test_typed_keys_are_the_trimmed_text() -> None:
    table = pa.table(VALUES)
    con = duckdb.connect()
    con.register("t", table)
    for name, array in VALUES.items():
        plain = exp.select(_key(name)).from_("t").sql(dialect="duckdb")
        typed = exp.select(_key_typed(name, array.type)).from_("t").sql(dialect="duckdb")
        assert con.sql(typed).fetchall() == con.sql(plain).fetchall(), name
    assert "ltrim" not in exp.select(_key_typed("i64", pa.int64())).sql(dialect="duckdb").lower()


@pytest.mark.parametrize("day", ["2021-01-15", "2023-12-31", "1970-01-01", "0999-12-01", "0001-01-01", "0000-03-01",
                                 "12000-07-01", "-0005-03-01", None])
def test_months_are_written_as_strftime_writes_them(day: str | None) -> None:
    """A date coarsened to its month is fetched as one integer and written YYYY-MM by Arrow: the same text as
    DuckDB's strftime(date, '%Y-%m'), whatever the year, null for null."""
    from guichet.workspace.build import _month_index, _month_labels

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT TRY_CAST(? AS DATE) AS d", [day])
    month = con.sql(f"SELECT {_month_index('d').sql(dialect='duckdb')} AS m FROM t").to_arrow_table()
    want = con.sql("SELECT strftime(d, '%Y-%m') AS s FROM t").fetchall()[0][0]
    assert _month_labels(month.column("m")).to_pylist() == [want]
