"""What to check on each row, as SQL built with SQLGlot (pure: no I/O, no engine).

Every rule of the Table Schema becomes a predicate over the row's text cells; a row's violations are the
``rule:FIELD`` tokens of the predicates that hold, joined with ``|``. Type errors are reported once: the
other constraints of a field only apply to a value that has its type. The list of checks says, for each
field and rule, whether it was applied or why not (e.g. *not applicable: nomenclature unavailable*).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from guichet.engine import RowHash, literal
from guichet.schema import NOT_AVAILABLE, FieldSpec, Nomenclature, NomenclatureRef, TableSchema, resolve

SEP = "|"
INVALID_NIR_MARKER = "!invalid_nir_key"
PSEUDONYM_PATTERN = "^[A-Z2-7]{17}$"
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
ISO_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$"
INTEGER = r"^[+-]?[0-9]+$"
NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
YEAR = r"^[0-9]{4}$"
YEARMONTH = r"^[0-9]{4}-?(0[1-9]|1[0-2])$"
NUMERIC_TYPES = ("integer", "number", "year")
ROW_COLUMN = "_source_row"
ORDINAL = "__row"  # 1-based position among the rows the CSV reader could split, numbered at the scan


def numbered(source: str) -> exp.Select:
    """The source's rows, each with its position in the file (``ORDINAL``).

    A streaming ``row_number()`` over the scan itself, not a counter over the result: DuckDB's scan runs on
    several threads and the joins above it (the nomenclature semi-joins) do not keep their order, so that
    past a few CSV buffers the n-th row returned is not the file's n-th row. The window keeps the scan's
    order by running its pipeline on one thread (measured in docs/deposit.md)."""
    return exp.select(exp.Star(), exp.alias_(exp.Window(this=exp.RowNumber()), ORDINAL, quoted=True)).from_(source)


@dataclass(frozen=True)
class IdentifierRole:
    column: str
    kind: str  # psa | ano | quasi
    state: str | None  # clear | level1 | hub ; None for quasi-identifiers


@dataclass(frozen=True)
class Check:
    field: str
    rule: str
    status: str  # "applied" or "not applicable: ..."


@dataclass
class ValidationPlan:
    select: exp.Select
    checks: list[Check]
    nomenclatures: dict[str, Nomenclature]  # view name -> nomenclature to bind
    columns: tuple[str, ...]  # raw columns, in the file's order
    unique_keys: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (rule, fields)
    # ``_source_row`` and the ``rule:FIELD|...`` tokens of each row of ``flagged_view`` (the raw columns and
    # ``_source_row`` of rows ``select`` flagged)
    violations: exp.Select | None = None
    flagged_view: str = ""


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True), table=table)


def matches(value: exp.Expr, regex: str) -> exp.Expr:
    return exp.RegexpLike(this=value, expression=literal(regex))


def anchored(pattern: str) -> str:
    """A Table Schema ``pattern`` matches the whole value."""
    return f"^(?:{pattern})$"


def typed_expr(f: FieldSpec, c: exp.Expr) -> exp.Expr:
    """The cell as its Table Schema type (NULL when it does not have that type).

    Casts, not regular expressions: a regex per cell costs ~1 µs, which on 100+ columns is most of a
    deposit's time; DuckDB's casts are strict (no '1.5' as an integer, no '2020-02-30' as a date)."""
    fmt = f.strptime_format
    cast = lambda to: exp.TryCast(this=c, to=exp.DataType.build(to))  # noqa: E731
    if f.type == "integer":
        return cast("BIGINT")
    if f.type == "number":
        return cast("DOUBLE")
    if f.type == "year":
        return exp.case().when(exp.Length(this=c).eq(literal(4)), cast("INT"))
    if f.type == "boolean":
        return (exp.case().when(c.isin(*[literal(v) for v in f.true_values]), exp.true())
                .when(c.isin(*[literal(v) for v in f.false_values]), exp.false()))
    if f.type == "yearmonth":
        digits = exp.Replace(this=c, expression=literal("-"), replacement=literal(""))
        return exp.case().when(exp.Length(this=digits).eq(literal(6)),
                               exp.StrToDate(this=digits, format=literal("%Y%m"), safe=True))
    if f.type == "date":
        if fmt is None:
            return exp.case().when(exp.Length(this=c).eq(literal(10)), cast("DATE"))
        if f.is_partial_date:  # e.g. '%m': validated, kept as text (it is not a date)
            return exp.case().when(exp.StrToTime(this=c, format=literal(fmt), safe=True).is_(exp.null()).not_(), c)
        return exp.StrToDate(this=c, format=literal(fmt), safe=True)
    if f.type == "datetime":
        if fmt is None:
            return exp.case().when(exp.Length(this=c) >= literal(16), cast("TIMESTAMP"))
        return exp.StrToTime(this=c, format=literal(fmt), safe=True)
    if f.type == "time":
        return exp.case().when(cast("TIME").is_(exp.null()).not_(), c)
    return c


def _bound(f: FieldSpec, value: Any) -> exp.Expr | None:
    if f.type in NUMERIC_TYPES:
        return literal(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else (
            exp.TryCast(this=literal(str(value)), to=exp.DataType.build("DOUBLE")))
    if f.type in ("date", "yearmonth") and not f.is_partial_date:
        return exp.TryCast(this=literal(str(value)), to=exp.DataType.build("DATE"))
    if f.type == "datetime":
        return exp.TryCast(this=literal(str(value)), to=exp.DataType.build("TIMESTAMP"))
    return None


def _length_rule(f: FieldSpec, c: exp.Expr) -> exp.Expr | str:
    """schema-snds ``length``: characters of a string, digits of an integer, integer digits ``p`` of a
    number written ``"p,s"``."""
    assert f.length is not None
    unsigned = exp.Trim(this=c, expression=literal("+-"), position="LEADING")
    if f.type in ("string", "any"):
        return exp.Length(this=c) > literal(f.length.size)
    if f.type == "integer":
        return exp.Length(this=unsigned) > literal(f.length.size)
    if f.type == "number":
        whole = exp.SplitPart(this=unsigned, delimiter=literal("."), part_index=literal(1))
        # "p,s" as schema-snds' own tooling reads it (synthetic-snds: "4,2" with maximum 9999): p integer
        # digits, s decimals; extra decimals are rounding, not an error.
        return exp.Length(this=whole) > literal(f.length.size)
    return f"not applicable: length of a {f.type} is that of its stored form"


def _nomenclature_ref(schema: TableSchema, f: FieldSpec) -> NomenclatureRef | None:
    if f.nomenclature is not None:
        return f.nomenclature
    for fk in schema.foreign_keys:  # synthetic-snds writes nomenclatures as foreign keys
        if fk.fields == (f.name,) and resolve_ref(fk.resource, fk.ref_fields[0]) is not None:
            return NomenclatureRef(fk.resource, fk.ref_fields[0])
    return None


def build_plan(schema: TableSchema, source: str, header: tuple[str, ...],
               identifiers: dict[str, IdentifierRole]) -> ValidationPlan:
    """The validation query, in three layers so that every row pays only for cheap work:

    1. each cell once as its type (``__t<i>``) and each shipped nomenclature's membership once
       (``__in<i>``: a semi-join against the nomenclature's codes, built once — not an IN list per row);
    2. ``__bad``: ONE boolean, true when some rule's predicate holds (one CASE branch per field);
    3. the typed cells for the lake, and only where ``__bad`` holds the raw cells for the quarantine.

    Every row carries its position in the file (``ORDINAL``), numbered at the scan (``numbered``).

    The detailed ``rule:FIELD`` tokens of the flagged rows come from a second statement (``violations``),
    run over those rows alone.
    """
    checks: list[Check] = []
    noms: dict[str, Nomenclature] = {}
    preds: list[tuple[str, str, exp.Expr]] = []  # (rule, field, predicate)
    typed_cols: list[exp.Expr] = []
    member_cols: list[exp.Expr] = []
    pk = set(schema.primary_key)

    field_bad: list[exp.Expr] = []  # per field: does any of its rules fail? (the OR of its predicates)

    def add(f: FieldSpec, rule: str, predicate: exp.Expr) -> None:
        preds.append((rule, f.name, predicate))
        checks.append(Check(f.name, rule, "applied"))

    for i, f in enumerate(schema.fields):
        c = col(f.name)
        fails: list[exp.Expr] = []  # this field's failures once present (and typed, past the type check)
        unguarded: list[exp.Expr] = []  # failures whatever the cell
        typed_cols.append(exp.alias_(typed_expr(f, c), f"__t{i}", quoted=True))
        typed = col(f"__t{i}")
        missing: exp.Expr = c.is_(exp.null())
        extra_missing = [v for v in schema.missing_values if v != ""]
        if extra_missing:
            missing = exp.or_(missing, c.isin(*[literal(v) for v in extra_missing]))
        present = exp.not_(exp.paren(missing))
        role = identifiers.get(f.name)
        guard: exp.Expr = present
        if role is not None and role.state == "level1":
            marker = c.eq(literal(INVALID_NIR_MARKER))
            add(f, "invalid_nir_key", marker)
            add(f, "pseudonym", exp.and_(present, exp.not_(marker), exp.not_(matches(c, PSEUDONYM_PATTERN))))
            unguarded.append(marker)
            fails.append(exp.not_(matches(c, PSEUDONYM_PATTERN)))
            guard = exp.and_(present, exp.not_(marker), matches(c, PSEUDONYM_PATTERN))
        if f.required or f.name in pk:
            add(f, "required", missing)
            unguarded.append(missing)
        if f.type not in ("string", "any"):
            add(f, "type", exp.and_(guard, typed.is_(exp.null())))
            fails.append(typed.is_(exp.null()))
            guard = exp.and_(guard, typed.is_(exp.null()).not_())
        if f.pattern:
            add(f, "pattern", exp.and_(guard, exp.not_(matches(c, anchored(f.pattern)))))
            fails.append(exp.not_(matches(c, anchored(f.pattern))))
        if f.enum is not None:
            values = [literal(v) if f.type in NUMERIC_TYPES else literal(str(v)) for v in f.enum]
            enum_target: exp.Expr = typed if f.type in NUMERIC_TYPES else c
            add(f, "enum", exp.and_(guard, exp.not_(enum_target.isin(*values))))
            fails.append(exp.not_(enum_target.isin(*values)))
        for rule, value, op in (("minimum", f.minimum, exp.LT), ("maximum", f.maximum, exp.GT)):
            if value is None:
                continue
            bound = _bound(f, value)
            if bound is None:
                checks.append(Check(f.name, rule, f"not applicable: {rule} of a {f.type}"))
            else:
                add(f, rule, exp.and_(guard, op(this=typed, expression=bound)))
                fails.append(op(this=typed, expression=bound))
        if f.min_length is not None:
            add(f, "min_length", exp.and_(guard, exp.Length(this=c) < literal(f.min_length)))
            fails.append(exp.Length(this=c) < literal(f.min_length))
        if f.max_length is not None:
            add(f, "max_length", exp.and_(guard, exp.Length(this=c) > literal(f.max_length)))
            fails.append(exp.Length(this=c) > literal(f.max_length))
        if f.length is not None:
            rule_expr = _length_rule(f, c)
            if isinstance(rule_expr, str):
                checks.append(Check(f.name, "length", rule_expr))
            else:
                add(f, "length", exp.and_(guard, rule_expr))
                fails.append(_cheap_first(f, c, rule_expr))
        ref = _nomenclature_ref(schema, f)
        if ref is not None:
            nom = resolve(ref)
            if nom is None:
                checks.append(Check(f.name, "nomenclature", f"{NOT_AVAILABLE} ({ref.name})"))
            else:
                view = f"nom_{nom.name}_{nom.code_column}".lower()
                noms[view] = nom
                numeric = f.type in NUMERIC_TYPES
                code = col("code_num" if numeric else "code")
                sub = exp.select(code).from_(view).where(code.is_(exp.null()).not_())
                target: exp.Expr = typed_expr(f, c) if numeric else c
                member_cols.append(exp.alias_(target.isin(query=sub), f"__in{i}", quoted=True))
                add(f, "nomenclature", exp.and_(guard, exp.not_(col(f"__in{i}"))))
                fails.append(exp.not_(col(f"__in{i}")))
        field_bad.extend(_field_failure(unguarded, present, fails))
    raw_cols = [col(h) for h in header]
    layer1 = exp.select(*raw_cols, col(ORDINAL), *typed_cols, *member_cols).from_(
        exp.alias_(exp.paren(numbered(source), copy=False), "s", copy=False), copy=False)
    # __bad: a CASE of one WHEN per field (the OR of that field's predicates, guards factored out). DuckDB
    # evaluates a CASE's conditions with selection vectors: an AND/OR inside stops where its outcome is known
    # (an OR in a projection computes every operand on every row), and a row leaves the chain at its first
    # failing field. A NULL condition is not true: the same answer as coalesce(OR of predicates, false).
    bad: exp.Expr = exp.false()
    if field_bad:
        bad = exp.Case(ifs=[exp.If(this=p, true=exp.true()) for p in field_bad], default=exp.false())
    layer2 = exp.select(exp.Star(), exp.alias_(bad, "__bad", quoted=True, copy=False)).from_(
        exp.alias_(exp.paren(layer1, copy=False), "l1", copy=False), copy=False)
    # Each token is '' or 'rule:FIELD|' (never NULL), so every engine's concatenation means the same; ONE
    # variadic CONCAT (DuckDB plans and runs a chain of 300 binary || several times slower).
    tokens = [exp.case().when(p, literal(f"{rule}:{name}{SEP}")).else_(literal("")) for rule, name, p in preds]
    violations = exp.Concat(expressions=tokens, safe=True, coalesce=True) if tokens else literal("")
    # The tokens are computed apart, over the flagged rows only (``violations``): in the main query, even
    # under CASE WHEN __bad, their ~300 CASEs cost every 2,048-row vector their evaluation set-up, a quarter
    # of the whole query's time on a 123-column table.
    flagged_view = f"{source}_flagged"
    violations_select = exp.select(col(ROW_COLUMN, "v"), exp.alias_(violations, "__violations", quoted=True, copy=False)).from_(
        exp.alias_(exp.paren(exp.select(*raw_cols, *typed_cols, *member_cols, col(ROW_COLUMN)).from_(flagged_view),
                             copy=False), "v", copy=False), copy=False)
    flagged = col("__bad", "v")
    outs: list[exp.Expr] = [exp.alias_(col(f"__t{i}", "v"), f.name, quoted=True)
                                  for i, f in enumerate(schema.fields)]
    outs.append(exp.alias_(flagged, "__bad", quoted=True))
    outs.append(col(ORDINAL, "v"))
    raw_list = exp.Array(expressions=[col(h, "v") for h in header])
    outs.append(exp.alias_(exp.case().when(flagged, raw_list), "__raw", quoted=True))
    unique: list[tuple[str, tuple[str, ...]]] = []
    if schema.primary_key:
        unique.append(("primary_key", tuple(schema.primary_key)))
    for f in schema.fields:
        if f.unique and (f.name,) != tuple(schema.primary_key):
            unique.append(("unique", (f.name,)))
    index = {f.name: i for i, f in enumerate(schema.fields)}
    for j, (_, keys) in enumerate(unique):  # a hash of each accepted row's typed key (deposit/duplicates.py)
        typed_keys = [col(f"__t{index[k]}", "v") for k in keys]
        complete = exp.and_(exp.not_(flagged), *[k.is_(exp.null()).not_() for k in typed_keys])
        outs.append(exp.alias_(exp.case().when(complete, RowHash(expressions=typed_keys)), f"__k{j}", quoted=True))
    select = exp.select(*outs).from_(exp.alias_(exp.paren(layer2, copy=False), "v", copy=False), copy=False)
    return ValidationPlan(select, checks, noms, header, unique, violations_select, flagged_view)


def _cheap_first(f: FieldSpec, c: exp.Expr, rule: exp.Expr) -> exp.Expr:
    """A length rule preceded by cheap bounds of it (the digits of ``-0012.5`` are fewer than its characters,
    and its whole part ends before its '.'): the trim and split then run only on the rare long cells."""
    if f.type in ("string", "any") or f.length is None:
        return rule
    size = f.length.size
    first: exp.Expr = exp.Length(this=c) > literal(size)
    if f.type == "number":  # the whole part ends before the first '.', if there is one
        dot = exp.StrPosition(this=c, substr=literal("."))
        first = exp.and_(first, exp.paren(exp.or_(dot.eq(literal(0)), dot > literal(size + 1))))
    return exp.and_(first, rule)


def _field_failure(unguarded: list[exp.Expr], present: exp.Expr, fails: list[exp.Expr]) -> list[exp.Expr]:
    """One predicate for "some rule of this field fails", the same truth as the OR of its rules'
    predicates: every rule but ``required`` (and a level-1 identifier's marker) is guarded by ``present``,
    and every rule past the type check by the type check passing — which the OR makes redundant once the
    type failure is one of its operands. Identical operands (``maxLength`` and ``length`` of a string often
    coincide) are kept once."""
    unique: list[exp.Expr] = []
    for fail in fails:
        if fail not in unique:
            unique.append(fail)
    out = list(unguarded)
    if unique:
        out.append(exp.and_(present, exp.or_(*unique) if len(unique) > 1 else unique[0]))
    return out


def resolve_ref(resource: str, column: str) -> Nomenclature | None:
    return resolve(NomenclatureRef(resource, column))
