"""SQL builders for checks: SQLGlot trees only (values are literals in the tree, never formatted).

Row checks become predicates ("this row fails") that ``combined_aggregate`` folds into ONE aggregate query
per table — ``count(*) FILTER (WHERE ...)`` per check — so that a table is scanned once whatever the number
of checks. Uniqueness rides in the same scan as ``count(DISTINCT hash(keys))``; only when that count says
there may be duplicates does an exact pass (window over the real keys, restricted to colliding hashes)
name the rows. Cross-table checks that share a (child, parent, keys) join are evaluated in one join.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlglot
from sqlglot import exp

from guichet.engine import literal
from guichet.errors import BadInput
from guichet.quality.model import Check

SOURCE_FILE, SOURCE_ROW = "_source_file", "_source_row"
INTERNAL = (SOURCE_FILE, SOURCE_ROW)


class RowHash(exp.Expression, exp.Func):
    """``HASH(a, b, ...)``: DuckDB's 64-bit hash; Spark's ``hash`` has the same name and arguments."""

    arg_types = {"expressions": True}
    is_var_len_args = True
    _sql_names = ["HASH"]


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True), table=exp.to_identifier(table) if table else None)


def as_text(e: exp.Expr) -> exp.Expr:
    return exp.cast(e, "VARCHAR")


def trimmed(e: exp.Expr) -> exp.Expr:
    """``TRIM(text)``, computed only for the rare cells that start or end with a space: DuckDB 2.0.1 evaluates
    TRIM on every row even inside FILTER and AND (measured ~7x the cost of a plain comparison), and CASE is
    the one construct it evaluates lazily. Same result as TRIM."""
    t = as_text(e)
    padded = exp.or_(exp.Like(this=t.copy(), expression=literal(" %")), exp.Like(this=t.copy(), expression=literal("% ")))
    return exp.Case(ifs=[exp.If(this=padded, true=exp.Trim(this=t.copy()))], default=t)


def as_number(e: exp.Expr) -> exp.Expr:
    return exp.TryCast(this=e, to=exp.DataType.build("DOUBLE"))


def as_date(e: exp.Expr, kind: str = "date") -> exp.Expr:
    if kind == "year":
        return exp.TryCast(this=e, to=exp.DataType.build("INT"))
    return exp.TryCast(this=e, to=exp.DataType.build("TIMESTAMP" if kind == "datetime" else "DATE"))


def date_literal(value: Any) -> exp.Expr:
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return exp.cast(literal(day.isoformat()), "DATE")


def _is_numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


# -- row predicates -----------------------------------------------------------------------------------------


def row_failure(check: Check, *, nomenclature_views: dict[str, str] | None = None) -> exp.Condition:
    """The predicate that is true for a row failing ``check`` (NULL cells pass every check but not_null)."""
    p, c = check.params, [col(n) for n in check.columns]
    kind = check.kind
    if kind == "not_null":
        return exp.or_(*[x.is_(exp.null()) for x in c])
    if kind in ("value_in", "sentinel", "marker"):
        values = list(p["values"])
        target = as_number(c[0]) if _is_numeric(values) else trimmed(c[0])
        inside = exp.In(this=target, expressions=[literal(v if _is_numeric(values) else str(v)) for v in values])
        if p.get("value_kind") == "date":
            inside = exp.In(this=as_date(c[0]), expressions=[date_literal(v) for v in values])
        return inside if kind in ("sentinel", "marker") else exp.and_(c[0].is_(exp.null()).not_(), exp.not_(inside))
    if kind == "nomenclature":
        numeric = p.get("numeric", False)
        target = as_number(c[0]) if numeric else trimmed(c[0])
        codes = p.get("codes")
        if codes is not None:  # a short code list, inlined: no join in the one-scan query
            inside = exp.In(this=target, expressions=[literal(float(v) if numeric else str(v)) for v in codes])
            return exp.and_(c[0].is_(exp.null()).not_(), exp.not_(inside))
        view = (nomenclature_views or {})[str(p.get("reference") or p["nomenclature"])]
        code = exp.column("code_num" if numeric else "code")
        sub = exp.select(code).from_(view).where(code.copy().is_(exp.null()).not_())  # NOT IN and NULL: never true
        return exp.and_(c[0].is_(exp.null()).not_(), exp.not_(exp.In(this=target, query=sub.subquery())))
    if kind == "range":
        vk = p.get("value_kind", "number")
        conv = (lambda v: date_literal(v)) if vk == "date" else literal
        target = as_date(c[0], vk) if vk in ("date", "datetime", "year") else as_number(c[0])
        parts: list[exp.Condition] = []
        if p.get("min") is not None:
            parts.append(target < conv(p["min"]))
        if p.get("max") is not None:
            parts.append(target > conv(p["max"]))
        return exp.or_(*parts) if parts else exp.false()
    if kind == "pattern":
        regex = exp.RegexpFullMatch(this=as_text(c[0]), expression=literal(str(p["pattern"])))
        return exp.and_(c[0].is_(exp.null()).not_(), exp.not_(regex))
    if kind == "max_length":
        n = literal(int(p["length"]))  # trimming only shortens: a short enough raw cell passes without it
        return exp.Case(ifs=[exp.If(this=exp.Length(this=as_text(c[0])) <= n, true=exp.false())],
                        default=exp.Length(this=trimmed(c[0])) > n.copy())
    if kind == "min_length":
        return exp.Length(this=trimmed(c[0])) < literal(int(p["length"]))
    if kind == "date_order":  # columns = (start, end): fails when end < start (+ tolerance days)
        vk = p.get("value_kind", "date")
        start, end = as_date(c[0], vk), as_date(c[1], vk)
        if p.get("unit") == "month":  # a flow month (1st of the month) holds care of that whole month
            start, end = (exp.DateTrunc(this=x, unit=exp.var("MONTH")) for x in (start, end))
        if p.get("max_days") is not None:  # the end may not come more than max_days after the start
            late = exp.DateDiff(this=exp.cast(end, "DATE"), expression=exp.cast(start, "DATE"), unit=exp.var("DAY"))
            return exp.or_(end < start, late > literal(int(p["max_days"])))
        return end < start
    if kind == "not_future":
        vk = p.get("value_kind", "date")
        as_of = dt.date.fromisoformat(str(p["as_of"]))
        if vk == "year":
            return as_date(c[0], "year") > literal(as_of.year)
        return as_date(c[0], vk) > date_literal(as_of)
    if kind == "type":
        return exp.and_(c[0].is_(exp.null()).not_(), trimmed(c[0]).neq(literal("")),
                        exp.TryCast(this=c[0], to=exp.DataType.build(str(p["sql_type"]))).is_(exp.null()))
    if kind == "condition":
        return exp.paren(parse_condition(str(p["sql"]), check.columns))
    raise BadInput(f"check {check.id}: kind {kind} is not a row check")


ALLOWED_FUNCTIONS = {"Length", "Trim", "Upper", "Lower", "Substring", "Abs", "Coalesce", "Year", "Month",
                     "Cast", "TryCast", "StartsWith", "RegexpFullMatch", "RegexpLike", "DateDiff", "Left", "Right"}
ALLOWED_NODES = {"Column", "Identifier", "Literal", "Boolean", "Null", "EQ", "NEQ", "GT", "GTE", "LT", "LTE",
                 "And", "Or", "Not", "Paren", "In", "Is", "Between", "Like", "ILike", "Add", "Sub", "Mul", "Div",
                 "Neg", "DataType", "Tuple", "Var", "Interval", "Case", "If", "Mod"} | ALLOWED_FUNCTIONS


def parse_condition(sql: str, columns: Sequence[str]) -> exp.Expr:
    """A rule pack's ``condition``: a boolean SQL expression over the table's own columns only.

    Parsed by SQLGlot and checked node by node (no subqueries, no other tables, a short list of functions),
    so a rule pack cannot read anything but the row it describes."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        raise BadInput(f"condition {sql[:60]!r}: not a valid SQL expression") from None
    for node in tree.walk():
        name = type(node).__name__
        if name not in ALLOWED_NODES:
            raise BadInput(f"condition {sql[:60]!r}: {name} is not allowed in a rule condition")
        if isinstance(node, exp.Column):
            if node.table:
                raise BadInput(f"condition {sql[:60]!r}: columns of other tables are not allowed")
            if columns and node.name not in columns:
                raise BadInput(f"condition {sql[:60]!r}: column {node.name} is not declared in 'columns'")
            node.this.set("quoted", True)
    return tree


def condition_columns(sql: str) -> tuple[str, ...]:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        raise BadInput(f"condition {sql[:60]!r}: not a valid SQL expression") from None
    return tuple(dict.fromkeys(c.name for c in tree.find_all(exp.Column)))


# -- one scan per table ---------------------------------------------------------------------------------------


def key_hash(columns: Sequence[str], table: str | None = None) -> exp.Expr:
    return RowHash(expressions=[col(c, table) for c in columns])


def keys_present(columns: Sequence[str]) -> exp.Expr:
    return exp.and_(*[col(c).is_(exp.null()).not_() for c in columns])


def combined_aggregate(view: str, predicates: Sequence[exp.Expr], unique_keys: Sequence[Sequence[str]],
                       completeness: Sequence[str]) -> exp.Select:
    """SELECT count(*), per check count(*) FILTER (WHERE fails), per key set count(non-null keys) and
    count(DISTINCT hash(keys)), per column count(column) — one scan of ``view``."""
    star = exp.Count(this=exp.Star())
    selects: list[exp.Expr] = [star]
    for i, pred in enumerate(predicates):
        selects.append(exp.alias_(exp.Filter(this=star.copy(), expression=exp.Where(this=pred)), f"f{i}"))
    for i, keys in enumerate(unique_keys):
        present = keys_present(keys)
        selects.append(exp.alias_(exp.Filter(this=star.copy(), expression=exp.Where(this=present)), f"u{i}_n"))
        distinct = exp.Count(this=exp.Distinct(expressions=[key_hash(keys)]))
        selects.append(exp.alias_(exp.Filter(this=distinct, expression=exp.Where(this=present.copy())), f"u{i}_d"))
    for i, name in enumerate(completeness):
        selects.append(exp.alias_(exp.Count(this=col(name)), f"c{i}"))
    return exp.select(*selects).from_(view)


def nomenclature_failures(view: str, column: str, code_view: str, numeric: bool) -> exp.Select:
    """Rows whose code is not in a (long) code list, counted per distinct value first: one GROUP BY over one
    column, then an anti-join of the few distinct values against the list — instead of a join per row."""
    value = as_number(col(column)) if numeric else trimmed(col(column))
    per_value = (exp.select(exp.alias_(value, "v"), exp.alias_(exp.Count(this=exp.Star()), "n")).from_(view)
                 .where(col(column).is_(exp.null()).not_()).group_by(exp.column("v")))
    code = exp.column("code_num" if numeric else "code")
    known = exp.select(code).from_(code_view).where(code.copy().is_(exp.null()).not_())
    return (exp.select(exp.func("coalesce", exp.Sum(this=exp.column("n")), literal(0)))
            .from_(exp.alias_(exp.paren(per_value), "g"))
            .where(exp.not_(exp.In(this=exp.column("v"), query=known.subquery()))))


def unique_counts(view: str, unique_keys: Sequence[Sequence[str]]) -> exp.Select:
    """Per key set: rows with every key present, and distinct hashes of the keys among them. Its own pass:
    DuckDB 2.0.1 runs a DISTINCT aggregate beside many FILTERed counts far slower than the two apart."""
    selects: list[exp.Expr] = [exp.Count(this=exp.Star())]
    for i, keys in enumerate(unique_keys):
        present = keys_present(keys)
        h = exp.Case(ifs=[exp.If(this=present.copy(), true=key_hash(keys))])
        selects.append(exp.alias_(exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=present)),
                                  f"u{i}_n"))
        selects.append(exp.alias_(exp.Count(this=exp.Distinct(expressions=[h])), f"u{i}_d"))
    return exp.select(*selects).from_(view)


def failing_rows(view: str, predicate: exp.Expr, limit: int | None) -> exp.Select:
    """The first failing rows in file order. No ORDER BY with the LIMIT: DuckDB 2.0.1's top-N over encrypted
    Parquet fails its AES tag check (measured); lake files are written in row order and read in order."""
    q = exp.select(col(SOURCE_ROW)).from_(view).where(predicate)
    return q.limit(limit) if limit else q.order_by(col(SOURCE_ROW))


def flagged_rows(view: str, predicates: Sequence[exp.Expr]) -> exp.Select:
    """Every row failing at least one predicate, with one boolean per predicate (for evaluation)."""
    flags = [exp.alias_(exp.func("coalesce", exp.paren(p.copy()), exp.false()), f"f{i}")
             for i, p in enumerate(predicates)]
    return (exp.select(col(SOURCE_FILE), col(SOURCE_ROW), *flags).from_(view)
            .where(exp.or_(*[exp.paren(p.copy()) for p in predicates])))


def duplicate_rows(view: str, keys: Sequence[str]) -> exp.Select:
    """Second and later occurrences of a key (by source row), looked for only among colliding hashes."""
    h = key_hash(keys)
    dup = (exp.select(exp.alias_(h.copy(), "h")).from_(view).where(keys_present(keys))
           .group_by(h.copy()).having(exp.Count(this=exp.Star()) > literal(1)))
    rank = exp.Window(this=exp.RowNumber(), partition_by=[col(k) for k in keys],
                      order=exp.Order(expressions=[exp.Ordered(this=col(SOURCE_ROW))]))
    inner = (exp.select(col(SOURCE_FILE), col(SOURCE_ROW), exp.alias_(rank, "rn")).from_(view)
             .where(exp.In(this=h.copy(), query=dup.subquery())))
    return (exp.select(col(SOURCE_FILE), col(SOURCE_ROW)).from_(exp.alias_(exp.paren(inner), "d"))
            .where(exp.column("rn") > literal(1)).order_by(col(SOURCE_ROW)))


# -- cross-table: one join per (child, parent, keys) ----------------------------------------------------------


def parent_summary(parent: str, ref_keys: Sequence[str], aggregates: Mapping[str, exp.Expr]) -> exp.Select:
    """One row per parent key: the key and what the child checks need (death date, birth year...)."""
    sel = [col(k) for k in ref_keys] + [exp.alias_(e, name) for name, e in aggregates.items()]
    return exp.select(*sel, exp.alias_(exp.true(), "__found")).from_(parent).where(
        keys_present(ref_keys)).group_by(*[col(k) for k in ref_keys])


def hospital_deaths(stays: str, exits: str, patient: str, date: str, link: Sequence[str], mode: str,
                    modes: Sequence[str]) -> exp.Select:
    """One row per patient pseudonym who died in hospital: ``k`` the pseudonym, ``d`` the (latest) exit date
    of a stay whose exit mode says death (PMSI ``SOR_MOD`` 9). Stays (``C``) join their exits (``B``)."""
    on = exp.and_(*[col(x, "s").eq(col(x, "e")) for x in link])
    dead = exp.In(this=exp.Trim(this=as_text(col(mode, "e"))), expressions=[literal(m) for m in modes])
    return (exp.select(exp.alias_(col(patient, "s"), "k"), exp.alias_(exp.Max(this=as_date(col(date, "s"))), "d"))
            .from_(exp.alias_(exp.to_table(stays), "s")).join(exp.alias_(exp.to_table(exits), "e"), on=on)
            .where(exp.and_(dead, col(patient, "s").is_(exp.null()).not_())).group_by(col(patient, "s")))


def with_hospital_death(parent_q: exp.Select, name: str, deaths: exp.Select, parent_key: str) -> exp.Select:
    """The parent summary where the death date ``name`` is the sentinel (``{name}_s``: known dead, date
    missing) completed by the hospital death of the same pseudonym."""
    keep = [col(n, "ps") for n in parent_q.named_selects if n != name]
    filled = exp.Coalesce(this=col(name, "ps"), expressions=[exp.Case(ifs=[exp.If(
        this=col(f"{name}_s", "ps").eq(literal(1)), true=col("d", "hd"))])])
    return (exp.select(*keep, exp.alias_(filled, name))
            .from_(exp.alias_(exp.paren(parent_q), "ps"))
            .join(exp.alias_(exp.paren(deaths), "hd"), on=col(parent_key, "ps").eq(col("k", "hd")), join_type="LEFT"))


def join_condition(keys: Sequence[str], ref_keys: Sequence[str], text: bool = False) -> exp.Expr:
    """Child ``c`` = parent ``p`` on the keys (as text when the two sides' types differ)."""
    pairs = [(col(a, "c"), col(b, "p")) for a, b in zip(keys, ref_keys, strict=True)]
    return exp.and_(*[(as_text(x).eq(as_text(y)) if text else x.eq(y)) for x, y in pairs])


def key_set(parent: str, ref_keys: Sequence[str], text: bool = False) -> exp.Select:
    """The parent's distinct composite keys as one 64-bit hash ``h``: a foreign key is then one anti-join on
    one BIGINT instead of a join on every key column. A child key absent from the parent is taken as present
    only if its hash equals another key's hash: probability about (parent keys) / 2^64 per row (5e-13 for
    10M keys), accepted for a quality count."""
    cols = [as_text(col(k)) if text else col(k) for k in ref_keys]
    h = RowHash(expressions=cols)
    return exp.select(exp.alias_(h, "h")).from_(parent).where(keys_present(ref_keys)).distinct()


def child_hash(keys: Sequence[str], text: bool = False) -> exp.Expr:
    return RowHash(expressions=[as_text(col(k, "c")) if text else col(k, "c") for k in keys])


def fk_aggregate(child: str, parent_keys: exp.Select, keys: Sequence[str], text: bool = False) -> exp.Select:
    """count(*), and rows whose keys are all present but absent from the parent's key set."""
    present = exp.and_(*[col(k, "c").is_(exp.null()).not_() for k in keys])
    missing = exp.and_(present, exp.column("h", "p").is_(exp.null()))
    star = exp.Count(this=exp.Star())
    return (exp.select(star, exp.alias_(exp.Filter(this=star.copy(), expression=exp.Where(this=missing)), "f0"))
            .from_(exp.alias_(exp.to_table(child), "c"))
            .join(exp.alias_(exp.paren(parent_keys), "p"), on=child_hash(keys, text).eq(exp.column("h", "p")),
                  join_type="LEFT"))


def fk_rows(child: str, parent_keys: exp.Select, keys: Sequence[str], text: bool = False) -> exp.Select:
    present = exp.and_(*[col(k, "c").is_(exp.null()).not_() for k in keys])
    return (exp.select(col(SOURCE_FILE, "c"), col(SOURCE_ROW, "c"), exp.alias_(exp.true(), "f0"))
            .from_(exp.alias_(exp.to_table(child), "c"))
            .join(exp.alias_(exp.paren(parent_keys), "p"), on=child_hash(keys, text).eq(exp.column("h", "p")),
                  join_type="LEFT")
            .where(exp.and_(present, exp.column("h", "p").is_(exp.null()))))


def cross_aggregate(child: str, parent_q: exp.Select, keys: Sequence[str], ref_keys: Sequence[str],
                    predicates: Sequence[exp.Expr], text: bool = False) -> exp.Select:
    star = exp.Count(this=exp.Star())
    sel: list[exp.Expr] = [star]
    for i, pred in enumerate(predicates):
        sel.append(exp.alias_(exp.Filter(this=star.copy(), expression=exp.Where(this=pred)), f"f{i}"))
    return (exp.select(*sel).from_(exp.alias_(exp.to_table(child), "c"))
            .join(exp.alias_(exp.paren(parent_q), "p"), on=join_condition(keys, ref_keys, text), join_type="LEFT"))


def cross_rows(child: str, parent_q: exp.Select, keys: Sequence[str], ref_keys: Sequence[str],
               predicates: Sequence[exp.Expr], limit: int | None = None, text: bool = False) -> exp.Select:
    flags = [exp.alias_(exp.func("coalesce", exp.paren(p.copy()), exp.false()), f"f{i}")
             for i, p in enumerate(predicates)]
    q = (exp.select(col(SOURCE_FILE, "c"), col(SOURCE_ROW, "c"), *flags).from_(exp.alias_(exp.to_table(child), "c"))
         .join(exp.alias_(exp.paren(parent_q), "p"), on=join_condition(keys, ref_keys, text), join_type="LEFT")
         .where(exp.or_(*[exp.paren(p.copy()) for p in predicates])))
    return q.limit(limit) if limit else q


# -- over time ------------------------------------------------------------------------------------------------


def month_counts(view: str, column: str, value_kind: str = "date") -> exp.Select:
    """Rows per month (the month's first day; the caller formats it): a GROUP BY on DATE_TRUNC, as cheap as
    the bare aggregate (formatting every row's date as text first cost ~2x)."""
    d = as_date(col(column), value_kind)
    month = exp.alias_(exp.DateTrunc(this=d, unit=exp.var("MONTH")), "month")
    return (exp.select(month, exp.alias_(exp.Count(this=exp.Star()), "n")).from_(view)
            .where(d.copy().is_(exp.null()).not_()).group_by(exp.column("month")).order_by(exp.column("month")))


def numeric_profile(view: str, columns: Sequence[str]) -> exp.Select:
    sel: list[exp.Expr] = [exp.alias_(exp.Count(this=exp.Star()), "n")]
    for i, c in enumerate(columns):
        x = as_number(col(c))
        sel += [exp.alias_(exp.Avg(this=x), f"m{i}"),
                exp.alias_(exp.ApproxQuantile(this=x.copy(), quantile=literal(0.5)), f"q{i}"),
                exp.alias_(exp.Avg(this=exp.Length(this=exp.Trim(this=as_text(col(c))))), f"l{i}")]
    return exp.select(*sel).from_(view)


def category_shares(view: str, column: str, top: int = 50) -> exp.Select:
    value = exp.alias_(exp.Trim(this=as_text(col(column))), "v")
    return (exp.select(value, exp.alias_(exp.Count(this=exp.Star()), "n")).from_(view)
            .group_by(exp.column("v")).order_by(exp.Ordered(this=exp.column("n"), desc=True)).limit(top))
