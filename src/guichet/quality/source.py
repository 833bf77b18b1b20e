"""Tables the runner can read that are not lake versions: a CSV file typed by its Table Schema.

Used to check files before (or without) a deposit, e.g. the synthetic-snds samples: cells that do not parse
become NULL here (the deposit would quarantine them), every row keeps its 1-based data-row number.
"""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp

from guichet.engine import Engine, SourceBinding, csv_source
from guichet.quality import sql as q
from guichet.quality.runner import TableSource, column_types
from guichet.schema import FieldSpec, TableSchema

_CAST = {"integer": "BIGINT", "number": "DOUBLE", "year": "INT", "date": "DATE", "datetime": "TIMESTAMP"}


def typed(f: FieldSpec, raw: exp.Expr) -> exp.Expr:
    cell = exp.func("nullif", exp.Trim(this=raw), exp.Literal.string(""))
    fmt = f.strptime_format
    if f.type in ("date", "datetime") and fmt and not f.is_partial_date:
        parsed = exp.Anonymous(this="try_strptime", expressions=[cell, exp.Literal.string(fmt)])
        return exp.cast(parsed, "DATE") if f.type == "date" else parsed
    if f.type in _CAST and not f.is_partial_date:
        return exp.TryCast(this=cell, to=exp.DataType.build(_CAST[f.type]))
    if f.type == "boolean":
        return exp.Case(ifs=[exp.If(this=exp.In(this=cell.copy(), expressions=[exp.Literal.string(v) for v in f.true_values]),
                                    true=exp.true()),
                             exp.If(this=exp.In(this=cell.copy(), expressions=[exp.Literal.string(v) for v in f.false_values]),
                                    true=exp.false())])
    return cell


def csv_table(engine: Engine, path: Path, schema: TableSchema, *, name: str, dataset: str | None = None,
              delimiter: str | None = None, encoding: str = "utf-8") -> TableSource:
    with path.open(encoding=encoding) as fh:
        first = fh.readline().lstrip("\ufeff").rstrip("\r\n")
    delim = delimiter or schema.delimiter or max((";", ",", "\t", "|"), key=first.count)
    header = [h.strip().strip('"') for h in first.split(delim)]
    raw = f"{name}_raw"
    engine.bind(raw, csv_source(path, columns=header, delimiter=delim, encoding=encoding, store_rejects=False),
                SourceBinding(raw, "csv", str(path), {"delimiter": delim}))
    fields = {f.name: f for f in schema.fields}
    cols = [exp.alias_(typed(fields[h], q.col(h)) if h in fields else q.col(h), h, quoted=True) for h in header]
    rn = exp.Window(this=exp.RowNumber(), over="OVER")
    sel = exp.select(*cols, exp.alias_(exp.Literal.string(path.stem), q.SOURCE_FILE, quoted=True),
                     exp.alias_(rn, q.SOURCE_ROW, quoted=True)).from_(raw)
    create = exp.Create(this=exp.to_table(name), kind="TABLE", replace=True,
                        properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=sel)
    engine.execute(create, purpose=f"typed copy of {path.name}", record=False)
    return TableSource(dataset or schema.name, 0, name, schema, column_types(engine, name))
