"""The allowlist a session's SQL passes before it runs (an extra layer: the sandbox and DuckDB's locked
configuration are what enforce; this refuses early, with a clear message, what they would stop anyway).

One statement, a query (``SELECT``, ``WITH``, set operations), over the extract's views and the query's own
common table expressions only — no schema or catalog prefix, no table function, no string as a table (a
replacement scan of a path), no parameter — calling only allowlisted functions. The SQL that runs is the
one SQLGlot regenerates from the tree it checked, so that a difference between SQLGlot's parser and
DuckDB's cannot smuggle through what the check did not see.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from guichet.errors import BadInput, Refused

MAX_SQL = 20_000  # characters

# Function names as SQLGlot names them (its class's SQL name, or the name of a function it does not know).
AGGREGATES = frozenset("""
COUNT COUNT_IF SUM AVG MIN MAX MEDIAN MODE STDDEV STDDEV_POP STDDEV_SAMP VARIANCE VARIANCE_POP VAR_SAMP VAR_POP
APPROX_DISTINCT APPROX_QUANTILE PERCENTILE_CONT PERCENTILE_DISC QUANTILE QUANTILE_CONT QUANTILE_DISC CORR
COVAR_POP COVAR_SAMP ARRAY_AGG GROUP_CONCAT STRING_AGG LIST BOOL_AND BOOL_OR LOGICAL_AND LOGICAL_OR ARG_MIN
ARG_MAX ARGMIN ARGMAX ANY_VALUE FIRST LAST ENTROPY KURTOSIS SKEWNESS HISTOGRAM REGR_SLOPE REGR_INTERCEPT
REGR_R2 REGR_COUNT FSUM SUMKAHAN PRODUCT
""".split())
WINDOW = frozenset("""
ROW_NUMBER RANK DENSE_RANK PERCENT_RANK CUME_DIST NTILE LAG LEAD FIRST_VALUE LAST_VALUE NTH_VALUE
""".split())
SCALAR = frozenset("""
ABS SIGN ROUND FLOOR CEIL CEILING TRUNC SQRT CBRT POW POWER EXP LN LOG LOG2 LOG10 MOD GREATEST LEAST
COALESCE NULLIF IFNULL IF CASE CAST TRY_CAST TRYCAST ISNAN ISINF EVEN GAMMA FACTORIAL BIT_COUNT
LOWER UPPER LENGTH CHAR_LENGTH STRLEN SUBSTRING SUBSTR LEFT RIGHT TRIM LTRIM RTRIM LPAD RPAD CONCAT CONCAT_WS
REPLACE REVERSE REPEAT STARTS_WITH ENDS_WITH CONTAINS STRPOS POSITION INSTR SPLIT_PART STRING_SPLIT SPLIT
REGEXP_LIKE REGEXP_MATCHES REGEXP_EXTRACT REGEXP_REPLACE LIKE ILIKE PREFIX SUFFIX ASCII CHR FORMAT PRINTF
UNICODE INITCAP
YEAR MONTH DAY QUARTER WEEK WEEKOFYEAR DAYOFWEEK DAYOFYEAR DAYOFMONTH ISODOW YEARWEEK EXTRACT DATE_PART
DATEPART DATE_TRUNC DATETRUNC TIMESTAMP_TRUNC TIME_TO_STR STR_TO_TIME STR_TO_DATE STRFTIME STRPTIME
DATEDIFF DATE_DIFF DATESUB DATE_SUB DATEADD DATE_ADD TS_OR_DS_ADD TS_OR_DS_DIFF TS_OR_DS_TO_DATE
MAKE_DATE DATE_FROM_PARTS LAST_DAY TO_DAYS TO_MONTHS TO_YEARS AGE CURRENT_DATE DATE TIME_STR_TO_DATE
TIME_STR_TO_TIME UNIX_TO_TIME TIME_TO_UNIX EPOCH
ARRAY STRUCT MAP LIST_VALUE ARRAY_LENGTH ARRAY_SIZE LIST_SORT ARRAY_SORT LIST_DISTINCT ARRAY_CONTAINS
LIST_CONTAINS LIST_HAS ARRAY_TO_STRING ARRAY_JOIN UNNEST TRANSFORM FILTER LIST_TRANSFORM LIST_FILTER
LIST_AGGREGATE ARRAY_AGGREGATE EXPLODE STRUCT_EXTRACT BRACKET
COLUMNS MD5 HASH
""".split())
ALLOWED_FUNCTIONS = AGGREGATES | WINDOW | SCALAR

# Nodes that never belong in a researcher's query (parameters, commands SQLGlot did not parse).
_FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = (exp.Placeholder, exp.Parameter, exp.SessionParameter,
                                                   exp.Command, exp.Into)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    return str(node.sql_name()).upper()


def _cte_names(tree: exp.Expr) -> set[str]:
    return {str(cte.alias_or_name).upper() for cte in tree.find_all(exp.CTE)}


def check_sql(sql: str, views: Iterable[str]) -> str:
    """Check one query against the allowlist; answer the SQL to run (SQLGlot's, from the checked tree).
    Raises ``Refused`` with a one-line reason naming what was refused (never the data)."""
    if not isinstance(sql, str) or not sql.strip():
        raise BadInput("sql: empty query")
    if len(sql) > MAX_SQL:
        raise BadInput(f"sql: longer than {MAX_SQL} characters")
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except SqlglotError as exc:
        first = str(exc).splitlines()[0][:160] if str(exc) else "syntax error"
        raise BadInput(f"sql: cannot be parsed ({first})") from None
    if len(statements) != 1:
        raise Refused(f"sql: refused, one query at a time ({len(statements)} statements given)")
    tree = statements[0]
    if not isinstance(tree, exp.Select | exp.SetOperation):
        raise Refused(f"sql: refused, only SELECT or WITH queries run in a session (not {tree.key.upper()})")
    allowed = {v.upper() for v in views}
    ctes = _cte_names(tree)
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise Refused(f"sql: refused, {node.key.upper()} is not allowed in a session query")
        if isinstance(node, exp.Table):
            _check_table(node, allowed, ctes)
        elif isinstance(node, exp.Func):
            name = _function_name(node)
            if name not in ALLOWED_FUNCTIONS:
                raise Refused(f"sql: refused, function {name.lower()} is not on the session's allowlist")
    out = tree.sql(dialect="duckdb")
    return out


def _check_table(node: exp.Table, allowed: set[str], ctes: set[str]) -> None:
    target = node.this
    if not isinstance(target, exp.Identifier):
        what = _function_name(target).lower() if isinstance(target, exp.Func) else target.key
        raise Refused(f"sql: refused, {what} as a table: a session reads only the extract's views")
    if node.args.get("db") or node.args.get("catalog"):
        raise Refused("sql: refused, a table name with a schema or catalog: use the extract's view names")
    name = str(target.name)
    if name.upper() in ctes:
        return
    if name.upper() not in allowed:
        shown = name if name.replace("_", "").isalnum() and len(name) <= 64 else "(a path or unknown name)"
        raise Refused(f"sql: refused, {shown} is not one of the extract's views ({', '.join(sorted(allowed))})")
