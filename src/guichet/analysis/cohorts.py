"""Cohorts over the event table: the applications' criteria language (``docs/access.md``, "Criteria") with
an index event and time windows relative to it; union, intersection and difference; an attrition table (and
its flowchart) written through the airlock helpers.

A cohort is ``{"index": LEAF, "criteria": C}``: each person's index event is their first event matching the
``LEAF`` (a ``codes`` or ``event`` criterion; no index: every person of the referential, day 0 their first
event). ``C`` uses the applications' kinds — ``all``, ``any``, ``not``, ``codes`` (``system`` CIP13, ATC,
ICD10, ALD; ``match``; ``variables``), ``age``, ``sex``, ``territory`` (départements) — plus:

- ``"window": {"from": d1, "to": d2}`` on a ``codes`` or ``event`` leaf: the event starts between ``d1`` and
  ``d2`` days after the index event (negative: before it; both ends included; one may be left out);
- ``"min_count": n`` on a ``codes`` or ``event`` leaf: at least ``n`` such events;
- ``{"event": CATEGORY}`` (``stay``, ``visit``, ``death``, ``dispensing``, ``diagnosis``,
  ``long_term_illness``): any event of the category;
- ``{"age": {...}, "at": "index"}``: the age (year of the index event minus the birth year — extracts carry
  the birth year only) within the bounds;
- ``"during": P`` on a ``codes`` or ``event`` leaf (and on the index leaf): the event is in the calendar
  period ``P`` (``events.period_sql``: its dates meet ``from``..``to``, its start is in the ``year``,
  ``quarter`` and ``month`` lists given); ``{"index_date": P}``: the index date is in ``P``;
- ``{"territory": {"regions": [...]}}``: resident in a région's départements, through the départements →
  régions map given (``regions=``) or the connection's ``IR_DPT_V``.

Days come from the extract's ``DAYS_SINCE_INDEX`` (exact, before coarsening) when the event table has
them, else from the event dates (a coarsened month counts from its first day). The ATC system reads the
dispensing's group, so the event table must have been made with a CIP13 → ATC map.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from guichet.analysis.events import period_sql
from guichet.analysis.figures import attach_figure
from guichet.analysis.tables import crosstab
from guichet.errors import BadInput

SYSTEM_ROWS: dict[str, tuple[str, str]] = {  # system -> (category, column compared)
    "ATC": ("dispensing", '"group"'), "CIP13": ("dispensing", "value"),
    "ICD10": ("diagnosis", "value"), "ALD": ("long_term_illness", '"group"'),
}
VARIABLE_ROWS: dict[str, tuple[str, str | None]] = {  # TABLE.COLUMN -> (category, group)
    "T_MCOaaB.DGN_PAL": ("diagnosis", "principal"), "T_MCOaaB.DGN_REL": ("diagnosis", "related"),
    "T_MCOaaD.ASS_DGN": ("diagnosis", "associated"), "IR_IMB_R.MED_MTF_COD": ("long_term_illness", None),
    "KI_CCI_R.DCD_CIM_COD": ("death", None),
}
CATEGORY_NAMES = ("dispensing", "diagnosis", "stay", "long_term_illness", "visit", "death")
BEN = "IR_BEN_R"
DPT = "IR_DPT_V"  # the départements → régions nomenclature, when a connection holds it
LEAF_KEYS = {"codes", "event", "system", "match", "variables", "window", "min_count", "during"}


def _lit(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise BadInput("criteria: a number or a text where a boolean or null was given")
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def _dpt(code: object) -> str:
    return str(code).strip().upper().zfill(3)


def _norm(code: str) -> str:
    return str(code).strip().upper().replace(" ", "").replace(".", "")


@dataclass
class Cohort:
    """A set of persons with their index day (``SELECT person, t0, d0``: index day and date)."""

    name: str
    sql: str

    def union(self, other: Cohort, name: str | None = None) -> Cohort:
        return Cohort(name or f"({self.name} or {other.name})",
                      f"SELECT person, min(t0) AS t0, min(d0) AS d0 FROM ({self.sql} UNION ALL {other.sql}) GROUP BY person")

    def intersection(self, other: Cohort, name: str | None = None) -> Cohort:
        return Cohort(name or f"({self.name} and {other.name})",
                      f"SELECT a.* FROM ({self.sql}) a SEMI JOIN ({other.sql}) b ON a.person = b.person")

    def difference(self, other: Cohort, name: str | None = None) -> Cohort:
        return Cohort(name or f"({self.name} without {other.name})",
                      f"SELECT a.* FROM ({self.sql}) a ANTI JOIN ({other.sql}) b ON a.person = b.person")

    def persons(self, con: duckdb.DuckDBPyConnection) -> pa.Table:
        return con.sql(f"SELECT * FROM ({self.sql}) ORDER BY person").to_arrow_table()

    def count(self, con: duckdb.DuckDBPyConnection) -> int:
        row = con.execute(f"SELECT count(*) FROM ({self.sql})").fetchone()
        return int(row[0]) if row else 0


class Compiler:
    """Compiles criteria to SQL over the ``events`` table of a connection (and ``IR_BEN_R`` when present)."""

    _serial = 0

    def __init__(self, con: duckdb.DuckDBPyConnection, events: str = "events",
                 regions: Mapping[str, str] | None = None):
        self.con, self.events = con, events
        self._regions = {_dpt(d): str(r).strip().upper() for d, r in regions.items()} if regions is not None else None
        cols = {r[0] for r in con.execute(f"DESCRIBE {events}").fetchall()}
        if not {"person", "category", "group", "value", "start", "day"} <= cols:
            raise BadInput("cohorts: an event table (analysis.events) is needed")
        self.exact_days = con.execute(f"SELECT 1 FROM {events} WHERE day IS NOT NULL LIMIT 1").fetchone() is not None
        self.t = "day" if self.exact_days else "datediff('day', DATE '1970-01-01', start)"
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        self.ben = BEN in tables
        self.ben_columns = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [BEN]).fetchall()}
        self._dpt_view = DPT in tables
        self._uses: dict[str, int] = {}  # a leaf's event filter -> how many leaves of the definition have it
        self._shared: dict[str, str] = {}  # a filter used more than once -> the table of its matching events

    def regions(self) -> dict[str, str]:
        """Département (3 characters) → région: the map given, else the connection's ``IR_DPT_V``."""
        if self._regions is None:
            if not self._dpt_view:
                raise BadInput("territory.regions: no départements → régions map (pass regions=, e.g. "
                               "access.criteria.departement_regions(), or give the connection an IR_DPT_V)")
            rows = self.con.execute(f"SELECT CAST(GEO_DPT_COD AS VARCHAR), CAST(GEO_REG_COD AS VARCHAR) FROM {DPT}")
            self._regions = {_dpt(d): str(r).strip().upper() for d, r in rows.fetchall()
                             if d is not None and r is not None}
        return self._regions

    # --- leaves matching events ----------------------------------------------------------------------------
    def _event_filter(self, leaf: Mapping[str, Any]) -> str:
        unknown = sorted(set(leaf) - LEAF_KEYS)
        if unknown:
            raise BadInput(f"{unknown[0]}: not an option of a codes or event criterion")
        if "event" in leaf:
            cat = leaf["event"]
            if cat not in CATEGORY_NAMES:
                raise BadInput(f"event: one of {', '.join(CATEGORY_NAMES)}")
            return f"category = {_lit(cat)}"
        if "codes" not in leaf:
            raise BadInput("an index or windowed criterion is a codes or event criterion")
        system = leaf.get("system")
        if system not in SYSTEM_ROWS:
            raise BadInput(f"system: one of {', '.join(SYSTEM_ROWS)}")
        codes = [_norm(c) for c in leaf["codes"]]
        if not codes:
            raise BadInput("codes: at least one")
        match = leaf.get("match", "exact" if system in ("CIP13", "ALD") else "prefix")
        category, column = SYSTEM_ROWS[system]
        where: list[str] = []
        variables = leaf.get("variables")
        if variables:
            alts = []
            for v in variables:
                if v not in VARIABLE_ROWS:
                    raise BadInput(f"variables: {v} is not one the event table carries")
                cat, group = VARIABLE_ROWS[v]
                alts.append(f"(category = {_lit(cat)}" + (f' AND "group" = {_lit(group)})' if group else ")"))
            where.append("(" + " OR ".join(alts) + ")")
            column = "value"
        else:
            where.append(f"category = {_lit(category)}")
        raw = f"CAST({column} AS VARCHAR)"
        text = f"upper(replace({raw}, '.', ''))"
        if match == "prefix":
            def test(x: str) -> str:
                return "(" + " OR ".join(f"starts_with({x}, {_lit(c)})" for c in codes) + ")"
        elif match == "exact":
            def test(x: str) -> str:
                return f"{x} IN ({', '.join(_lit(c) for c in codes)})"
        else:
            raise BadInput("match: exact or prefix")
        if all(c.isascii() for c in codes):
            # a code already written as the codes are (no dot, no lower case) is compared as it is; only the
            # others are normalised (the same answer: normalising such a code leaves it unchanged)
            where.append(f"({test(raw)} OR ((contains({raw}, '.') OR {raw} <> upper({raw})) AND {test(text)}))")
        else:
            where.append(test(text))
        return " AND ".join(where)

    def count_leaves(self, *definitions: object) -> None:
        """Count the event filters of the codes and event leaves in ``definitions`` (an index leaf, criteria):
        the events matching a filter used more than once are then selected once (``matching``)."""
        def walk(c: object) -> None:
            if isinstance(c, Mapping):
                if "codes" in c or "event" in c:
                    try:
                        f = self._event_filter(c)
                    except BadInput:  # reported where the leaf is compiled
                        return
                    self._uses[f] = self._uses.get(f, 0) + 1
                for key in ("all", "any"):
                    if isinstance(c.get(key), list):
                        for x in c[key]:
                            walk(x)
                if "not" in c:
                    walk(c["not"])
        for d in definitions:
            walk(d)

    def matching(self, leaf: Mapping[str, Any]) -> str:
        """SQL of the events matching a leaf's codes or event filter (not its window or period):
        ``person, _t`` (its day), ``_start, _end``. A filter counted more than once (``count_leaves``) is
        selected once into a temporary table that its leaves read."""
        f = self._event_filter(leaf)
        sql = f'SELECT person, {self.t} AS _t, start AS _start, "end" AS _end FROM {self.events} WHERE {f}'
        if self._uses.get(f, 0) < 2:
            return sql
        if f not in self._shared:
            self.__class__._serial += 1
            table = f"_matching_{self._serial}"
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
            self._shared[f] = table
        return f"SELECT * FROM {self._shared[f]}"

    def index(self, leaf: Mapping[str, Any] | None) -> Cohort:
        if leaf is None:
            source = f"SELECT person, min({self.t}) AS t0, min(start) AS d0 FROM {self.events} GROUP BY person"
            if self.ben:
                source = (f"SELECT CAST(b.PERSON_ID AS VARCHAR) AS person, coalesce(e.t0, 0) AS t0, e.d0 FROM "
                          f"(SELECT DISTINCT PERSON_ID FROM {BEN}) b LEFT JOIN ({source}) e "
                          "ON e.person = CAST(b.PERSON_ID AS VARCHAR)")
            return Cohort("all persons", source)
        if "window" in leaf:
            raise BadInput("index: no window (it is what windows are relative to)")
        during = (" AND " + period_sql(leaf["during"], "_start", "_end", field="index.during")
                  if "during" in leaf else "")
        return Cohort("index event",
                      f"SELECT person, min(_t) AS t0, min(_start) AS d0 FROM ({self.matching(leaf)}) WHERE "
                      f"_t IS NOT NULL{during} GROUP BY person")

    def _windowed(self, leaf: Mapping[str, Any], base: str) -> str:
        events = self.matching(leaf)
        where = ["TRUE"]
        window = leaf.get("window")
        if window is not None:
            unknown = set(window) - {"from", "to"}
            if unknown or not window:
                raise BadInput("window: {\"from\": days, \"to\": days} relative to the index event")
            if "from" in window:
                where.append(f"e._t - i.t0 >= {int(window['from'])}")
            if "to" in window:
                where.append(f"e._t - i.t0 <= {int(window['to'])}")
        if "during" in leaf:
            where.append(period_sql(leaf["during"], "e._start", "e._end", field="during"))
        n = int(leaf.get("min_count", 1))
        return (f"SELECT i.person FROM ({base}) i JOIN ({events}) e ON e.person = i.person "
                f"WHERE {' AND '.join(where)} GROUP BY i.person HAVING count(*) >= {n}")

    def persons(self, c: Mapping[str, Any], base: str) -> str:
        """SQL of the persons of ``base`` (a cohort's SQL) matching ``c``."""
        if not isinstance(c, Mapping) or not c:
            raise BadInput("a criterion is an object with one kind key")
        if "all" in c:
            parts = [self.persons(x, base) for x in c["all"]]
            return " INTERSECT ".join(f"({p})" for p in parts)
        if "any" in c:
            parts = [self.persons(x, base) for x in c["any"]]
            return " UNION ".join(f"({p})" for p in parts)
        if "not" in c:
            return f"(SELECT person FROM ({base})) EXCEPT ({self.persons(c['not'], base)})"
        if "codes" in c or "event" in c:
            return self._windowed(c, base)
        if "sex" in c or "age" in c or "territory" in c:
            if not self.ben:
                raise BadInput(f"{next(iter(c))}: the extract has no {BEN}")
            kind = "sex" if "sex" in c else "age" if "age" in c else "territory"
            column, value = {"sex": ("BEN_SEX_COD", "BEN_SEX_COD"),
                             "age": ("BEN_NAI_ANN", "TRY_CAST(BEN_NAI_ANN AS INTEGER)"),
                             "territory": ("BEN_RES_DPT", "BEN_RES_DPT")}[kind]
            if column not in self.ben_columns:
                raise BadInput(f"{kind}: the extract's {BEN} has no {column}")
            alias = {"sex": "sex", "age": "born", "territory": "dpt"}[kind]
            ben = (f"(SELECT CAST(PERSON_ID AS VARCHAR) AS person, any_value({value}) AS {alias} "
                   f"FROM {BEN} GROUP BY 1)")
            if "sex" in c:
                code = {"male": "1", "female": "2"}.get(c["sex"])
                if code is None:
                    raise BadInput("sex: male or female")
                cond = f"CAST(b.sex AS VARCHAR) = '{code}'"
            elif "age" in c:
                bounds = c["age"]
                at = c.get("at", "index")
                year = "year(i.d0)" if at == "index" else str(int(str(at)[:4]))
                cond = f"({year} - b.born) BETWEEN {int(bounds.get('min', 0))} AND {int(bounds.get('max', 130))}"
            else:
                cond = self._territory(c["territory"])
            return f"SELECT i.person FROM ({base}) i JOIN {ben} b ON b.person = i.person WHERE {cond}"
        if "index_date" in c:
            return (f"SELECT i.person FROM ({base}) i WHERE "
                    f"{period_sql(c['index_date'], 'i.d0', field='index_date')}")
        raise BadInput(f"criterion: unknown kind {', '.join(c)}")

    def _territory(self, territory: object) -> str:
        """Residence (``IR_BEN_R.BEN_RES_DPT``) in one of the départements or of the régions' départements."""
        if not isinstance(territory, Mapping) or not territory:
            raise BadInput("territory: an object with departements and/or regions")
        unknown = sorted(set(territory) - {"departements", "regions"})
        if unknown:
            raise BadInput(f"territory.{unknown[0]}: not a territory key (departements, regions)")
        deps: set[str] = set()
        for key in ("departements", "regions"):
            values = territory.get(key, [])
            if not isinstance(values, list) or not all(isinstance(v, str | int) and not isinstance(v, bool)
                                                       and str(v).strip() for v in values):
                raise BadInput(f"territory.{key}: a list of codes")
        deps |= {_dpt(d) for d in territory.get("departements", [])}
        wanted = [str(r).strip().upper() for r in territory.get("regions", [])]
        if wanted:
            regions = self.regions()
            known = set(regions.values())
            for i, r in enumerate(wanted):
                if r not in known:
                    raise BadInput(f"territory.regions[{i}]: not a région of the départements → régions map")
            deps |= {d for d, r in regions.items() if r in wanted}
        if not deps:
            raise BadInput("territory: departements or regions (at least one code)")
        return f"lpad(upper(trim(CAST(b.dpt AS VARCHAR))), 3, '0') IN ({', '.join(_lit(d) for d in sorted(deps))})"

    def materialise(self, c: Cohort) -> Cohort:
        """The cohort's persons and index days computed once, into a temporary table (criteria read it
        several times)."""
        self.__class__._serial += 1
        table = f"_cohort_{self._serial}"
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {c.sql}")
        return Cohort(c.name, f"SELECT * FROM {table}")

    def cohort(self, definition: Mapping[str, Any], name: str = "cohort") -> Cohort:
        self.count_leaves(definition.get("index"), definition.get("criteria"))
        base = self.materialise(self.index(definition.get("index")))
        crit = definition.get("criteria")
        if not crit:
            return Cohort(name, base.sql)
        return Cohort(name, f"SELECT b.* FROM ({base.sql}) b SEMI JOIN ({self.persons(crit, base.sql)}) m "
                            "ON m.person = b.person")


def cohort(con: duckdb.DuckDBPyConnection, definition: Mapping[str, Any], name: str = "cohort", *,
           regions: Mapping[str, str] | None = None) -> Cohort:
    """The cohort of ``definition`` (``{"index": LEAF, "criteria": C}``) over ``con``'s event table.
    ``regions``: département → région, for ``territory.regions`` (else the connection's ``IR_DPT_V``)."""
    return Compiler(con, regions=regions).cohort(definition, name)


def attrition(con: duckdb.DuckDBPyConnection, steps: Sequence[tuple[str, Mapping[str, Any]]], *,
              index: Mapping[str, Any] | None, out: str | Path, figure: bool = True,
              regions: Mapping[str, str] | None = None) -> tuple[Path, Cohort]:
    """The attrition of a cohort built step by step: the persons with the index event, then those of them
    matching each step's criterion in turn. Written through ``crosstab`` (one row per step, distinct persons,
    each cell with its persons for the airlock) and, with ``figure``, a flowchart SVG attached to it.
    Returns the table's path and the final cohort."""
    comp = Compiler(con, regions=regions)
    comp.count_leaves(index, *(crit for _, crit in steps))
    current = comp.materialise(comp.index(index))
    current.name = "index event" if index else "all persons"
    labels = [f"00. {current.name}"]
    parts = [f"SELECT person, {_lit(labels[0])} AS step FROM ({current.sql})"]
    for i, (label, crit) in enumerate(steps, start=1):
        current = comp.materialise(Cohort(label, f"SELECT b.* FROM ({current.sql}) b SEMI JOIN "
                                                 f"({comp.persons(crit, current.sql)}) m ON m.person = b.person"))
        labels.append(f"{i:02d}. {label}")
        parts.append(f"SELECT person, {_lit(labels[-1])} AS step FROM ({current.sql})")
    con.execute("CREATE OR REPLACE TEMP TABLE _attrition AS " + " UNION ALL ".join(parts))
    out = Path(out)
    table = con.sql("SELECT person AS PERSON_ID, step FROM _attrition").to_arrow_table()
    crosstab(table, "step", out=out, margins=False)
    if figure:
        svg = out.with_suffix(".svg")
        svg.write_text(flowchart_svg(out), encoding="utf-8")
        attach_figure(svg, out)
    meta_steps = {"steps": [{"label": lbl, "criterion": c} for lbl, (_, c) in zip(labels[1:], steps, strict=True)],
                  "index": index}
    out.with_name(out.name + ".cohort.json").write_text(json.dumps(meta_steps, indent=1) + "\n", encoding="utf-8")
    return out, current


def _svg_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def flowchart_svg(table: Path) -> str:
    """A flowchart of an attrition table (boxes with each step's persons, arrows with those excluded), drawn
    from the CSV only (what the airlock checks)."""
    import csv

    with table.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    w, h, gap = 420, 46, 34
    height = len(rows) * (h + gap)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + 200}" height="{height}" role="img" '
           'aria-label="attrition flowchart" font-family="sans-serif" font-size="13">']
    prev: int | None = None
    for i, (label, value) in enumerate(rows):
        y = i * (h + gap)
        out.append(f'<rect x="1" y="{y}" width="{w}" height="{h}" fill="#fff" stroke="#333"/>')
        out.append(f'<text x="10" y="{y + 20}">{_svg_text(label)}</text>')
        out.append(f'<text x="10" y="{y + 38}">n = {_svg_text(value)}</text>')
        if i:
            out.append(f'<line x1="{w / 2}" y1="{y - gap}" x2="{w / 2}" y2="{y}" stroke="#333"/>')
            try:
                excluded = (prev or 0) - int(float(value))
                out.append(f'<text x="{w / 2 + 12}" y="{y - gap / 2 + 4}" fill="#a00">excluded: {excluded}</text>')
            except ValueError:
                pass
        try:
            prev = int(float(value))
        except ValueError:
            prev = None
    out.append("</svg>")
    return "\n".join(out) + "\n"


__all__ = ["Cohort", "Compiler", "attrition", "cohort", "flowchart_svg"]
