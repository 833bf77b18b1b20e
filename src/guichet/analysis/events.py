"""The event table of an extract, in the spirit of SCALPEL3: one row per care event of a person,
``(person, category, group, value, weight, start, end)`` plus ``day`` (days since the person's index event,
when the extract releases it) and ``source`` (the table it came from).

Categories (the full table of sources, groups, values and weights is in docs/analysis.md): ``dispensing``
(ER_PHA_F: group the ATC class, value the CIP13, weight the packs), ``diagnosis`` (T_MCOaaB/D: group
``principal``/``related``/``associated``, value the ICD-10 code), ``stay`` (T_MCOaaC: weight the length of
stay), ``long_term_illness`` (IR_IMB_R: group the ALD number, value its ICD-10), ``visit`` (ER_PRS_F lines of
nature 11xx/12xx: group the specialty, value the nature), ``death`` (KI_CCI_R with its initial cause, else
the referential's death date).

The tables are those of an extract (``workspace.build.read_extract``: a dict of Arrow tables, or views of
the same names in a session's DuckDB connection): ``PERSON_ID`` on every row, record surrogates
(``CLAIM_ID``, ``STAY_ID``), dates coarsened to ``YYYY-MM`` unless granted (a month becomes its first day;
exact ``YYYY-MM-DD`` and the PMSI's ``DDMMYYYY`` are read as such), ``DAYS_SINCE_INDEX`` on dated tables
(a dispensing or a diagnosis takes its claim's or stay's). The PMSI tables may be named ``T_MCOaaB`` or per
year (``T_MCO23B``): every one present is read.

ATC classes: the extract carries CIP13 codes only. ``drugs`` maps CIP13 → ATC; the hub ships SCALPEL's
IR_PHA_R subset (``guichet.synth/data/drugs.csv``, read by ``access.criteria.drug_referential()``), which a
session passes in — the analysis layer sits below both and reads no nomenclature itself. Without it every
dispensing's group is ``unknown``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from guichet.errors import BadInput

COLUMNS = ("person", "category", "group", "value", "weight", "start", "end", "day", "source")
CATEGORIES = ("dispensing", "diagnosis", "stay", "long_term_illness", "visit", "death")
PMSI = re.compile(r"^T_MCO(aa|\d\d)([BCD])$")
DATE_MACRO = """CREATE OR REPLACE TEMP MACRO _gdate(x) AS CASE length(CAST(x AS VARCHAR))
  WHEN 7 THEN TRY_CAST(CAST(x AS VARCHAR) || '-01' AS DATE)
  WHEN 8 THEN CAST(try_strptime(CAST(x AS VARCHAR), '%d%m%Y') AS DATE)
  ELSE TRY_CAST(left(CAST(x AS VARCHAR), 10) AS DATE) END"""
SENTINEL_BEFORE = "1900-01-01"  # death_date_sentinel: 1600-01-01 is no death date


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


PERIOD_KEYS = ("from", "to", "year", "quarter", "month")
_PERIOD_RANGES = {"year": (1800, 2200), "quarter": (1, 4), "month": (1, 12)}


def _iso_date(value: object, field: str) -> str:
    import datetime as dt

    text = str(value) if isinstance(value, str) else ""
    try:
        if len(text) != 10:
            raise ValueError
        dt.date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{field}: a date YYYY-MM-DD") from None
    return text


def period_sql(period: object, start: str, end: str | None = None, *, field: str = "during") -> str:
    """The SQL condition that an event (or a date, ``end`` None) is in a calendar period ``{"from"?:
    "YYYY-MM-DD", "to"?: "YYYY-MM-DD", "year"?: [...], "quarter"?: [...], "month"?: [...]}``: its date
    interval ``[start, end]`` (``end`` missing: ``start``) meets ``from``..``to`` (both ends included), and
    its ``start`` falls in one of the years, one of the quarters and one of the months given (each list
    given must match). A bad period is refused naming the field (``during.quarter: ...``)."""
    if not isinstance(period, Mapping) or not period:
        raise BadInput(f"{field}: an object with from, to (dates YYYY-MM-DD), year, quarter or month")
    unknown = sorted(set(period) - set(PERIOD_KEYS))
    if unknown:
        raise BadInput(f"{field}.{unknown[0]}: not a period key (from, to, year, quarter, month)")
    conds: list[str] = []
    first = _iso_date(period["from"], f"{field}.from") if "from" in period else None
    last = _iso_date(period["to"], f"{field}.to") if "to" in period else None
    if first and last and first > last:
        raise BadInput(f"{field}.to: before {field}.from")
    if first:
        conds.append(f"coalesce({end}, {start}) >= DATE '{first}'" if end else f"{start} >= DATE '{first}'")
    if last:
        conds.append(f"{start} <= DATE '{last}'")
    for key, (low, high) in _PERIOD_RANGES.items():
        if key not in period:
            continue
        values = period[key]
        values = [values] if isinstance(values, int) and not isinstance(values, bool) else values
        if (not isinstance(values, list) or not values
                or not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in values)):
            raise BadInput(f"{field}.{key}: a list of whole numbers from {low} to {high}")
        conds.append(f"{key}({start}) IN ({', '.join(str(v) for v in sorted(set(values)))})")
    return "(" + " AND ".join(conds) + ")"


def register(con: duckdb.DuckDBPyConnection, tables: Mapping[str, pa.Table]) -> None:
    """Views named as the tables (what a session's connection already has)."""
    for name, table in tables.items():
        con.register(f"_arrow_{name}", table)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {_q(name)} AS SELECT * FROM {_q('_arrow_' + name)}")


def _present(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns").fetchall():
        out.setdefault(name, set()).add(column)
    return out


def _col(cols: set[str], name: str, alias: str, default: str = "NULL") -> str:
    return f"{alias}.{_q(name)}" if name in cols else default


def _day(cols: set[str], alias: str) -> str:
    return f"{alias}.DAYS_SINCE_INDEX" if "DAYS_SINCE_INDEX" in cols else "NULL"


_TYPES = {"person": "VARCHAR", "category": "VARCHAR", "group": "VARCHAR", "value": "VARCHAR", "weight": "DOUBLE",
          "start": "DATE", "end": "DATE", "day": "INTEGER", "source": "VARCHAR"}
_LITERAL = re.compile(r"^(NULL|'[^']*'|-?\d+(\.\d+)?)$")


@dataclass
class Part:
    """One source's SELECT: ``exprs`` the SQL of each of ``COLUMNS`` (cast to its type), ``rest`` its FROM
    (and WHERE); ``constants`` the columns whose expression is a literal, the same on every row."""

    exprs: dict[str, str]
    rest: str
    constants: frozenset[str]

    def sql(self, columns: Iterable[str] = COLUMNS) -> str:
        return "SELECT " + ", ".join(f"{self.exprs[c]} AS {_q(c)}" for c in columns) + " " + self.rest


def _select(person: str, category: str, group: str, value: str, weight: str, start: str, end: str, day: str,
            source: str, rest: str, *, parsed: bool = False) -> Part:
    """One source's SELECT; ``parsed``: start and end are DATEs already (a claim's or a stay's, parsed once
    before their aggregation), not texts for ``_gdate``. ``category`` and ``source`` are names (literals);
    any other argument that is a SQL literal (``'MCO'``, ``1``, ``NULL``) is a constant of the part."""
    raw = {"person": person, "category": f"'{category}'", "group": group, "value": value, "weight": weight,
           "start": start, "end": end, "day": day, "source": f"'{source}'"}
    constants = frozenset(c for c, v in raw.items() if _LITERAL.match(v.strip()))
    exprs = {c: f"CAST({v} AS {_TYPES[c]})" for c, v in raw.items()}
    if not parsed:
        exprs.update({c: f"_gdate({raw[c]})" for c in ("start", "end") if c not in constants})
    return Part(exprs, rest, constants)


def _plan(present: Mapping[str, set[str]], *, drugs: bool = False, categories: Iterable[str] = CATEGORIES,
          prefix: str = "_stays_") -> tuple[list[tuple[str, str]], list[Part]]:
    """The event table over the views in ``present`` (name → columns): the intermediate results its parts
    read (name, SQL: each PMSI year's stays, aggregated once) and one part per source table (none when a
    table or a needed column is absent). ``prefix``: the intermediate results' names, before the year."""
    wanted = set(categories)
    if wanted - set(CATEGORIES):
        raise BadInput(f"categories: among {', '.join(CATEGORIES)}")
    parts: list[Part] = []
    prs = present.get("ER_PRS_F", set())
    pha = present.get("ER_PHA_F", set())
    if "dispensing" in wanted and {"PERSON_ID", "PHA_PRS_C13"} <= pha:
        atc = "coalesce(d.atc, 'unknown')" if drugs else "'unknown'"
        join = " LEFT JOIN _drugs d ON d.cip = CAST(p.PHA_PRS_C13 AS VARCHAR)" if drugs else ""
        if "CLAIM_ID" in pha and {"CLAIM_ID", "EXE_SOI_DTD"} <= prs:
            claim_day = "min(CAST(DAYS_SINCE_INDEX AS INTEGER))" if "DAYS_SINCE_INDEX" in prs else "NULL"
            claims = (f"(SELECT CLAIM_ID, min(_gdate(EXE_SOI_DTD)) AS s, {claim_day} AS dd FROM ER_PRS_F "
                      "GROUP BY CLAIM_ID) c")
            parts.append(_select("p.PERSON_ID", "dispensing", atc, "p.PHA_PRS_C13",
                                 _col(pha, "PHA_ACT_QSN", "p", "1"), "c.s", "c.s", "CAST(c.dd AS INTEGER)",
                                 "ER_PHA_F", f"FROM ER_PHA_F p LEFT JOIN {claims} ON c.CLAIM_ID = p.CLAIM_ID{join}",
                                 parsed=True))
        else:
            parts.append(_select("p.PERSON_ID", "dispensing", atc, "p.PHA_PRS_C13", _col(pha, "PHA_ACT_QSN", "p", "1"),
                                 "NULL", "NULL", "NULL", "ER_PHA_F", f"FROM ER_PHA_F p{join}"))
    if "visit" in wanted and {"PERSON_ID", "EXE_SOI_DTD", "PRS_NAT_REF"} <= prs:
        specialty = ("coalesce(nullif(CAST(r.PSE_SPE_COD AS VARCHAR), ''), 'unknown')" if "PSE_SPE_COD" in prs
                     else "'unknown'")
        parts.append(_select("r.PERSON_ID", "visit", specialty,
                             "r.PRS_NAT_REF", _col(prs, "PRS_ACT_QTE", "r", "1"), "r.EXE_SOI_DTD",
                             _col(prs, "EXE_SOI_DTF", "r", "r.EXE_SOI_DTD"), _day(prs, "r"), "ER_PRS_F",
                             "FROM ER_PRS_F r WHERE CAST(r.PRS_NAT_REF AS VARCHAR) LIKE '11%' "
                             "OR CAST(r.PRS_NAT_REF AS VARCHAR) LIKE '12%'"))
    pmsi: dict[str, dict[str, str]] = {}
    for name in present:
        m = PMSI.match(name)
        if m:
            pmsi.setdefault(m.group(1), {})[m.group(2)] = name
    ctes: list[tuple[str, str]] = []  # each year's stays, aggregated once and read by the stays' and diagnoses' SELECTs
    for year, files in sorted(pmsi.items()):
        c = files.get("C")
        ccols = present.get(c, set()) if c else set()
        if not c or not {"PERSON_ID", "STAY_ID", "ENT_DAT"} <= ccols or not {"stay", "diagnosis"} & wanted:
            continue
        end = _col(ccols, "SOR_DAT", "s", "s.ENT_DAT")
        stays = _q(f"{prefix}{year}")
        ctes.append((stays, f"SELECT STAY_ID, any_value(PERSON_ID) AS person, "
                    f"min(_gdate(ENT_DAT)) AS s, max(_gdate({end.replace('s.', '')})) AS e, "
                    f"{'min(CAST(DAYS_SINCE_INDEX AS INTEGER))' if 'DAYS_SINCE_INDEX' in ccols else 'NULL'} AS dd "
                    f"FROM {_q(c)} GROUP BY STAY_ID"))
        if "stay" in wanted:
            parts.append(_select("s.person", "stay", "'MCO'", "s.STAY_ID",
                                 "greatest(coalesce(datediff('day', s.s, s.e), 0), 0)", "s.s", "s.e",
                                 "CAST(s.dd AS INTEGER)", c, f"FROM {stays} s", parsed=True))
        if "diagnosis" in wanted:
            for letter, column, group in (("B", "DGN_PAL", "principal"), ("B", "DGN_REL", "related"),
                                          ("D", "ASS_DGN", "associated")):
                t = files.get(letter)
                tcols = present.get(t, set()) if t else set()
                if not t or not {"STAY_ID", column} <= tcols:
                    continue
                parts.append(_select("s.person", "diagnosis", f"'{group}'", f"d.{column}", "1", "s.s", "s.e",
                                     "CAST(s.dd AS INTEGER)", t,
                                     f"FROM {_q(t)} d JOIN {stays} s ON s.STAY_ID = d.STAY_ID "
                                     f"WHERE d.{column} IS NOT NULL AND CAST(d.{column} AS VARCHAR) <> ''",
                                     parsed=True))
    imb = present.get("IR_IMB_R", set())
    if "long_term_illness" in wanted and {"PERSON_ID", "IMB_ALD_DTD"} <= imb:
        parts.append(_select("a.PERSON_ID", "long_term_illness", _col(imb, "IMB_ALD_NUM", "a", "'unknown'"),
                             _col(imb, "MED_MTF_COD", "a"), "1", "a.IMB_ALD_DTD",
                             _col(imb, "IMB_ALD_DTF", "a", "NULL"), _day(imb, "a"), "IR_IMB_R", "FROM IR_IMB_R a"))
    if "death" in wanted:
        cci = present.get("KI_CCI_R", set())
        ben = present.get("IR_BEN_R", set())
        certified = {"PERSON_ID", "BEN_DCD_DTE"} <= cci
        if certified:
            parts.append(_select("k.PERSON_ID", "death", "'certificate'", _col(cci, "DCD_CIM_COD", "k"), "1",
                                 "k.BEN_DCD_DTE", "k.BEN_DCD_DTE", _day(cci, "k"), "KI_CCI_R",
                                 f"FROM KI_CCI_R k WHERE _gdate(k.BEN_DCD_DTE) >= DATE '{SENTINEL_BEFORE}'"))
        if {"PERSON_ID", "BEN_DCD_DTE"} <= ben:
            unless = ("AND b.PERSON_ID NOT IN (SELECT PERSON_ID FROM KI_CCI_R WHERE PERSON_ID IS NOT NULL)"
                      if certified else "")
            parts.append(_select("b.PERSON_ID", "death", "'referential'", "NULL", "1", "b.BEN_DCD_DTE",
                                 "b.BEN_DCD_DTE", _day(ben, "b"), "IR_BEN_R",
                                 f"FROM IR_BEN_R b WHERE _gdate(b.BEN_DCD_DTE) >= DATE '{SENTINEL_BEFORE}' {unless}"))
    if not parts:
        raise BadInput("event table: the extract holds none of the tables and columns events are made from")
    return ctes, parts


def event_sql(present: Mapping[str, set[str]], *, drugs: bool = False,
              categories: Iterable[str] = CATEGORIES) -> str:
    """The SQL of the event table over the views in ``present`` (name → columns): a UNION ALL of one
    SELECT per source table (none when a table or a needed column is absent)."""
    ctes, parts = _plan(present, drugs=drugs, categories=categories)
    body = "\nUNION ALL\n".join(p.sql() for p in parts)
    return f"WITH {', '.join(f'{n} AS MATERIALIZED ({q})' for n, q in ctes)}\n{body}" if ctes else body


def events(tables: Mapping[str, pa.Table] | None = None, *, con: duckdb.DuckDBPyConnection | None = None,
           drugs: Mapping[str, str] | None = None, categories: Iterable[str] = CATEGORIES,
           view: str | None = "events", during: Mapping[str, object] | None = None) -> duckdb.DuckDBPyConnection:
    """Make the event table in ``con`` (a new in-memory connection when None) from ``tables`` (registered as
    views) or the views already there, as the temporary view ``view`` (``events``), and return the
    connection (``con.table("events").to_arrow_table()`` for Arrow). ``during``: only the events in that
    calendar period (``period_sql``; an event without a date is in none).

    Each source's events are computed once into a temporary table of their own (``_events_0``, ... for
    ``events``) holding the columns that vary from row to row; the view is their UNION ALL with the
    columns that are the same on every row of a source (its category and source, and a constant group
    or weight: ``'MCO'``, ``'principal'``, 1) given as constants, and ``end`` as ``start`` where a source's
    end is its start (dispensings, visits without an end date). Reading the view gives the whole table;
    a query on one category reads only that category's tables (the others' constant ``category`` does
    not match and DuckDB leaves them out)."""
    name = view or "events"
    where = " WHERE " + period_sql(during, "start", '"end"') if during is not None else ""
    con = con or duckdb.connect()
    if tables is not None:
        register(con, tables)
    con.execute(DATE_MACRO)
    try:  # the table is ordered when read (event_table); a session's locked configuration keeps the default
        con.execute("SET preserve_insertion_order = false")
    except duckdb.Error:
        pass
    if drugs:
        con.register("_drugs_arrow", pa.table({"cip": pa.array(list(drugs), pa.string()),
                                               "atc": pa.array(list(drugs.values()), pa.string())}))
        con.execute("CREATE OR REPLACE TEMP VIEW _drugs AS SELECT * FROM _drugs_arrow")
    ctes, parts = _plan(_present(con), drugs=bool(drugs), categories=categories, prefix=f"_{name}_stays_")
    _drop(con, name)
    for cte, sql in ctes:  # each PMSI year's stays, read by the stays' and the diagnoses' parts
        con.execute(f"CREATE OR REPLACE TEMP TABLE {cte} AS {sql}")
    selects = []
    for i, part in enumerate(parts):
        table = _q(f"_{name}_{i}")
        same_end = part.exprs["end"] == part.exprs["start"]  # a dispensing's, a visit's without its end date
        stored = [c for c in COLUMNS if c not in part.constants and not (c == "end" and same_end)]
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT {', '.join(_q(c) for c in stored)} "
                    f"FROM ({part.sql()}){where}")
        selects.append("SELECT " + ", ".join(part.exprs[c] + f" AS {_q(c)}" if c in part.constants
                                             else 'start AS "end"' if c == "end" and same_end else _q(c)
                                             for c in COLUMNS) + f" FROM {table}")
    for cte, _ in ctes:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{cte}")
    con.execute(f"CREATE TEMP VIEW {_q(name)} AS " + "\nUNION ALL\n".join(selects))
    return con


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Remove a previous event table ``name`` (the view and its tables; a table of that name made by an
    earlier version) from the connection's temporary schema."""
    for kind in ("VIEW", "TABLE"):
        try:
            con.execute(f"DROP {kind} IF EXISTS temp.main.{_q(name)}")
        except duckdb.CatalogException:  # the other kind of object
            pass
    prefix = f"_{name}_"
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, ?)",
                                [prefix]).fetchall():
        if table[len(prefix):].isdigit():
            con.execute(f"DROP TABLE temp.main.{_q(table)}")


def event_table(tables: Mapping[str, pa.Table] | None = None, *, con: duckdb.DuckDBPyConnection | None = None,
                drugs: Mapping[str, str] | None = None, categories: Iterable[str] = CATEGORIES,
                during: Mapping[str, object] | None = None) -> pa.Table:
    """The event table as Arrow (see ``events``), ordered by person, start, category."""
    con = events(tables, con=con, drugs=drugs, categories=categories, during=during)
    return con.sql('SELECT * FROM events ORDER BY person, start NULLS LAST, category, "group", value').to_arrow_table()


__all__ = ["CATEGORIES", "COLUMNS", "PERIOD_KEYS", "event_sql", "event_table", "events", "period_sql", "register"]


def from_delivery(folder: str, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """Views shaped like an extract's tables over a synthetic delivery's CSV files (``guichet synth`` output;
    for examples, tests and benchmarks without a built extract): ``PERSON_ID`` a hash of the opener's NIR,
    birth date and rank (synthetic NIRs only), ``CLAIM_ID`` of the nine DCIR keys, ``STAY_ID`` of ETA_NUM and
    RSA_NUM. Exact dates (no coarsening), no ``DAYS_SINCE_INDEX``; death certificates are not linked to
    persons in a delivery, so deaths come from the referential."""
    from pathlib import Path

    root = Path(folder)
    con = con or duckdb.connect()

    def csv(name: str) -> str:
        return f"read_csv('{(root / (name + '.csv')).as_posix()}', delim=';', header=true, all_varchar=true)"

    person = "md5(concat_ws('|', BEN_NIR_OUV, BEN_NAI_DTE, {rank}))"
    nine = "md5(concat_ws('|', DCT_ORD_NUM, FLX_DIS_DTD, FLX_EMT_NUM, FLX_EMT_ORD, FLX_EMT_TYP, FLX_TRT_DTD, " \
           "ORG_CLE_NUM, PRS_ORD_NUM, REM_TYP_AFF))"
    if (root / "IR_BEN_R.csv").is_file():
        con.execute(f"CREATE OR REPLACE TEMP VIEW IR_BEN_R AS SELECT {person.format(rank='BEN_RNG_GEM')} AS PERSON_ID, "
                    f"* EXCLUDE (BEN_NIR_OUV, BEN_NIR) FROM {csv('IR_BEN_R')}")
    if (root / "ER_PRS_F.csv").is_file():
        con.execute(f"CREATE OR REPLACE TEMP TABLE ER_PRS_F AS SELECT {person.format(rank='BEN_RNG_GEM')} AS PERSON_ID, "
                    f"{nine} AS CLAIM_ID, * EXCLUDE (BEN_NIR_OUV) FROM {csv('ER_PRS_F')}")
        if (root / "ER_PHA_F.csv").is_file():
            con.execute(f"CREATE OR REPLACE TEMP VIEW ER_PHA_F AS SELECT c.PERSON_ID, p.* FROM "
                        f"(SELECT {nine} AS CLAIM_ID, * FROM {csv('ER_PHA_F')}) p "
                        "JOIN (SELECT DISTINCT CLAIM_ID, PERSON_ID FROM ER_PRS_F) c USING (CLAIM_ID)")
    if (root / "IR_IMB_R.csv").is_file():
        con.execute(f"CREATE OR REPLACE TEMP VIEW IR_IMB_R AS SELECT {person.format(rank='BEN_RNG_GEM')} AS PERSON_ID, "
                    f"* EXCLUDE (BEN_NIR_OUV) FROM {csv('IR_IMB_R')}")
    for path in sorted(root.glob("T_MCO*C.csv")):
        year = path.stem[5:7]
        con.execute(f"CREATE OR REPLACE TEMP VIEW T_MCO{year}C AS SELECT {person.format(rank='RNG_NAI')} AS PERSON_ID, "
                    f"ETA_NUM || ':' || RSA_NUM AS STAY_ID, * EXCLUDE (BEN_NIR_OUV) FROM {csv(path.stem)}")
        for letter in "BD":
            if (root / f"T_MCO{year}{letter}.csv").is_file():
                con.execute(f"CREATE OR REPLACE TEMP VIEW T_MCO{year}{letter} AS SELECT ETA_NUM || ':' || RSA_NUM "
                            f"AS STAY_ID, * FROM {csv(f'T_MCO{year}{letter}')}")
    return con
