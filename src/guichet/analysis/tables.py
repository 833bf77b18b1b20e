"""Tables with their evidence: crosstab, pivot, describe, histogram.

Each helper reads a pyarrow table (or the result of a SQL query on a DuckDB connection), computes the cells
with DuckDB, writes a CSV and its sidecar (``metadata``): for every cell the persons behind it, its records,
the per-person contributions that dominance and p % rules need, and the SQL that made it. Counts are counts
of distinct persons unless ``count="records"``; a person's contribution to a magnitude cell is the sum of
their records in it. Margins (``Total``) are computed from the data, not from the cells.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

import duckdb
import pyarrow as pa

from guichet.analysis.metadata import Cell, Metadata, persons_path, write
from guichet.errors import BadInput

TOTAL = "Total"
MISSING = "NA"
PERSON = "PERSON_ID"
AGGS = ("count", "sum", "mean", "median", "std", "min", "max")
Data: TypeAlias = pa.Table | str


def _connect(data: Data, con: duckdb.DuckDBPyConnection | None) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A connection with the data as view ``_src`` and the description of the source."""
    con = con or duckdb.connect()
    if isinstance(data, str):
        con.execute(f"CREATE OR REPLACE TEMP VIEW _src AS {data}")
        return con, data
    if not isinstance(data, pa.Table):
        raise BadInput("data: a pyarrow table or a SQL query")
    con.register("_src_arrow", data)
    con.execute("CREATE OR REPLACE TEMP VIEW _src AS SELECT * FROM _src_arrow")
    return con, f"a table of {data.num_rows} rows and columns {', '.join(data.column_names)}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_columns(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    have = {r[0] for r in con.execute("DESCRIBE _src").fetchall()}
    for n in names:
        if n not in have:
            raise BadInput(f"column {n!r}: not in the data")


def _num(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, float):
        if math.isnan(x):
            return None
        return int(x) if x.is_integer() and abs(x) < 1e15 else x
    return x


def _fmt(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.10g}"
    return str(x)


def _round(value: Any, base: int) -> Any:
    if value is None or not base:
        return value
    return int(base * round(value / base))


class _Grid:
    """The cells of a grouping over ``dims`` (with margins for one or two dims): evidence and value."""

    def __init__(self, con: duckdb.DuckDBPyConnection, dims: list[str], value: str | None, person: str, agg: str,
                 count: str, margins: bool, where: str | None) -> None:
        if agg not in AGGS:
            raise BadInput(f"agg {agg!r}: one of {', '.join(AGGS)}")
        if agg != "count" and value is None:
            raise BadInput(f"agg {agg!r} needs a value column")
        _check_columns(con, [*dims, person, *([value] if value else [])])
        self.dims = dims
        self.margins = margins and len(dims) <= 2
        d = [f"d{i}" for i in range(len(dims))]
        sets = [f"({', '.join(d)})"]
        if self.margins:
            if len(dims) == 1:
                sets.append("()")
            else:
                sets += ["(d0)", "(d1)", "()"]
        v = f"CAST({_q(value)} AS DOUBLE)" if value else "1.0"
        base = ("SELECT " + ", ".join(f"coalesce(CAST({_q(c)} AS VARCHAR), '{MISSING}') AS d{i}"
                                      for i, c in enumerate(dims))
                + f", CAST({_q(person)} AS VARCHAR) AS p, {v} AS v FROM _src" + (f" WHERE {where}" if where else ""))
        if value:
            base = f"SELECT * FROM ({base}) WHERE v IS NOT NULL"
        g = f"GROUPING({', '.join(d)})"
        per_sets = ", ".join(f"({s[1:-1]}{', ' if s != '()' else ''}p)" for s in sets)
        stat = {"count": "count(DISTINCT p)" if count == "persons" else "count(*)", "sum": "sum(v)",
                "mean": "avg(v)", "median": "median(v)", "std": "stddev_samp(v)", "min": "min(v)",
                "max": "max(v)"}[agg]
        per = (f"SELECT {', '.join(d)}, {g} AS g, p, sum(v) AS pv, count(*) AS r, min(v) AS vmin, "
               f"max(v) AS vmax, count(*) FILTER (WHERE v < 0) AS neg FROM ({base}) base "
               f"GROUP BY GROUPING SETS ({per_sets})")
        cells = (f"WITH cell AS (SELECT {', '.join(d)}, g, count(*) AS persons, sum(r) AS records, sum(pv) AS total, "
                 f"max(pv, 2) AS top, sum(neg) AS neg, min(vmin) = max(vmax) AS same FROM _air_per GROUP BY ALL),\n"
                 f"val AS (SELECT {', '.join(d)}, {g} AS g, {stat} AS stat FROM ({base}) base GROUP BY GROUPING SETS "
                 f"({', '.join(sets)}))\n"
                 f"SELECT {', '.join('cell.' + x for x in d)}, cell.g, persons, records, total, top, neg, same, "
                 f"stat FROM cell JOIN val ON cell.g = val.g AND "
                 + " AND ".join(f"cell.{x} IS NOT DISTINCT FROM val.{x}" for x in d))
        # Each person's contribution per cell is kept in a temporary table: the cells' evidence is computed
        # from it, and the persons file is written from it by DuckDB (never a Python list per cell).
        self.sql = f"CREATE TEMP TABLE _air_per AS {per};\n{cells}"
        self.con = con
        self.n = len(dims)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _air_per AS {per}")
        self.cells: dict[tuple[str, ...], dict[str, Any]] = {}
        self.where: dict[tuple[str, ...], tuple[int, tuple[Any, ...]]] = {}
        n = self.n
        for row in con.execute(cells).fetchall():
            labels, gbits = row[:n], row[n]
            key = tuple(TOTAL if gbits >> (n - 1 - i) & 1 else str(labels[i]) for i in range(n))
            persons, records, total, top, neg, same, stat = row[n + 1:]
            self.cells[key] = {"persons": persons, "records": int(records), "total": total,
                               "top": [float(t) for t in (top or [])], "neg": int(neg or 0), "same": bool(same),
                               "value": _num(stat)}
            self.where[key] = (gbits, tuple(labels))
        self.labels = [sorted({k[i] for k in self.cells if k[i] != TOTAL}) for i in range(n)]

    def write_persons(self, order: list[tuple[str, ...]], path: Path) -> None:
        """The persons behind each cell, ``order`` giving each cell's index, as Parquet (cell, person)."""
        known = [(i, k) for i, k in enumerate(order) if k in self.where]
        columns: dict[str, Any] = {"idx": pa.array([i for i, _ in known], pa.int32()),
                                   "g": pa.array([self.where[k][0] for _, k in known], pa.int64())}
        for j in range(self.n):
            columns[f"d{j}"] = pa.array([self.where[k][1][j] for _, k in known], pa.string())
        self.con.register("_air_idx_arrow", pa.table(columns))
        join = " AND ".join(["p.g = i.g", *(f"p.d{j} IS NOT DISTINCT FROM i.d{j}" for j in range(self.n))])
        target = str(path).replace("'", "''")
        self.con.execute(f"COPY (SELECT i.idx AS cell, p.p AS person FROM _air_per p JOIN _air_idx_arrow i ON {join} "
                         f"ORDER BY cell, person) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        self.con.unregister("_air_idx_arrow")
        self.con.execute("DROP TABLE IF EXISTS _air_per")

    def get(self, key: tuple[str, ...], agg: str) -> dict[str, Any]:
        empty = {"persons": 0, "records": 0, "total": 0.0, "top": [], "neg": 0, "same": False,
                 "value": 0 if agg == "count" else None}
        return self.cells.get(key, empty)


def _cell(row: int, column: str, stat: str, c: dict[str, Any], value: Any, key: tuple[str, ...],
          magnitude: bool) -> Cell:
    return Cell(row=row, column=column, stat=stat, value=value, persons=int(c["persons"]), records=c["records"],
                total=float(c["total"]) if magnitude and c["total"] is not None else None,
                top=c["top"] if magnitude else [], negatives=c["neg"] if magnitude else 0,
                all_same=c["same"] if magnitude and c["persons"] > 0 else False,
                margin=TOTAL in key, key=list(key))


def crosstab(data: Data, rows: str | Sequence[str], columns: str | None = None, *, out: str | Path,
             values: str | None = None, agg: str = "count", person: str = PERSON, margins: bool = True,
             count: str = "persons", round_to: int = 0, where: str | None = None,
             con: duckdb.DuckDBPyConnection | None = None) -> Path:
    """A frequency (``agg="count"``) or magnitude table of ``rows`` by ``columns``, written to ``out`` (CSV)
    with its sidecar. One row dimension and one column dimension give a wide table with a ``Total`` row and
    column; more row dimensions give a long table (one row per combination, no margins). ``round_to``
    rounds counts to a multiple (the rule set may require it)."""
    con, source = _connect(data, con)
    row_dims = [rows] if isinstance(rows, str) else list(rows)
    dims = row_dims + ([columns] if columns else [])
    if not dims:
        raise BadInput("crosstab: at least one dimension")
    if count not in ("persons", "records"):
        raise BadInput("count: persons or records")
    grid = _Grid(con, dims, values, person, agg, count, margins, where)
    stat = agg if agg == "count" else f"{agg}_{values}"
    magnitude = agg != "count"
    out = Path(out)
    cells: list[Cell] = []
    order: list[tuple[str, ...]] = []
    header: list[str]
    body: list[list[Any]] = []
    wide = columns is not None and len(row_dims) == 1
    row_labels: list[str] = []
    col_labels: list[str] = []
    if wide:
        row_labels = grid.labels[0] + ([TOTAL] if grid.margins else [])
        col_labels = grid.labels[1] + ([TOTAL] if grid.margins else [])
        header = [row_dims[0], *col_labels]
        for i, r in enumerate(row_labels, start=1):
            line: list[Any] = [r]
            for c in col_labels:
                ev = grid.get((r, c), agg)
                value = _round(ev["value"], round_to) if agg == "count" else ev["value"]
                line.append(value)
                cells.append(_cell(i, c, agg, ev, value, (r, c), magnitude))
                order.append((r, c))
            body.append(line)
    else:
        header = [*dims, stat]
        if len(dims) == 1:
            keys: list[tuple[str, ...]] = [(x,) for x in grid.labels[0]]
            keys += [(TOTAL,)] if grid.margins else []
            row_labels = [k[0] for k in keys]
        else:
            keys = sorted(k for k in grid.cells if TOTAL not in k)
        col_labels = [stat]
        for i, k in enumerate(keys, start=1):
            ev = grid.get(k, agg)
            value = _round(ev["value"], round_to) if agg == "count" else ev["value"]
            body.append([*k, value])
            cells.append(_cell(i, stat, agg, ev, value, k, magnitude))
            order.append(k)
    _write_csv(out, header, body)
    meta = Metadata(helper="crosstab", parameters={"rows": row_dims, "columns": columns, "values": values,
                                                   "agg": agg, "person": person, "margins": grid.margins,
                                                   "count": count, "round_to": round_to, "where": where},
                    kind="magnitude" if magnitude else "frequency", output=out.name, sha256="", code=grid.sql,
                    dims=dims, cells=cells, layout="wide" if wide else "long", row_labels=row_labels,
                    column_labels=col_labels, margins=grid.margins, source=source)
    grid.write_persons(order, persons_path(out))
    meta.extra["persons_file"] = persons_path(out).name
    write(out, meta, None)
    return out


def pivot(data: Data, index: str | Sequence[str], columns: str | None = None, *, values: str, agg: str = "mean",
          out: str | Path, **kwargs: Any) -> Path:
    """A table of ``agg`` of ``values`` by ``index`` (and ``columns``): ``crosstab`` with a magnitude."""
    return crosstab(data, index, columns, values=values, agg=agg, out=out, **kwargs)


def _write_csv(out: Path, header: list[str], body: list[list[Any]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for line in body:
            w.writerow([_fmt(x) for x in line])


DESCRIBE_STATS = ("n", "mean", "std", "p25", "median", "p75")


def describe(data: Data, variables: str | Sequence[str], *, out: str | Path, by: str | None = None,
             person: str = PERSON, extremes: bool = False, con: duckdb.DuckDBPyConnection | None = None) -> Path:
    """Summary statistics of numeric ``variables`` (by group): persons, mean, standard deviation, quartiles.
    Exact minima and maxima are only written with ``extremes=True`` (and the airlock fails them)."""
    con, source = _connect(data, con)
    names = [variables] if isinstance(variables, str) else list(variables)
    stats = list(DESCRIBE_STATS) + (["min", "max"] if extremes else [])
    _check_columns(con, [*names, person, *([by] if by else [])])
    out = Path(out)
    header = ["variable", *([by] if by else []), *stats]
    body: list[list[Any]] = []
    cells: list[Cell] = []
    people: list[list[str]] = []
    sqls = []
    row = 0
    for var in names:
        grp = f"coalesce(CAST({_q(by)} AS VARCHAR), '{MISSING}')" if by else "'all'"
        sql = (f"WITH base AS (SELECT {grp} AS grp, CAST({_q(person)} AS VARCHAR) AS p, CAST({_q(var)} AS DOUBLE) AS v"
               f" FROM _src WHERE {_q(var)} IS NOT NULL),\n"
               f"per AS (SELECT grp, p, sum(v) AS pv, min(v) AS vmin, max(v) AS vmax, count(*) FILTER (WHERE v < 0)"
               f" AS neg FROM base GROUP BY grp, p),\n"
               f"s AS (SELECT grp, count(DISTINCT p) AS n, avg(v) AS mean, stddev_samp(v) AS std, "
               f"quantile_cont(v, 0.25) AS p25, median(v) AS median, quantile_cont(v, 0.75) AS p75, min(v) AS min, "
               f"max(v) AS max, count(*) AS records FROM base GROUP BY grp)\n"
               f"SELECT s.*, sum(pv) AS total, max(pv, 2) AS top, sum(neg) AS neg, min(vmin) = max(vmax) AS same,"
               f" list(p ORDER BY p) AS people FROM s JOIN per USING (grp) GROUP BY ALL ORDER BY grp")
        sqls.append(sql)
        for rec in con.execute(sql).fetchall():
            (grp_v, n, mean, std, p25, median, p75, mn, mx, records, total, top, neg, same, ppl) = rec
            row += 1
            values = {"n": n, "mean": mean, "std": std, "p25": p25, "median": median, "p75": p75, "min": mn,
                      "max": mx}
            body.append([var, *([grp_v] if by else []), *(_num(values[s]) for s in stats)])
            for s in stats:
                cells.append(Cell(row=row, column=s, stat=s, value=_num(values[s]), persons=int(n),
                                  records=int(records), total=float(total), top=[float(t) for t in top],
                                  negatives=int(neg or 0), all_same=bool(same),
                                  key=[var, *([str(grp_v)] if by else [])]))
                people.append(list(ppl))
    _write_csv(out, header, body)
    meta = Metadata(helper="describe", parameters={"variables": names, "by": by, "person": person,
                                                   "extremes": extremes},
                    kind="describe", output=out.name, sha256="", code=";\n".join(sqls),
                    dims=["variable", *([by] if by else [])], cells=cells, layout="long", column_labels=stats,
                    source=source)
    write(out, meta, people)
    return out


def _nice(step: float) -> float:
    if step <= 0:
        return 1.0
    exp = math.floor(math.log10(step))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10 ** exp >= step:
            return float(m * 10 ** exp)
    return float(10 ** (exp + 1))


def histogram(data: Data, variable: str, *, out: str | Path, bins: int = 10, edges: Sequence[float] | None = None,
              person: str = PERSON, con: duckdb.DuckDBPyConnection | None = None) -> Path:
    """Counts of persons per bin of ``variable``. Without ``edges`` the bins have a round width and their
    outer edges are rounded outward, so that they do not give the exact minimum and maximum away."""
    con, source = _connect(data, con)
    _check_columns(con, [variable, person])
    lo, hi = con.execute(f"SELECT min(CAST({_q(variable)} AS DOUBLE)), max(CAST({_q(variable)} AS DOUBLE)) "
                         f"FROM _src").fetchone() or (None, None)
    if lo is None or hi is None:
        raise BadInput(f"histogram: no value in {variable!r}")
    if edges is None:
        width = _nice((hi - lo) / max(bins, 1) or 1.0)
        start = math.floor(lo / width) * width
        if start == lo:
            start -= width
        stop = math.ceil(hi / width) * width
        if stop == hi:
            stop += width
        n = max(1, round((stop - start) / width))
        edge_list = [start + i * width for i in range(n + 1)]
    else:
        edge_list = [float(e) for e in edges]
        if sorted(edge_list) != edge_list or len(edge_list) < 2:
            raise BadInput("edges: at least two, increasing")
    exact = edge_list[0] == lo or edge_list[-1] == hi
    out = Path(out)
    sql = (f"SELECT CAST({_q(person)} AS VARCHAR) AS p, CAST({_q(variable)} AS DOUBLE) AS v FROM _src "
           f"WHERE {_q(variable)} IS NOT NULL")
    rows = con.execute(sql).fetchall()
    bins_people: list[set[str]] = [set() for _ in range(len(edge_list) - 1)]
    records = [0] * (len(edge_list) - 1)
    outside = 0
    for p, v in rows:
        i = _bin(edge_list, v)
        if i is None:
            outside += 1
            continue
        bins_people[i].add(p)
        records[i] += 1
    body, cells, people = [], [], []
    for i in range(len(edge_list) - 1):
        count = len(bins_people[i])
        body.append([_num(edge_list[i]), _num(edge_list[i + 1]), count])
        cells.append(Cell(row=i + 1, column="count", stat="count", value=count, persons=count, records=records[i],
                          key=[f"[{_fmt(_num(edge_list[i]))}, {_fmt(_num(edge_list[i + 1]))})"]))
        people.append(sorted(bins_people[i]))
    _write_csv(out, ["bin_low", "bin_high", "count"], body)
    meta = Metadata(helper="histogram", parameters={"variable": variable, "bins": bins, "edges": list(edges or []),
                                                    "person": person},
                    kind="histogram", output=out.name, sha256="", code=sql, dims=[variable], cells=cells,
                    layout="long", column_labels=["count"],
                    extra={"edges": edge_list, "edges_at_extremes": exact, "outside": outside}, source=source)
    write(out, meta, people)
    return out


def _bin(edges: list[float], v: float) -> int | None:
    if v < edges[0] or v > edges[-1]:
        return None
    for i in range(len(edges) - 1):
        if v < edges[i + 1] or (i == len(edges) - 2 and v == edges[-1]):
            return i
    return None
