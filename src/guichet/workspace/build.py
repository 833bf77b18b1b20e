"""Building a permit's extract: its scope read from the signed permit alone, the lake's current published
versions read with their keys, rows given their person through the person index, the permitted population
(the criteria, executed) and period kept, opted-out persons removed, identifying fields coarsened, every
key replaced by a per-project surrogate, the risk measured, each table written as encrypted Parquet under
the project's key. The SQL is built with SQLGlot and recorded as the extract's recipe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlglot import exp

from guichet.access.criteria import EVENT_TABLES, LEAF_VARIABLES, SOURCE_FILE, SOURCE_ROW, bind_population, population_query
from guichet.custodian import Custodian, custodian_for, write_encrypted_parquet
from guichet.custodian.tables import OptOut, OptOutPseudonym
from guichet.engine import Engine, EngineSettings, SourceBinding, literal, parquet_source
from guichet.errors import NotFound, Refused
from guichet.hub import Hub
from guichet.lake import open_info, published_versions
from guichet.linkage.index import require_latest
from guichet.workspace import rules, surrogates

log = logging.getLogger("guichet.workspace")

FOLDER = "workspaces"
MANIFEST = "manifest.json"
RECIPE = "recipe.sql"
DICTIONARY = "dictionary.json"
ROUND_TO = 10  # the data dictionary's row and person counts are rounded to this
BATCH = 200_000  # values per custodian call (its bound is 500,000)
# DuckDB's memory limit for a build. Its spill files go to a RAM-backed tmpfs (engine/connection.py), so a lower
# limit does not spare memory, it only makes the person step's hash join and the rows' table spill: measured at
# 10.7M claim rows, the build took 72 s with 1GB and 54 s with 4GB (the bare copy: 6-7 s), as linkage's default
MEMORY_LIMIT = "4GB"
RESOURCE_SETTINGS = frozenset({"memory_limit"})  # how a build runs, not what it holds: not in its fingerprint
PERIOD_TABLES = frozenset(v.split(".")[0] for v in LEAF_VARIABLES["period"])  # the events a ``period`` leaf reads


@contextlib.contextmanager
def _timed(purpose: str) -> Iterator[None]:
    """Log a step of the build outside the engine with its wall-clock time (the engine logs its own)."""
    started = time.perf_counter()
    yield
    log.info("workspace: %s (%.3f s)", purpose, time.perf_counter() - started)


def workspace_dir(hub: Hub, permit_id: str) -> Path:
    return hub.home / FOLDER / permit_id


VERSIONS = "versions.json"


def load_versions(hub: Hub, permit_id: str) -> dict[str, Any]:
    """The workspace's extract versions: ``{"latest": N, "versions": {"N": {...}}}`` (each: the lake
    versions read, the snapshot, when built, the outputs that need it, when pruned)."""
    found = _read_json(workspace_dir(hub, permit_id) / VERSIONS)
    return {"latest": None, "versions": {}} if found is None else found


def save_versions(hub: Hub, permit_id: str, data: dict[str, Any]) -> None:
    _write_json(workspace_dir(hub, permit_id) / VERSIONS, data)


def _read_json(path: Path) -> dict[str, Any] | None:
    """A workspace record (JSON), or None when it was never written."""
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a workspace record atomically (a temporary file beside it, then renamed over it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


BROUGHT = "brought.json"


def load_brought(hub: Hub, permit_id: str) -> dict[str, Any]:
    """The datasets the applicants brought into the workspace: name -> their file's record (encrypted under
    the project's key, beside the extract)."""
    found = _read_json(workspace_dir(hub, permit_id) / BROUGHT)
    return {} if found is None else found


def save_brought(hub: Hub, permit_id: str, data: dict[str, Any]) -> None:
    _write_json(workspace_dir(hub, permit_id) / BROUGHT, data)


def brought_dictionary(brought: dict[str, Any]) -> dict[str, Any]:
    """The data dictionary's entries of the brought datasets: columns, rows rounded, who brought them."""
    return {name: {"rows": _rounded(int(meta["rows"])), "columns": meta["columns"], "brought_by": meta["by"],
                   "brought_on": meta["on"], "description": meta.get("description", "")}
            for name, meta in sorted(brought.items())}


def extract_dir(hub: Hub, permit_id: str, version: int | None = None) -> Path:
    """The folder of one extract version (default: the latest)."""
    if version is None:
        version = load_versions(hub, permit_id).get("latest") or 1
    return workspace_dir(hub, permit_id) / "extract" / f"v{version}"


@dataclass
class Plan:
    """What a permit grants, read from its document: tables, variables, criteria, period, grants."""

    permit: str
    project: str
    document: dict[str, Any]
    tables: list[str]
    variables: dict[str, list[str]]
    criteria: dict[str, Any] | None
    period: dict[str, str | None]
    granted: frozenset[str]
    authorised_on: str
    optout_exception: bool
    date_shift_days: int | None = None  # the permit's own choice (data.date_shift_days), else the hub's

    @classmethod
    def of(cls, permit_id: str, document: dict[str, Any]) -> Plan:
        data = document.get("data") or {}
        tables = sorted({str(t) for t in data.get("tables", [])})
        variables: dict[str, list[str]] = {t: [] for t in tables}
        for v in data.get("variables", []):
            if str(v.get("table")) in variables:
                variables[str(v["table"])].append(str(v["variable"]))
        population = document.get("population") or {}
        period = dict(population.get("period") or {})
        return cls(permit=permit_id, project=rules.project_of(permit_id), document=document, tables=tables,
                   variables={t: sorted(set(vs)) for t, vs in variables.items()},
                   criteria=population.get("criteria") or None,
                   period={"start": period.get("start"), "end": period.get("end")},
                   granted=frozenset(str(g) for g in data.get("granted", [])),
                   authorised_on=str(document.get("issued_at")),
                   optout_exception="art_71_4" in (document.get("opt_out_exceptions") or []),
                   date_shift_days=(int(data["date_shift_days"]) if data.get("date_shift_days") is not None
                                    else None))


@dataclass
class Settings:
    k: int
    max_below_k: float
    max_unique: float
    later_optouts_apply: bool
    date_shift_days: int = 0
    memory_limit: str = "4GB"  # DuckDB's share of a build (its temporary tables hold every row read)

    @classmethod
    def of(cls, properties: dict[str, Any]) -> Settings:
        return cls(k=int(properties.get("workspace_k", rules.DEFAULT_K)),
                   max_below_k=float(properties.get("workspace_max_below_k", rules.DEFAULT_MAX_BELOW_K)),
                   max_unique=float(properties.get("workspace_max_unique", rules.DEFAULT_MAX_UNIQUE)),
                   later_optouts_apply=bool(properties.get("workspace_later_optouts_apply", True)),
                   date_shift_days=int(properties.get("workspace_date_shift_days", 0)),
                   memory_limit=str(properties.get("workspace_memory_limit") or MEMORY_LIMIT))


def shift_days(plan: Plan, settings: Settings) -> int:
    """The bound N of the per-person date shift (0: no shifting): the permit's ``data.date_shift_days`` when it
    has one, else the hub's ``workspace_date_shift_days`` (default 0); at most ``rules.MAX_SHIFT_DAYS``."""
    n = plan.date_shift_days if plan.date_shift_days is not None else settings.date_shift_days
    if not 0 <= n <= rules.MAX_SHIFT_DAYS:
        raise Refused(f"workspace: a date shift of {n} days is refused (0 to {rules.MAX_SHIFT_DAYS})")
    return n


@dataclass
class Recipe:
    statements: list[tuple[str, exp.Expr]] = field(default_factory=list)

    def run(self, engine: Engine, name: str, query: exp.Expr, purpose: str, *, view: bool = False) -> None:
        """Record and run ``CREATE TEMPORARY TABLE name AS query`` (a view when ``view``: a step read once,
        whose rows need not be copied)."""
        tree = exp.Create(this=exp.to_table(name), kind="VIEW" if view else "TABLE", replace=True,
                          properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=query)
        self.statements.append((purpose, tree))
        engine.execute(tree, purpose=f"workspace: {purpose}")

    def text(self, header: str) -> str:
        parts = [header]
        for purpose, tree in self.statements:
            parts.append(f"-- {purpose}\n{tree.sql(dialect='duckdb', pretty=True)};")
        return "\n\n".join(parts) + "\n"


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _text(e: exp.Expr) -> exp.Expr:
    return exp.cast(e, "VARCHAR")


def _key(name: str, table: str | None = None) -> exp.Expr:
    """A key as text without leading zeros (the same value typed differently by two schemas still joins)."""
    return exp.func("ltrim", _text(_col(name, table)), literal("0"))


def _key_typed(name: str, kind: pa.DataType | None) -> exp.Expr:
    """``_key`` (the same text) computed for the column's type: an integer's text starts with a zero only when it
    is 0, a date's only before the year 1000, so neither needs ltrim's scan of every value (most of the cost of
    the 9-key claim id; tests/unit/test_workspace_keys.py compares the two)."""
    col = _col(name)
    if kind is not None and pa.types.is_integer(kind):
        return exp.case().when(col.eq(literal(0)), literal("")).else_(_text(col))
    if kind is not None and pa.types.is_date(kind):
        return exp.case().when(col >= exp.cast(literal("1000-01-01"), "DATE"), _text(col.copy())).else_(_key(name))
    return _key(name)


def _as_date(name: str) -> exp.Expr:
    return exp.TryCast(this=_col(name), to=exp.DataType.build("DATE"))


def _label() -> exp.Expr:
    return exp.func("regexp_replace", _text(_col(SOURCE_FILE)), literal(r"\.csv$"), literal(""))


def _tbl(name: str, alias: str) -> exp.Expr:
    return exp.alias_(exp.to_table(name), alias, table=True)


# --- the opt-out register ------------------------------------------------------------------------------------

def applicable_optouts(hub: Hub, plan: Plan, settings: Settings) -> list[str]:
    """Hub pseudonyms of the objections that apply to this permit: active (not withdrawn), of scope ``all`` or
    ``research``, recorded on or before the permit's authorisation — or later too when the hub's policy says
    so (``workspace_later_optouts_apply``, default true); none under an Art 71(4) exception."""
    if plan.optout_exception:
        return []
    q = (select(OptOutPseudonym.pseudonym).join(OptOut, OptOut.id == OptOutPseudonym.optout_id)
         .where(OptOut.withdrawn_on.is_(None), OptOut.scope.in_(["all", "research"]),
                OptOut.kind == "objection"))  # a findings preference (Arts 58, 61) never removes anyone
    if not settings.later_optouts_apply:
        q = q.where(OptOut.recorded_on <= date.fromisoformat(plan.authorised_on))
    with hub.store.read() as s:
        return sorted(set(s.execute(q).scalars()))


# --- fingerprint: what makes two builds the same ---------------------------------------------------------------

def current_versions(hub: Hub, tables: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tables:
        published = published_versions(hub, t)
        if not published:
            raise Refused(f"workspace: table {t} has no published version")
        out[t] = max(v.version for v in published)
    return out


def tables_read(plan: Plan) -> list[str]:
    """The permitted tables and their parents (a child row takes its parent's person and dates)."""
    out = set(plan.tables)
    for t in plan.tables:
        spec = EVENT_TABLES.get(t)
        if spec is None:
            raise Refused(f"workspace: table {t} is not one an extract knows how to follow to its persons")
        if spec.parent:
            out.add(spec.parent)
    return sorted(out, key=lambda t: (EVENT_TABLES[t].parent is not None, t))


def fingerprint(plan: Plan, versions: dict[str, int], index_version: int, optouts: list[str],
                settings: Settings) -> str:
    held = {k: v for k, v in settings.__dict__.items() if k not in RESOURCE_SETTINGS}
    payload = {"document": plan.document, "versions": versions, "person_index": index_version,
               "optouts": hashlib.sha256("\n".join(optouts).encode()).hexdigest(), "settings": held}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def load_manifest(hub: Hub, permit_id: str, version: int | None = None) -> dict[str, Any] | None:
    return _read_json(extract_dir(hub, permit_id, version) / MANIFEST)


def save_manifest(hub: Hub, permit_id: str, manifest: dict[str, Any]) -> None:
    _write_json(extract_dir(hub, permit_id) / MANIFEST, manifest)


# --- the build ---------------------------------------------------------------------------------------------------

@dataclass
class TableOut:
    name: str
    columns: list[str]  # released columns, in order, after the surrogate columns
    coarsened: dict[str, str]
    record_key: rules.RecordKey | None
    column_keys: dict[str, str]  # released column -> kind
    event_date: str | None  # the released column dating an event (risk)
    place: str | None  # the released column placing an event (risk)
    dates: list[str] = field(default_factory=list)  # released date columns (shifted per person when shifting)
    index_days: bool = False  # the table releases DAYS_SINCE_INDEX


def _out_expressions(plan: Plan, table: str, present: set[str], shift: int = 0) -> TableOut:
    rk = rules.RECORD_KEYS.get(table)
    cols: list[str] = []
    coarsened: dict[str, str] = {}
    keys: dict[str, str] = {}
    dates: list[str] = []
    for v in plan.variables.get(table, []):
        if rules.is_internal(v) or v in rules.PERSON_COLUMNS or v not in present:
            continue
        if rk and v in rk.columns:
            continue
        qualified = f"{table}.{v}"
        if shift and v in rules.SHIFT_REMOVED:
            coarsened[qualified] = "removed (date shifting)"
            continue
        if v in rules.REMOVED_FIELDS and qualified not in plan.granted:
            coarsened[qualified] = rules.REMOVED_FIELDS[v]
            continue
        if v in rules.DATE_FIELDS:
            dates.append(v)
            if qualified not in plan.granted:
                coarsened[qualified] = f"{rules.MONTH} ({rules.SHIFTED})" if shift else rules.MONTH
            elif shift:
                coarsened[qualified] = rules.SHIFTED
        if v in rules.COLUMN_KEYS:
            keys[v] = rules.COLUMN_KEYS[v]
        cols.append(v)
    spec = EVENT_TABLES[table]
    event = spec.start if spec.start in cols else None
    place = next((p for p in rules.PLACES if p in cols), None)
    # the interval from the index event, only beside a released event date (no date information otherwise)
    index_days = spec.start is not None and (spec.start in cols or spec.end in cols)
    if index_days:
        cols.append(rules.INDEX_DAYS)
    return TableOut(table, cols, coarsened, rk, keys, event, place, dates, index_days)


def _value(plan: Plan, table: str, column: str) -> exp.Expr:
    if column in rules.DATE_FIELDS and f"{table}.{column}" not in plan.granted:
        return exp.func("strftime", _as_date(column), literal("%Y-%m"))
    if column in rules.COLUMN_KEYS:
        return _key(column)
    return _col(column)


def _month_index(column: str) -> exp.Expr:
    """A date's month as one integer (year × 12 + month − 1): what the statement fetches for a date coarsened to
    its month, written ``YYYY-MM`` afterwards (``_month_labels``) — formatting every row's date as text was a
    fifth of the permitted rows' statement (10.7M rows: 7.9 s with strftime, 6.2 s without, load 5)."""
    return exp.Sub(this=exp.Add(this=exp.Mul(this=exp.func("year", _as_date(column)), expression=literal(12)),
                                expression=exp.func("month", _as_date(column))), expression=literal(1))


def _month_label(month: int) -> str:
    """``YYYY-MM`` of a month index, as DuckDB's ``strftime(date, '%Y-%m')`` writes it (a year below 1000 padded
    to four digits, a negative one as it is)."""
    year, m = divmod(month, 12)
    return f"{year:04d}-{m + 1:02d}" if year >= 0 else f"{year}-{m + 1:02d}"


def _month_labels(months: pa.ChunkedArray) -> pa.Array:
    """The ``YYYY-MM`` text of each row's month index (null stays null): each distinct month written once."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(months.combine_chunks().cast(pa.int64()))
    labels = pa.array([_month_label(int(m)) for m in encoded.dictionary.to_pylist()], pa.string())
    return labels.take(encoded.indices)


def _offset(token: str, bound: int) -> int:
    """A person's shift, in [-bound, -1] or [1, bound] days, from their keyed per-project token."""
    v = int.from_bytes(hashlib.sha256(token.encode()).digest()[:8], "big") % (2 * bound)
    return v - bound if v < bound else v - bound + 1


class Builder:
    def __init__(self, hub: Hub, engine: Engine, plan: Plan, settings: Settings, custodian: Custodian,
                 versions: dict[str, int]) -> None:
        self.hub, self.engine, self.plan, self.settings, self.custodian = hub, engine, plan, settings, custodian
        self.versions = versions
        self.recipe = Recipe()
        self.shift = shift_days(plan, settings)
        self.implied: frozenset[str] = frozenset()  # tables whose period implies the population (bind_index)
        self.outs: dict[str, pa.Table] = {}  # each released table's rows, before surrogates (select_table)
        # the tables another table read takes its persons and dates from: their rows are kept in a table
        self.parents = frozenset(EVENT_TABLES[t].parent for t in tables_read(plan) if EVENT_TABLES[t].parent)
        self.optouts = False  # whether the register applies to anybody (bind_index)
        self.opted: dict[str, pa.Array] = {}  # each released table's opted-out persons (select_table)
        self.days: dict[str, pa.Array] = {}  # each released table's days since the index event (index_days)
        self.persons_of: dict[str, pa.DictionaryArray] = {}  # each released table's persons, dictionary-encoded
        self.key_classes: dict[str, list[surrogates.PartClass]] = {}  # record key kind -> its parts' classes
        self.qi: list[str] = []  # the released quasi-identifiers (person_summary)

    # the persons: links, population, opt-outs
    def bind_index(self, optouts: list[str]) -> int:
        run = require_latest(self.hub)
        self.optouts = bool(optouts)
        for name in ("links", "index"):
            meta = run.files[name]
            key = self.custodian.unwrap(meta["key_id"], meta["wrapped"])
            self.engine.add_parquet_key(f"k_ws_{name}", key)
            self.engine.bind(f"ws_{name}_file", parquet_source([self.hub.home / meta["path"]], f"k_ws_{name}"),
                             SourceBinding(f"ws_{name}_file", "parquet", str(meta["path"]), {"key_id": meta["key_id"]}))
        anchors = [t for t in tables_read(self.plan) if not EVENT_TABLES[t].parent]
        self.recipe.run(self.engine, "ws_links", exp.select(
            _col("_table"), exp.alias_(exp.cast(_col("_row"), "BIGINT"), "_row"),
            exp.alias_(_text(_col("person_id")), "person_id")).from_("ws_links_file").where(exp.and_(
                _col("person_id").is_(exp.null()).not_(), _col("logical").isin(*[literal(t) for t in anchors]))),
            "the person index's links of the tables read")
        optout_q = exp.select(exp.alias_(_text(_col("person_id")), "person_id")).distinct().from_("ws_index_file")
        if optouts:
            optout_q = optout_q.where(exp.and_(_col("person_id").is_(exp.null()).not_(),
                                               _text(_col("key")).isin(*[literal(p) for p in optouts])))
        else:
            optout_q = optout_q.where(exp.false())
        # the pseudonyms are data, not recipe: the recipe records the shape of the step only
        self.engine.execute(exp.Create(this=exp.to_table("ws_optout"), kind="TABLE", replace=True,
                                       properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
                                       expression=optout_q), purpose="workspace: opted-out persons",
                            record=False)
        self.recipe.statements.append(("opted-out persons (the register's pseudonyms through the person index)",
                                       exp.Create(this=exp.to_table("ws_optout"), kind="TABLE", replace=True,
                                                  expression=exp.select(_col("person_id")).from_("ws_index_file")
                                                  .where(_col("key").isin(literal("<register>"))))))
        self.implied = self._population_implied(run)
        if self.plan.criteria is not None and not all(t in self.implied for t in self.plan.tables):
            bind_population(self.hub, self.engine, self.plan.criteria)
            self.recipe.run(self.engine, "ws_pop", exp.select(
                exp.alias_(_text(_col("person_id")), "person_id")).from_(
                population_query(self.plan.criteria).subquery("p")), "the permitted population (criteria)")
        return int(run.version)

    def _population_implied(self, run: Any) -> frozenset[str]:
        """The permitted tables whose rows kept by the period are all of persons of the population, so that
        the population need not be computed for them: when the criteria is one ``period`` leaf (the persons
        with a claim or a stay meeting its window), the permit's period lies within that window, and the table
        is a claim or a stay table or a child of one (its rows take their parent's person and dates), read at
        the version the criteria would read — a kept row is then itself an event of its person in the window.
        """
        node: Any = self.plan.criteria
        while isinstance(node, dict) and len(node) == 1:  # "all" or "any" of one criterion is that criterion
            inner = node.get("all") or node.get("any")
            if not isinstance(inner, list) or len(inner) != 1:
                break
            node = inner[0]
        if not isinstance(node, dict) or set(node) != {"period"} or not isinstance(node["period"], dict):
            return frozenset()
        window, period = node["period"], self.plan.period
        for bound, mine, inside in (("from", period.get("start"), lambda w, p: p >= w),
                                    ("to", period.get("end"), lambda w, p: p <= w)):
            if bound in window and (mine is None or not inside(date.fromisoformat(str(window[bound])),
                                                                 date.fromisoformat(str(mine)))):
                return frozenset()
        linked_from = {str(k): int(v) for k, v in dict((run.summary or {}).get("versions", {})).items()}
        out = set()
        for t in self.plan.tables:
            anchor = EVENT_TABLES[t].parent or t
            if anchor not in PERIOD_TABLES or anchor not in self.versions:
                continue
            published = {v.version for v in published_versions(self.hub, anchor)}
            read_by_criteria = linked_from.get(anchor) if linked_from.get(anchor) in published else max(published)
            if read_by_criteria == self.versions[anchor]:
                out.add(t)
        return frozenset(out)

    def read_table(self, table: str) -> TableOut:
        spec = EVENT_TABLES[table]
        published = {v.version: v for v in published_versions(self.hub, table)}
        if self.versions[table] not in published:
            raise Refused(f"workspace: version {self.versions[table]} of {table} is no longer published")
        info = published[self.versions[table]]
        rel = open_info(self.hub, self.engine, info, view=f"ws_src_{table}")
        present = set(info.columns) or {f.name for f in (rel.schema.fields if rel.schema else ())}
        out = _out_expressions(self.plan, table, present, self.shift) if table in self.plan.tables else \
            TableOut(table, [], {}, rules.RECORD_KEYS.get(table), {}, None, None)
        need: set[str] = set(out.columns) - {rules.INDEX_DAYS}
        if out.record_key:
            need.update(c for c in out.record_key.columns if c in present)
        if spec.parent:
            need.update(c for c in spec.keys if c in present)
        cols: list[exp.Expr] = [exp.alias_(_col(c), c, quoted=True) for c in sorted(need)]
        if not spec.parent:
            cols += [exp.alias_(_as_date(spec.start) if spec.start in present else exp.cast(exp.Null(), "DATE"),
                                "_ev_start"),
                     exp.alias_(_as_date(spec.end) if spec.end in present else exp.cast(exp.Null(), "DATE"),
                                "_ev_end")]
        cols += [exp.alias_(_label(), "_label"), exp.alias_(exp.cast(_col(SOURCE_ROW), "BIGINT"), "_row"),
                 exp.alias_(exp.func("nullif", exp.RegexpExtract(this=_label(), expression=literal(
                     r"T_[A-Z]{3}([0-9]{2})[A-Z]+$"), group=literal(1)), literal("")), "_year")]
        self.recipe.run(self.engine, f"ws_raw_{table}", exp.select(*cols).from_(rel.view),
                        f"read {table} v{info.version} (published)", view=True)
        if spec.parent is None:
            q = (exp.select(exp.alias_(_col("person_id", "l"), "_person"), exp.column(exp.Star(), table="r"))
                 .from_(_tbl(f"ws_raw_{table}", "r"))
                 .join(_tbl("ws_links", "l"), join_type="inner", on=exp.and_(
                     _col("_table", "l").eq(_col("_label", "r")), _col("_row", "l").eq(_col("_row", "r")))))
        else:
            conds: list[exp.Expr] = [_key(k, "c").eq(_key(k, "p")) for k in spec.keys]
            if spec.same_year:
                conds.append(exp.NullSafeEQ(this=_col("_year", "c"), expression=_col("_year", "p")))
            q = (exp.select(_col("_person", "p"), _col("_ev_start", "p"), _col("_ev_end", "p"),
                            exp.column(exp.Star(), table="c"))
                 .from_(_tbl(f"ws_raw_{table}", "c"))
                 .join(_tbl(f"ws_rows_{spec.parent}", "p"), join_type="inner", on=exp.and_(*conds)))
        # a view when only the permitted rows' statement reads it (once: a table would copy every row read); a
        # table for a parent, which its children's statements read again: a view would scan the encrypted file
        # again in each, and DuckDB 2.0.1 misreads encrypted Parquet scanned twice in one query
        # (engine/connection.py)
        self.recipe.run(self.engine, f"ws_rows_{table}", q, f"{table}: each row's person through the person index",
                        view=table not in self.parents)
        return out

    @staticmethod
    def _in(table: str) -> exp.Expr:
        """The row's person is in ``table`` (a correlated EXISTS: DuckDB runs it as a semi join, several times
        faster than ``IN (subquery)``, whose NULL semantics force a mark join)."""
        return exp.Exists(this=exp.select(literal(1)).from_(table).where(
            _col("person_id", table).eq(_col("_person"))))

    def _persons_kept(self, table: str, *, optouts: bool = True) -> list[exp.Expr]:
        conds: list[exp.Expr] = [exp.Not(this=self._in("ws_optout"))] if optouts else []
        if self.plan.criteria is not None and table not in self.implied:
            conds.append(self._in("ws_pop"))
        return conds

    def _keep(self, table: str, *, optouts: bool = True) -> exp.Expr:
        conds = self._persons_kept(table, optouts=optouts)
        start, end = self.plan.period.get("start"), self.plan.period.get("end")
        if start:
            conds.append(exp.func("coalesce", _col("_ev_end"), _col("_ev_start")) >= exp.cast(literal(start), "DATE"))
        if end:
            conds.append(_col("_ev_start") <= exp.cast(literal(end), "DATE"))
        return exp.and_(*conds) if conds else exp.true()

    def person_summary(self, outs: list[TableOut]) -> None:
        """One row a kept person, from one pass over the permitted rows fetched (``ws_out_*``: exactly the rows
        kept), for every measure that needs the person's rows: their index event — their first event (start date)
        in the permitted dated tables, population and period (the criteria language has no index event of its
        own) —, their quasi-identifiers (the smallest value of each, over the tables releasing one), and their
        first three (date, place) events (``risk``). A person's row is one group of one hash aggregate, instead
        of one aggregate over every row for each measure."""
        self.qi = sorted({c for o in outs for c in o.columns if c in rules.QUASI_IDENTIFIERS})
        union: exp.Query | None = None
        for o in outs:
            has_qi = any(c in o.columns for c in self.qi)
            cols: list[exp.Expr] = [
                _col("_person"),
                exp.alias_(_col("_ev_start") if self._dated(o.name) else exp.cast(exp.Null(), "DATE"), "_ev_start"),
                exp.alias_(exp.true() if has_qi else exp.false(), "_has_qi"),
                *[exp.alias_(_text(_col(c)) if c in o.columns else exp.cast(exp.Null(), "VARCHAR"), c, quoted=True)
                  for c in self.qi]]
            if o.event_date:
                # "date chr(1) place": chr(1) sorts before any character of a date, so that their order is the
                # (date, place) order
                item: exp.Expr = exp.func("concat", _text(_col(o.event_date)), exp.func("chr", literal(1)),
                                          exp.func("coalesce", _text(_col(o.place)) if o.place else
                                                   exp.cast(exp.Null(), "VARCHAR"), literal("")))
                cols.append(exp.alias_(exp.If(this=_col(o.event_date).is_(exp.null()).not_(), true=item,
                                              false=exp.cast(exp.Null(), "VARCHAR")), "_seq"))
            else:
                cols.append(exp.alias_(exp.cast(exp.Null(), "VARCHAR"), "_seq"))
            q = exp.select(*cols).from_(f"ws_out_{o.name}")
            union = q if union is None else exp.union(union, q, distinct=False)
        assert union is not None
        # each person's first three events: the three smallest sequence items, by DuckDB's top-n aggregate
        # ``min(x, 3)``, which keeps three values a person instead of sorting every event
        query = exp.select(
            _col("_person"), exp.alias_(exp.Min(this=_col("_ev_start")), "_index"),
            exp.alias_(exp.Anonymous(this="bool_or", expressions=[_col("_has_qi")]), "_has_qi"),
            *[exp.alias_(exp.Min(this=_col(c)), c, quoted=True) for c in self.qi],
            exp.alias_(exp.func("list_sort", exp.Anonymous(this="min", expressions=[_col("_seq"), literal(3)])), "_s"),
        ).from_(union.subquery("u")).group_by(_col("_person"))
        self.recipe.run(self.engine, "ws_persons", query, "each kept person: index event, quasi-identifiers, first "
                        "three events (over the permitted rows fetched)")

    def person_count(self) -> int:
        q = exp.select(exp.Count(this=exp.Star())).from_("ws_persons")
        return int(self.engine.fetch_all(q, purpose="workspace: persons")[0][0])

    def index_days(self, outs: list[TableOut]) -> None:
        """Each row's days since its person's index event (``ws_persons``), from the exact dates (before
        coarsening)."""
        if not any(o.index_days for o in outs):
            return
        index = self.engine.arrow_table(exp.select(_col("_person"), _col("_index")).from_("ws_persons"),
                                        purpose="workspace: each person's index event")
        import pyarrow.compute as pc

        for o in outs:
            if not o.index_days:
                continue
            # the same as the statement recorded below, computed over the fetched rows by Arrow: each row's
            # person (dictionary-encoded once, for the surrogates too) looked up among the index events
            self.recipe.statements.append((f"{o.name}: days since the person's index event, from the exact dates "
                                           "(computed over the fetched rows, in their order, with Arrow)", exp.select(
                exp.alias_(exp.Sub(this=_col("_ev_start", "r"), expression=_col("_index", "i")), rules.INDEX_DAYS))
                .from_(_tbl(f"ws_out_{o.name}", "r")).join(_tbl("ws_persons", "i"), join_type="left",
                                                          on=_col("_person", "r").eq(_col("_person", "i")))))
            persons = self._persons(o.name)
            at = pc.index_in(persons.dictionary, value_set=index.column("_person"))
            first = index.column("_index").combine_chunks().take(at).take(persons.indices)
            start = self.outs[o.name].column("_ev_start").combine_chunks()
            self.days[o.name] = pc.subtract(start.cast(pa.int32()), first.cast(pa.int32())).cast(pa.int64())

    def _persons(self, table: str) -> pa.DictionaryArray:
        """The persons of a table's permitted rows, dictionary-encoded (computed once)."""
        import pyarrow.compute as pc

        if table not in self.persons_of:
            self.persons_of[table] = pc.dictionary_encode(self.outs[table].column("_person").combine_chunks())
        return self.persons_of[table]

    @staticmethod
    def _dated(table: str) -> bool:
        return EVENT_TABLES[table].start is not None or EVENT_TABLES[table].parent is not None

    def _types(self, table: str) -> dict[str, pa.DataType]:
        return {f.name: f.type for f in self.engine.arrow_table(
            exp.select("*").from_(f"ws_rows_{table}").where(exp.false()),
            purpose=f"workspace: the columns of {table}").schema}

    def record_key_classes(self, outs: list[TableOut]) -> None:
        """Each record key kind's parts' classes (integer, date, text) for its canonical encoding, the same in
        every released table that has the kind (``surrogates.shared_classes``)."""
        found: dict[str, list[list[surrogates.PartClass]]] = {}
        for o in outs:
            if o.record_key is None:
                continue
            types = self._types(o.name)
            classes = [surrogates.part_class(types.get(c)) for c in o.record_key.columns]
            if o.record_key.same_year:
                classes.append("text")
            found.setdefault(o.record_key.kind, []).append(classes)
        self.key_classes = {kind: surrogates.shared_classes(c) for kind, c in found.items()}

    def select_table(self, out: TableOut) -> None:
        table = out.name
        has_dates = self._dated(table)
        rk = out.record_key
        source = f"ws_rows_{table}"
        cols: list[exp.Expr] = [_col("_person")]
        if rk:
            # the record key's parts, typed: their canonical encoding and its surrogate are computed from the
            # fetched values (released), no text of the key made for every row
            types = self._types(table)
            classes = self.key_classes[rk.kind]
            for i, c in enumerate([*rk.columns, *(["_year"] if rk.same_year else [])]):
                value: exp.Expr = _col(c) if classes[i] != "text" else (
                    _col(c) if c == "_year" else _key_typed(c, types.get(c)))
                cols.append(exp.alias_(value, f"_rk{i}"))
        months = [c for c in out.columns if c in rules.DATE_FIELDS and f"{table}.{c}" not in self.plan.granted]
        cols += [exp.alias_(_month_index(c) if c in months else _value(self.plan, table, c), c, quoted=True)
                 for c in out.columns if c != rules.INDEX_DAYS]
        if has_dates:  # the index events and the days since them (index_days)
            cols.append(_col("_ev_start"))
        if self.shift:  # the exact dates, shifted per person (then coarsened) when the extract is written
            cols += [exp.alias_(_as_date(c), f"_exact_{c}", quoted=True) for c in out.dates]
        if self.optouts:
            # the rows of opted-out persons are marked, not filtered out by the statement: they are counted
            # (excluded) and removed from the fetched rows, so that no second pass over the rows counts them
            cols.append(exp.alias_(self._in("ws_optout"), "_opted_out"))
        undated = self._persons_kept(table, optouts=False)
        keep = (self._keep(table, optouts=False) if has_dates else exp.and_(*undated) if undated else exp.true())
        # fetched once as Arrow (what the writing needs) and given to DuckDB under the step's name for the counts
        # and the risk (it scans the Arrow buffers): no DuckDB table copied again into Arrow afterwards
        query, purpose = exp.select(*cols).from_(source).where(keep), f"{table}: the permitted rows and variables, coarsened"
        self.recipe.statements.append((purpose, exp.Create(
            this=exp.to_table(f"ws_out_{table}"), kind="TABLE", replace=True,
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=query)))
        with _timed(f"{purpose} (fetched as Arrow)"):
            rows = self.engine.arrow_table(query, purpose=f"workspace: {purpose}")
        for c in months:  # the months coarsened: written YYYY-MM, each distinct month once
            rows = rows.set_column(rows.schema.get_field_index(c), c, _month_labels(rows.column(c)))
        if months:
            self.recipe.statements.append((f"{table}: the months written YYYY-MM (by Arrow over the fetched rows, "
                                           "each distinct month once, as strftime writes them)", exp.select(
                *[exp.alias_(exp.func("strftime", exp.func("make_date", exp.func("floor", exp.Div(
                    this=_col(c), expression=literal(12))), exp.Mod(this=_col(c), expression=literal(12)) + literal(1),
                    literal(1)), literal("%Y-%m")), c, quoted=True) for c in months]).from_(f"ws_out_{table}")))
        if self.optouts:
            import pyarrow.compute as pc

            opted = rows.column("_opted_out")
            self.opted[table] = pc.unique(rows.column("_person").filter(opted))
            rows = rows.filter(pc.invert(opted)).drop_columns(["_opted_out"])
            self.recipe.statements.append((f"{table}: the rows of opted-out persons removed (from the fetched rows)",
                                           exp.select("*").from_(f"ws_out_{table}").where(
                                               exp.Not(this=_col("_opted_out")))))
        self.outs[table] = rows
        self.engine.con.register(f"ws_out_{table}", self.outs[table])

    def excluded(self, optouts: list[str]) -> int:
        """The persons the opt-outs removed: those of the rows the permit kept (population, period) marked as
        opted out by the permitted rows' statement."""
        if not optouts:
            return 0  # an empty register excludes nobody
        import pyarrow.compute as pc

        found = [a for a in self.opted.values() if len(a)]
        return int(pc.count_distinct(pa.concat_arrays(found)).as_py()) if found else 0

    def table_persons(self, table: str) -> int:
        q = exp.select(exp.Count(this=exp.Distinct(expressions=[_col("_person")]))).from_(f"ws_out_{table}")
        return int(self.engine.fetch_all(q, purpose=f"workspace: persons of {table}")[0][0])

    def risk(self, outs: list[TableOut], persons: int) -> dict[str, Any]:
        """k over the quasi-identifiers (each person's smallest value of each, over the tables releasing one) and
        the share of persons unique on their first three (date, place) events, from ``ws_persons``."""
        k, qi = self.settings.k, self.qi
        below, smallest = 0, None
        if qi and persons:
            classes = exp.select(exp.alias_(exp.Count(this=exp.Star()), "n")).from_("ws_persons").where(
                _col("_has_qi")).group_by(*[_col(c) for c in qi])
            q = exp.select(exp.func("coalesce", exp.Sum(this=exp.If(this=_col("n") < literal(k), true=_col("n"),
                                                                       false=literal(0))), literal(0)),
                           exp.Min(this=_col("n"))).from_(classes.subquery("c"))
            self.recipe.statements.append(("risk: persons in classes smaller than k over the quasi-identifiers", q))
            row = self.engine.fetch_all(q, purpose="workspace: k-anonymity")[0]
            below, smallest = int(row[0]), (int(row[1]) if row[1] is not None else None)
        unique = 0
        if any(o.event_date for o in outs) and persons:
            counts = exp.select(exp.alias_(exp.Count(this=exp.Star()), "m")).from_("ws_persons").where(
                exp.func("len", _col("_s")) > literal(0)).group_by(_col("_s"))
            q = exp.select(exp.func("coalesce", exp.Sum(this=exp.If(this=_col("m").eq(literal(1)), true=literal(1),
                                                                       false=literal(0))), literal(0))
                           ).from_(counts.subquery("c"))
            self.recipe.statements.append(("risk: persons unique on their first three (date, place) events", q))
            unique = int(self.engine.fetch_all(q, purpose="workspace: unique on three events")[0][0])
        share = round(unique / persons, 4) if persons else 0.0
        return {"k": k, "records_below_k": below, "smallest_class": smallest, "quasi_identifiers": qi,
                "unique_on_3_events": share}

    # --- surrogates and writing -------------------------------------------------------------------------------
    def surrogates(self, values: pa.Array, kind: str) -> pa.Array:
        """Per-project surrogates of ``kind``: the project's pseudonym (from the custodian) of the person id,
        or of ``kind:value`` for the other kinds (one key, distinct domains). Only distinct values are sent
        (a person fills many rows), unless nearly every value is distinct (a claim's key)."""
        import pyarrow.compute as pc

        text = values.cast(pa.string())
        if kind == "person":
            encoded = pc.dictionary_encode(text)
            return self._pseudonymise(encoded.dictionary).take(encoded.indices)
        return self._pseudonymise(pc.binary_join_element_wise(pa.scalar(kind), text, ":"))

    def key_surrogates(self, kind: str, parts: list[pa.ChunkedArray]) -> pa.Array:
        """Per-project surrogates of a record key: the project's pseudonyms (the custodian's CBC-MAC under the
        project's pseudonym key) of each row's canonical encoding of its typed parts (``surrogates``)."""
        classes = self.key_classes[kind]
        out = []
        for start in range(0, len(parts[0]), BATCH):
            messages = surrogates.key_messages(kind, [p.slice(start, BATCH) for p in parts], classes)
            out.append(self.custodian.pseudonymise(messages, "project", purpose=f"extract:{self.plan.project}",
                                                   project=self.plan.project))
        return pa.concat_arrays(out) if out else pa.array([], pa.string())

    def _pseudonymise(self, text: pa.Array) -> pa.Array:
        out = []
        for start in range(0, len(text), BATCH):
            out.append(self.custodian.pseudonymise(text.slice(start, BATCH), "project",
                                                   purpose=f"extract:{self.plan.project}", project=self.plan.project))
        return pa.concat_arrays(out) if out else pa.array([], pa.string())

    def released(self, out: TableOut) -> pa.Table:
        raw = self.outs[out.name]
        persons = self._persons(out.name)
        arrays: dict[str, pa.Array | pa.ChunkedArray] = {
            rules.PERSON_OUT: self._pseudonymise(persons.dictionary.cast(pa.string())).take(persons.indices)}
        if out.record_key:
            rk = out.record_key
            # the parts as fetched (chunked): each batch's slice is made contiguous, not the whole column
            parts = [raw.column(f"_rk{i}") for i in range(len(rk.columns) + int(rk.same_year))]
            arrays[rk.out] = self.key_surrogates(rk.kind, parts)
        offsets = self.offsets(raw.column("_person").combine_chunks()) if self.shift and out.dates else None
        for c in out.columns:
            if c == rules.INDEX_DAYS:
                arrays[c] = self.days[out.name]
                continue
            col: pa.Array | pa.ChunkedArray = raw.column(c)  # as fetched: written chunk by chunk, not copied
            if offsets is not None and c in out.dates:
                col = self.shifted(raw.column(f"_exact_{c}").combine_chunks(), offsets,
                                   coarsen=f"{out.name}.{c}" not in self.plan.granted)
            arrays[c] = self.surrogates(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col,
                                        out.column_keys[c]) if c in out.column_keys else col
        assert not any(rules.is_internal(c) for c in arrays)
        return pa.table(arrays)

    def offsets(self, persons: pa.Array) -> pa.Array:
        """Each row's person's date shift in days: the same for all of a person's rows and tables, from the
        project's keys (a per-project keyed token of kind ``shift``, never released), different per project."""
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(persons.cast(pa.string()))  # one token a person, not a row
        tokens = self.surrogates(encoded.dictionary, "shift").to_pylist()
        by_person = pa.array([_offset(str(t), self.shift) if t is not None else 0 for t in tokens], pa.int32())
        return by_person.take(encoded.indices)

    @staticmethod
    def shifted(dates: pa.Array, offsets: pa.Array, *, coarsen: bool) -> pa.Array:
        import pyarrow.compute as pc

        days = pc.add(dates.cast(pa.date32()).cast(pa.int32()), offsets)
        moved = days.cast(pa.date32())
        return pc.strftime(moved, format="%Y-%m") if coarsen else moved


def _rounded(n: int) -> int:
    return int(round(n / ROUND_TO) * ROUND_TO)


def data_dictionary(hub: Hub, plan: Plan, released: list[TableOut], rows: dict[str, int], persons: dict[str, int],
                    snapshot: str, versions: dict[str, int]) -> dict[str, Any]:
    """The extract's data dictionary: each table and released variable with its catalogue description, the
    coarsening or surrogate applied, row and person counts rounded to ``ROUND_TO``, the snapshot."""
    from guichet.catalogue.tables import CatalogueVariable

    with hub.store.read() as s:
        found = s.execute(select(CatalogueVariable.table_name, CatalogueVariable.name, CatalogueVariable.description)
                          .where(CatalogueVariable.table_name.in_([o.name for o in released]))).all()
    descriptions = {(t, n): dict(d or {}) for t, n, d in found}
    tables: dict[str, Any] = {}
    for o in released:
        variables: list[dict[str, Any]] = [{"name": rules.PERSON_OUT, "description": {
            "en": "the person's pseudonym in this project only", "fr": "le pseudonyme de la personne, propre au projet"},
            "rule": "per-project surrogate (person)"}]
        if o.record_key:
            variables.append({"name": o.record_key.out, "description": {
                "en": f"the {o.record_key.kind}'s key in this project only ({', '.join(o.record_key.columns)})",
                "fr": f"la clé ({o.record_key.kind}) propre au projet ({', '.join(o.record_key.columns)})"},
                "rule": f"per-project surrogate ({o.record_key.kind})"})
        for c in o.columns:
            rule = o.coarsened.get(f"{o.name}.{c}")
            if c in o.column_keys:
                rule = f"per-project surrogate ({o.column_keys[c]})"
            description = descriptions.get((o.name, c), {})
            if c == rules.INDEX_DAYS:
                rule = "computed from the exact dates, before coarsening"
                description = {"en": "days from the person's index event (their first event in the permitted tables, "
                                     "population and period) to this row's event",
                               "fr": "jours entre l'événement index de la personne (son premier événement dans les "
                                     "tables, la population et la période permises) et l'événement de la ligne"}
            variables.append({"name": c, "description": description, "rule": rule})
        tables[o.name] = {"version": versions.get(o.name), "rows": _rounded(rows[o.name]),
                          "persons": _rounded(persons[o.name]), "variables": variables,
                          "removed": sorted(k.split(".", 1)[1] for k, r in o.coarsened.items() if r.startswith("removed"))}
    return {"permit": plan.permit, "snapshot": snapshot, "rounded_to": ROUND_TO, "tables": tables}


def write_table(custodian: Custodian, project: str, table: pa.Table, path: Path,
                unique: Iterable[str] = ()) -> dict[str, Any]:
    """Write one table of the extract under a fresh data key of the project. The ``unique`` columns (a record
    key's surrogates: one value a row) are written without a dictionary, which would hold every value
    (measured: a third of the time of the column, and a smaller file)."""
    dk = custodian.new_data_key(f"project:{project}")
    skip = set(unique)
    rows = write_encrypted_parquet(table, path, dk.key, use_dictionary=[c for c in table.column_names if c not in skip]
                                   if skip else True)
    return {"path": path.name, "rows": rows, "key_id": dk.key_id, "wrapped": dk.wrapped}


@dataclass
class Produced:
    """What one run of the recipe made: the files (in ``folder``), the answer's measures, the recipe's text."""

    files: dict[str, Any]
    counts: dict[str, int]
    persons: int
    excluded: int
    risk: dict[str, Any]
    table_persons: dict[str, int]
    released: list[TableOut]
    index_version: int
    recipe: Recipe


def produce(hub: Hub, plan: Plan, settings: Settings, versions: dict[str, int], optouts: list[str],
            custodian: Custodian, folder: Path) -> Produced:
    """Run the recipe: the extract's tables, each written as encrypted Parquet into ``folder``."""
    with Engine(EngineSettings(memory_limit=settings.memory_limit)) as engine:
        b = Builder(hub, engine, plan, settings, custodian, versions)
        index_version = b.bind_index(optouts)
        outs: dict[str, TableOut] = {}
        for t in tables_read(plan):
            outs[t] = b.read_table(t)
        released = [outs[t] for t in plan.tables]
        b.record_key_classes(released)
        for o in released:
            b.select_table(o)
        b.person_summary(released)
        b.index_days(released)
        persons = b.person_count()
        table_persons = ({o.name: b.table_persons(o.name) for o in released} if len(released) > 1
                         else {released[0].name: persons})
        excluded = b.excluded(optouts)
        risk = b.risk(released, persons)
        files: dict[str, Any] = {}
        counts: dict[str, int] = {}
        for o in released:
            with _timed(f"{o.name}: surrogates"):
                table = b.released(o)
            with _timed(f"{o.name}: encrypted write"):
                meta = write_table(custodian, plan.project, table, folder / f"{o.name}.parquet",
                                   [o.record_key.out] if o.record_key else [])
            files[o.name], counts[o.name] = meta, int(meta["rows"])
    return Produced(files, counts, persons, excluded, risk, table_persons, released, index_version, b.recipe)


def build(hub: Hub, permit_id: str, document: dict[str, Any], *, by: str) -> tuple[dict[str, Any], bool]:
    """Build (or find) the extract of a permit whose document is ``document``. Answers (result, built).

    Versions: the first build is version 1; when the lake's published versions read change (a refresh), the
    build makes the next version and keeps the previous one (``prune`` removes those no longer needed); any
    other change (the permit's revision, the opt-out register, the hub's settings) rebuilds the latest version
    in place — a correction, the previous content must not stay readable."""
    from guichet.custodian.datakeys import record_data_key
    from guichet.custodian.keys import DataKey
    from guichet.lake import snapshots

    if document.get("pseudonymisation") == "anonymised":
        raise Refused(f"permit {permit_id} is for anonymised data: no microdata extract is built")
    plan = Plan.of(permit_id, document)
    if not plan.tables:
        raise Refused(f"permit {permit_id} grants no table")
    settings = Settings.of(hub.config.properties)
    read = tables_read(plan)
    versions = current_versions(hub, read)
    run = require_latest(hub)
    optouts = applicable_optouts(hub, plan, settings)
    fp = fingerprint(plan, versions, int(run.version), optouts, settings)
    old = load_manifest(hub, permit_id)
    if old is not None and old.get("fingerprint") == fp:
        return dict(old["result"]), False
    catalogue = load_versions(hub, permit_id)
    latest = catalogue.get("latest")
    number = 1 if old is None or latest is None else (int(latest) + 1 if old.get("versions") != versions
                                                      else int(latest))

    custodian = custodian_for(hub.config, caller="workspace")
    with hub.store.write() as s:
        snap = snapshots.take(s, by)
    home = workspace_dir(hub, permit_id)
    staging = home / f".extract.staging-{secrets.token_hex(6)}"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    for left in home.glob(".extract.staging-*"):  # left by a crashed build
        shutil.rmtree(left, ignore_errors=True)
    staging.mkdir(mode=0o700)
    with _timed("the recipe run (produce)"):
        made = produce(hub, plan, settings, versions, optouts, custodian, staging)
    files, counts, persons, risk, released = made.files, made.counts, made.persons, made.risk, made.released
    with hub.store.write() as s:
        for meta in files.values():
            record_data_key(s, DataKey(meta["key_id"], meta["wrapped"], b""))
    linked_from = {str(k): int(v) for k, v in dict((run.summary or {}).get("versions", {})).items()}
    reasons = []
    stale = sorted(t for t in read if linked_from.get(t) != versions[t])
    if stale:
        reasons.append(f"the person index is older than the published versions of {', '.join(stale)}")
    below_share = risk["records_below_k"] / persons if persons else 0.0
    if below_share > settings.max_below_k:
        reasons.append(f"{risk['records_below_k']} persons are in classes smaller than k={settings.k}")
    if risk["unique_on_3_events"] > settings.max_unique:
        reasons.append(f"a share of {risk['unique_on_3_events']} persons is unique on their first three events")
    coarsened: dict[str, str] = {}
    for o in released:
        coarsened.update(o.coarsened)
    recipe_path = home / RECIPE
    dictionary_path = home / DICTIONARY
    dictionary = data_dictionary(hub, plan, released, counts, made.table_persons, snap.snapshot, versions)
    brought = load_brought(hub, permit_id)
    if brought:
        dictionary["brought"] = brought_dictionary(brought)
    result = {"permit": permit_id, "project": plan.project, "version": number, "tables": counts, "persons": persons,
              "excluded_opted_out": made.excluded, "coarsened": dict(sorted(coarsened.items())), "risk": risk,
              "status": "held" if reasons else "ready", "held_reasons": reasons,
              "snapshot": snap.snapshot, "person_index": made.index_version,
              "recipe": str(recipe_path.relative_to(hub.home)),
              "dictionary": str(dictionary_path.relative_to(hub.home))}
    header = (f"-- the recipe of permit {permit_id}'s extract v{number} (revision {document.get('revision')}); "
              f"snapshot {snap.snapshot}; versions {json.dumps(versions, sort_keys=True)}; "
              f"person index v{made.index_version}; record keys {surrogates.SCHEME}")
    manifest = {"fingerprint": fp, "result": result, "versions": versions, "files": files,
                "document_revision": document.get("revision"), "brought": brought, "record_keys": surrogates.SCHEME}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    recipe_text = made.recipe.text(header)
    (staging / RECIPE).write_text(recipe_text, encoding="utf-8")
    (staging / DICTIONARY).write_text(json.dumps(dictionary, indent=1, ensure_ascii=False), encoding="utf-8")
    target = extract_dir(hub, permit_id, number)
    target.parent.mkdir(exist_ok=True, mode=0o700)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    entry = dict(catalogue["versions"].get(str(number), {}))
    entry.update(lake=versions, snapshot=snap.snapshot, built_on=date.today().isoformat(),
                 document_revision=document.get("revision"), person_index=made.index_version)
    entry.setdefault("outputs", [])
    catalogue["versions"][str(number)] = entry
    catalogue["latest"] = number
    save_versions(hub, permit_id, catalogue)
    recipe_path.write_text(recipe_text, encoding="utf-8")  # the latest version's, where the answer says
    dictionary_path.write_text(json.dumps(dictionary, indent=1, ensure_ascii=False), encoding="utf-8")
    return result, True


# --- versions: outputs that need them, pruning ------------------------------------------------------------------

def record_output(hub: Hub, permit_id: str, output: str, version: int | None = None) -> int:
    """Record that a released output (the airlock's, once built) was made from an extract version: that
    version is then kept by ``prune``. Answers the version."""
    catalogue = load_versions(hub, permit_id)
    number = version or catalogue.get("latest")
    entry = catalogue["versions"].get(str(number)) if number is not None else None
    if entry is None or entry.get("pruned_on"):
        raise NotFound(f"no extract version {number} for permit {permit_id}")
    if output not in entry.setdefault("outputs", []):
        entry["outputs"].append(output)
    save_versions(hub, permit_id, catalogue)
    return int(number) if number is not None else 0


def prune(hub: Hub, permit_id: str) -> dict[str, Any]:
    """Remove the extract versions no longer needed: a version is needed while it is the latest or a recorded
    output was made from it. The removed versions stay listed (with ``pruned_on``), their recipe gone with them
    (the latest recipe, the manifest of what was read, stay)."""
    catalogue = load_versions(hub, permit_id)
    latest = catalogue.get("latest")
    if latest is None:
        raise NotFound(f"no extract for permit {permit_id}")
    removed, kept = [], []
    for key, entry in sorted(catalogue["versions"].items(), key=lambda kv: int(kv[0])):
        if entry.get("pruned_on"):
            continue
        if int(key) == int(latest) or entry.get("outputs"):
            kept.append(int(key))
            continue
        shutil.rmtree(extract_dir(hub, permit_id, int(key)), ignore_errors=True)
        entry["pruned_on"] = date.today().isoformat()
        removed.append(int(key))
    save_versions(hub, permit_id, catalogue)
    return {"permit": permit_id, "removed": removed, "kept": kept, "latest": int(latest)}


# --- re-running a recorded recipe --------------------------------------------------------------------------------

def content_hash(table: pa.Table) -> str:
    """A hash of a table's content, whatever its rows' order: the rows sorted on every column, then the Arrow
    IPC stream of the sorted table hashed."""
    import io

    if table.num_rows:
        table = table.sort_by([(c, "ascending") for c in table.column_names])
    table = table.combine_chunks()
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()


def rerun(hub: Hub, permit_id: str, document: dict[str, Any], version: int | None = None) -> dict[str, Any]:
    """Re-run a version's recorded recipe — the permit's document of the recorded revision, the recorded
    versions of the lake (its snapshot), the current opt-out register and person index — into a scratch
    folder, and compare it with the recorded extract: per table, rows and content hash."""
    manifest = load_manifest(hub, permit_id, version)
    if manifest is None:
        raise NotFound(f"no extract version {version or 'latest'} for permit {permit_id}")
    number = int(manifest["result"].get("version") or version or 1)
    plan = Plan.of(permit_id, document)
    settings = Settings.of(hub.config.properties)
    optouts = applicable_optouts(hub, plan, settings)
    custodian = custodian_for(hub.config, caller="workspace")
    recorded = _decrypt(hub, permit_id, manifest, extract_dir(hub, permit_id, number))
    home = workspace_dir(hub, permit_id)
    scratch = home / f".rerun-{secrets.token_hex(6)}"
    scratch.mkdir(mode=0o700)
    try:
        made = produce(hub, plan, settings, {k: int(v) for k, v in manifest["versions"].items()}, optouts,
                       custodian, scratch)
        again = _decrypt(hub, permit_id, {"files": made.files}, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    tables: dict[str, Any] = {}
    for name in sorted(set(recorded) | set(again)):
        a, b = recorded.get(name), again.get(name)
        ha, hb = (content_hash(a) if a is not None else None), (content_hash(b) if b is not None else None)
        tables[name] = {"rows": a.num_rows if a is not None else None,
                        "rerun_rows": b.num_rows if b is not None else None,
                        "hash": ha, "rerun_hash": hb, "same": ha == hb}
    differences = []
    if made.index_version != manifest["result"].get("person_index"):
        differences.append(f"the person index is v{made.index_version}, the extract was built on "
                           f"v{manifest['result'].get('person_index')}")
    if made.excluded != manifest["result"].get("excluded_opted_out"):
        differences.append("the opt-out register changed since the build")
    if manifest.get("record_keys") != surrogates.SCHEME:
        differences.append(f"the extract's record keys (CLAIM_ID, STAY_ID, DEATH_ID) were made by an earlier scheme "
                           f"than {surrogates.SCHEME}: they differ")
    return {"permit": permit_id, "version": number, "snapshot": manifest["result"].get("snapshot"),
            "document_revision": document.get("revision"), "versions": manifest["versions"],
            "reproduced": all(t["same"] for t in tables.values()), "tables": tables, "differences": differences}


def check_access(hub: Hub, permit_id: str, username: str | None = None) -> dict[str, Any]:
    """May the extract be read now? Checked at every read: refused once the permit expired or was revoked, and
    while it is suspended (by a decision, or no named person holds a valid attestation); with ``username``, refused unless that
    person is named on the permit and their own access is open. Answers the permit's scope."""
    from datetime import UTC, datetime

    from guichet.permits.state import permit_scope

    with hub.store.read() as s:
        scope = permit_scope(s, permit_id, datetime.now(UTC).date())
    if scope["state"] == "pending":
        raise Refused(f"permit {permit_id} is not in force yet: its extract cannot be read")
    if scope["state"] != "active":
        raise Refused(f"permit {permit_id} is {scope['state']}: its extract cannot be read")
    if username is not None and username not in scope["people"]:
        raise Refused(f"{username} has no open access to the data of permit {permit_id}")
    return scope


def _decrypt(hub: Hub, permit_id: str, manifest: dict[str, Any], folder: Path) -> dict[str, pa.Table]:
    """Decrypt an extract's files with the project's keys (callers check access first)."""
    from guichet.custodian import read_encrypted_parquet
    from guichet.errors import Conflict

    custodian = custodian_for(hub.config, caller="workspace")
    out = {}
    for name, meta in manifest["files"].items():
        try:
            key = custodian.unwrap(meta["key_id"], meta["wrapped"])
        except Conflict:
            raise Conflict(f"the extract of permit {permit_id} cannot be decrypted: its project's keys were "
                           "shredded (its recipe and manifest are kept)") from None
        out[name] = read_encrypted_parquet(folder / meta["path"], key)
    return out


def read_extract(hub: Hub, permit_id: str, username: str | None = None,
                 version: int | None = None) -> dict[str, pa.Table]:
    """The extract's tables (of ``version``, default the latest), decrypted with the project's keys — only
    while the permit's access is open (checked at each read; ``username``: a named person's own access too)."""
    check_access(hub, permit_id, username)
    manifest = load_manifest(hub, permit_id, version)
    if manifest is None:
        raise NotFound(f"no extract {'v' + str(version) if version else ''} for permit {permit_id}".replace("  ", " "))
    return _decrypt(hub, permit_id, manifest, extract_dir(hub, permit_id, version))


def read_brought(hub: Hub, permit_id: str, name: str, username: str | None = None) -> pa.Table:
    """A dataset the applicants brought, decrypted — only while the permit's access is open."""
    check_access(hub, permit_id, username)
    brought = load_brought(hub, permit_id)
    if name not in brought:
        raise NotFound(f"no brought dataset {name} in the workspace of permit {permit_id}")
    return _decrypt(hub, permit_id, {"files": {name: brought[name]}}, workspace_dir(hub, permit_id) / "brought")[name]
