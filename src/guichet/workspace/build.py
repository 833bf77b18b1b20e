"""Building a permit's extract: its scope read from the signed permit alone, the lake's current published
versions read with their keys, rows given their person through the person index, the permitted population
(the criteria, executed) and period kept, opted-out persons removed, identifying fields coarsened, every
key replaced by a per-project surrogate, the risk measured, each table written as encrypted Parquet under
the project's key. The SQL is built with SQLGlot and recorded as the extract's recipe.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlglot import exp

from guichet.access.criteria import EVENT_TABLES, SOURCE_FILE, SOURCE_ROW, bind_population, population_query
from guichet.custodian import Custodian, custodian_for, write_encrypted_parquet
from guichet.custodian.tables import OptOut, OptOutPseudonym
from guichet.engine import Engine, SourceBinding, literal, parquet_source
from guichet.errors import NotFound, Refused
from guichet.hub import Hub
from guichet.lake import open_info, published_versions
from guichet.linkage.index import require_latest
from guichet.workspace import rules

FOLDER = "workspaces"
MANIFEST = "manifest.json"
RECIPE = "recipe.sql"
DICTIONARY = "dictionary.json"
ROUND_TO = 10  # the data dictionary's row and person counts are rounded to this
BATCH = 200_000  # values per custodian call (its bound is 500,000)


def workspace_dir(hub: Hub, permit_id: str) -> Path:
    return hub.home / FOLDER / permit_id


def extract_dir(hub: Hub, permit_id: str) -> Path:
    return workspace_dir(hub, permit_id) / "extract"


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
                   optout_exception="art_71_4" in (document.get("opt_out_exceptions") or []))


@dataclass
class Settings:
    k: int
    max_below_k: float
    max_unique: float
    later_optouts_apply: bool

    @classmethod
    def of(cls, properties: dict[str, Any]) -> Settings:
        return cls(k=int(properties.get("workspace_k", rules.DEFAULT_K)),
                   max_below_k=float(properties.get("workspace_max_below_k", rules.DEFAULT_MAX_BELOW_K)),
                   max_unique=float(properties.get("workspace_max_unique", rules.DEFAULT_MAX_UNIQUE)),
                   later_optouts_apply=bool(properties.get("workspace_later_optouts_apply", True)))


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
    payload = {"document": plan.document, "versions": versions, "person_index": index_version,
               "optouts": hashlib.sha256("\n".join(optouts).encode()).hexdigest(), "settings": settings.__dict__}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def load_manifest(hub: Hub, permit_id: str) -> dict[str, Any] | None:
    path = extract_dir(hub, permit_id) / MANIFEST
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def save_manifest(hub: Hub, permit_id: str, manifest: dict[str, Any]) -> None:
    path = extract_dir(hub, permit_id) / MANIFEST
    tmp = path.with_name(f".{MANIFEST}.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


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


def _out_expressions(plan: Plan, table: str, present: set[str]) -> TableOut:
    rk = rules.RECORD_KEYS.get(table)
    cols: list[str] = []
    coarsened: dict[str, str] = {}
    keys: dict[str, str] = {}
    for v in plan.variables.get(table, []):
        if rules.is_internal(v) or v in rules.PERSON_COLUMNS or v not in present:
            continue
        if rk and v in rk.columns:
            continue
        qualified = f"{table}.{v}"
        if v in rules.REMOVED_FIELDS and qualified not in plan.granted:
            coarsened[qualified] = rules.REMOVED_FIELDS[v]
            continue
        if v in rules.DATE_FIELDS and qualified not in plan.granted:
            coarsened[qualified] = rules.MONTH
        if v in rules.COLUMN_KEYS:
            keys[v] = rules.COLUMN_KEYS[v]
        cols.append(v)
    spec = EVENT_TABLES[table]
    event = spec.start if spec.start in cols else None
    place = next((p for p in rules.PLACES if p in cols), None)
    return TableOut(table, cols, coarsened, rk, keys, event, place)


def _value(plan: Plan, table: str, column: str) -> exp.Expr:
    if column in rules.DATE_FIELDS and f"{table}.{column}" not in plan.granted:
        return exp.func("strftime", _as_date(column), literal("%Y-%m"))
    if column in rules.COLUMN_KEYS:
        return _key(column)
    return _col(column)


class Builder:
    def __init__(self, hub: Hub, engine: Engine, plan: Plan, settings: Settings, custodian: Custodian) -> None:
        self.hub, self.engine, self.plan, self.settings, self.custodian = hub, engine, plan, settings, custodian
        self.recipe = Recipe()

    # the persons: links, population, opt-outs
    def bind_index(self, optouts: list[str]) -> int:
        run = require_latest(self.hub)
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
        if self.plan.criteria is not None:
            bind_population(self.hub, self.engine, self.plan.criteria)
            self.recipe.run(self.engine, "ws_pop", exp.select(
                exp.alias_(_text(_col("person_id")), "person_id")).from_(
                population_query(self.plan.criteria).subquery("p")), "the permitted population (criteria)")
        return int(run.version)

    def read_table(self, table: str) -> TableOut:
        spec = EVENT_TABLES[table]
        published = {v.version: v for v in published_versions(self.hub, table)}
        info = published[max(published)]
        rel = open_info(self.hub, self.engine, info, view=f"ws_src_{table}")
        present = set(info.columns) or {f.name for f in (rel.schema.fields if rel.schema else ())}
        out = _out_expressions(self.plan, table, present) if table in self.plan.tables else \
            TableOut(table, [], {}, rules.RECORD_KEYS.get(table), {}, None, None)
        need: set[str] = set(out.columns)
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
        # a table, not a view: a view would scan the encrypted file again in every query that reads it, and
        # DuckDB 2.0.1 misreads encrypted Parquet scanned twice in one query (engine/connection.py)
        self.recipe.run(self.engine, f"ws_rows_{table}", q, f"{table}: each row's person through the person index")
        return out

    @staticmethod
    def _in(table: str) -> exp.Expr:
        """The row's person is in ``table`` (a correlated EXISTS: DuckDB runs it as a semi join, several times
        faster than ``IN (subquery)``, whose NULL semantics force a mark join)."""
        return exp.Exists(this=exp.select(literal(1)).from_(table).where(
            _col("person_id", table).eq(_col("_person"))))

    def _persons_kept(self) -> list[exp.Expr]:
        conds: list[exp.Expr] = [exp.Not(this=self._in("ws_optout"))]
        if self.plan.criteria is not None:
            conds.append(self._in("ws_pop"))
        return conds

    def _keep(self) -> exp.Expr:
        conds = self._persons_kept()
        start, end = self.plan.period.get("start"), self.plan.period.get("end")
        if start:
            conds.append(exp.func("coalesce", _col("_ev_end"), _col("_ev_start")) >= exp.cast(literal(start), "DATE"))
        if end:
            conds.append(_col("_ev_start") <= exp.cast(literal(end), "DATE"))
        return exp.and_(*conds)

    def _period_only(self, table: str) -> exp.Expr:
        has_dates = EVENT_TABLES[table].start is not None or EVENT_TABLES[table].parent is not None
        conds: list[exp.Expr] = []
        if self.plan.criteria is not None:
            conds.append(self._in("ws_pop"))
        start, end = self.plan.period.get("start"), self.plan.period.get("end")
        if has_dates and start:
            conds.append(exp.func("coalesce", _col("_ev_end"), _col("_ev_start")) >= exp.cast(literal(start), "DATE"))
        if has_dates and end:
            conds.append(_col("_ev_start") <= exp.cast(literal(end), "DATE"))
        return exp.and_(*conds) if conds else exp.true()

    def select_table(self, out: TableOut) -> None:
        table = out.name
        has_dates = EVENT_TABLES[table].start is not None or EVENT_TABLES[table].parent is not None
        rk = out.record_key
        cols: list[exp.Expr] = [_col("_person")]
        if rk:
            parts: list[exp.Expr] = [exp.func("coalesce", _key(c), literal("")) for c in rk.columns]
            if rk.same_year:
                parts.append(exp.func("coalesce", _col("_year"), literal("")))
            cols.append(exp.alias_(exp.func("concat_ws", literal("|"), *parts), "_rk"))
        cols += [exp.alias_(_value(self.plan, table, c), c, quoted=True) for c in out.columns]
        keep = self._keep() if has_dates else self._keep_undated()
        self.recipe.run(self.engine, f"ws_out_{table}", exp.select(*cols).from_(f"ws_rows_{table}").where(keep),
                        f"{table}: the permitted rows and variables, coarsened")

    def _keep_undated(self) -> exp.Expr:
        return exp.and_(*self._persons_kept())

    def excluded(self, optouts: list[str]) -> int:
        if not optouts:
            return 0  # an empty register excludes nobody: no need to read every row again
        union: exp.Query | None = None
        for t in self.plan.tables:
            q = exp.select(_col("_person")).from_(f"ws_rows_{t}").where(self._period_only(t))
            union = q if union is None else exp.union(union, q, distinct=True)
        assert union is not None
        q = exp.select(exp.Count(this=exp.Distinct(expressions=[_col("_person")]))).from_(union.subquery("u")).where(
            _col("_person").isin(query=exp.select("person_id").from_("ws_optout")))
        return int(self.engine.fetch_all(q, purpose="workspace: persons excluded by opt-outs")[0][0])

    def table_persons(self, table: str) -> int:
        q = exp.select(exp.Count(this=exp.Distinct(expressions=[_col("_person")]))).from_(f"ws_out_{table}")
        return int(self.engine.fetch_all(q, purpose=f"workspace: persons of {table}")[0][0])

    def persons(self) -> int:
        union: exp.Query | None = None
        for t in self.plan.tables:
            q = exp.select(_col("_person")).from_(f"ws_out_{t}")
            union = q if union is None else exp.union(union, q, distinct=True)
        assert union is not None
        q = exp.select(exp.Count(this=exp.Distinct(expressions=[_col("_person")]))).from_(union.subquery("u"))
        return int(self.engine.fetch_all(q, purpose="workspace: persons")[0][0])

    # --- risk ------------------------------------------------------------------------------------------------
    def risk(self, outs: list[TableOut], persons: int) -> dict[str, Any]:
        k = self.settings.k
        qi = sorted({c for o in outs for c in o.columns if c in rules.QUASI_IDENTIFIERS})
        below, smallest = 0, None
        if qi and persons:
            union: exp.Query | None = None
            for o in outs:
                if not any(c in o.columns for c in qi):
                    continue
                q = exp.select(_col("_person"), *[exp.alias_(_text(_col(c)) if c in o.columns else
                                                             exp.cast(exp.Null(), "VARCHAR"), c, quoted=True) for c in qi]
                               ).from_(f"ws_out_{o.name}")
                union = q if union is None else exp.union(union, q, distinct=False)
            assert union is not None
            per_person = exp.select(_col("_person"), *[exp.alias_(exp.Min(this=_col(c)), c, quoted=True) for c in qi]
                                    ).from_(union.subquery("u")).group_by(_col("_person"))
            classes = exp.select(exp.alias_(exp.Count(this=exp.Star()), "n")).from_(per_person.subquery("pp")).group_by(
                *[_col(c) for c in qi])
            q = exp.select(exp.func("coalesce", exp.Sum(this=exp.If(this=_col("n") < literal(k), true=_col("n"),
                                                                       false=literal(0))), literal(0)),
                           exp.Min(this=_col("n"))).from_(classes.subquery("c"))
            self.recipe.statements.append(("risk: persons in classes smaller than k over the quasi-identifiers", q))
            row = self.engine.fetch_all(q, purpose="workspace: k-anonymity")[0]
            below, smallest = int(row[0]), (int(row[1]) if row[1] is not None else None)
        unique = 0
        events = [o for o in outs if o.event_date]
        if events and persons:
            union = None
            for o in events:
                assert o.event_date is not None
                q = exp.select(_col("_person"), exp.alias_(_text(_col(o.event_date)), "_d"),
                               exp.alias_(_text(_col(o.place)) if o.place else exp.cast(exp.Null(), "VARCHAR"), "_p")
                               ).from_(f"ws_out_{o.name}").where(_col(o.event_date).is_(exp.null()).not_())
                union = q if union is None else exp.union(union, q, distinct=False)
            assert union is not None
            # each person's first three events: the three smallest "date chr(1) place" strings (chr(1) sorts before any
            # character of a date, so their order is the (date, place) order) by DuckDB's top-n aggregate ``min(x, 3)``, which
            # keeps three values a person instead of sorting every event
            seq_item = exp.func("concat", _col("_d"), exp.func("chr", literal(1)),
                                exp.func("coalesce", _col("_p"), literal("")))
            seqs = exp.select(_col("_person"), exp.alias_(exp.func("list_sort", exp.Anonymous(
                this="min", expressions=[seq_item, literal(3)])), "_s")).from_(union.subquery("e")).group_by(_col("_person"))
            counts = exp.select(exp.alias_(exp.Count(this=exp.Star()), "m")).from_(seqs.subquery("s")).group_by(_col("_s"))
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

    def _pseudonymise(self, text: pa.Array) -> pa.Array:
        out = []
        for start in range(0, len(text), BATCH):
            out.append(self.custodian.pseudonymise(text.slice(start, BATCH), "project",
                                                   purpose=f"extract:{self.plan.project}", project=self.plan.project))
        return pa.concat_arrays(out) if out else pa.array([], pa.string())

    def released(self, out: TableOut) -> pa.Table:
        raw = self.engine.arrow_table(exp.select("*").from_(f"ws_out_{out.name}"), purpose=f"workspace: {out.name}")
        arrays: dict[str, pa.Array] = {rules.PERSON_OUT: self.surrogates(raw.column("_person").combine_chunks(), "person")}
        if out.record_key:
            arrays[out.record_key.out] = self.surrogates(raw.column("_rk").combine_chunks(), out.record_key.kind)
        for c in out.columns:
            col = raw.column(c).combine_chunks()
            arrays[c] = self.surrogates(col, out.column_keys[c]) if c in out.column_keys else col
        assert not any(rules.is_internal(c) for c in arrays)
        return pa.table(arrays)


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
            variables.append({"name": c, "description": descriptions.get((o.name, c), {}), "rule": rule})
        tables[o.name] = {"version": versions.get(o.name), "rows": _rounded(rows[o.name]),
                          "persons": _rounded(persons[o.name]), "variables": variables,
                          "removed": sorted(k.split(".", 1)[1] for k, r in o.coarsened.items() if r.startswith("removed"))}
    return {"permit": plan.permit, "snapshot": snapshot, "rounded_to": ROUND_TO, "tables": tables}


def write_table(custodian: Custodian, project: str, table: pa.Table, path: Path) -> dict[str, Any]:
    dk = custodian.new_data_key(f"project:{project}")
    rows = write_encrypted_parquet(table, path, dk.key)
    return {"path": path.name, "rows": rows, "key_id": dk.key_id, "wrapped": dk.wrapped}


def build(hub: Hub, permit_id: str, document: dict[str, Any], *, by: str) -> tuple[dict[str, Any], bool]:
    """Build (or find) the extract of a permit whose document is ``document``. Answers (result, built)."""
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

    custodian = custodian_for(hub.config, caller="workspace")
    with hub.store.write() as s:
        snap = snapshots.take(s, by)
    home = workspace_dir(hub, permit_id)
    staging = home / f".extract.staging-{secrets.token_hex(6)}"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    for left in home.glob(".extract.staging-*"):  # left by a crashed build
        shutil.rmtree(left, ignore_errors=True)
    staging.mkdir(mode=0o700)
    with Engine() as engine:
        b = Builder(hub, engine, plan, settings, custodian)
        index_version = b.bind_index(optouts)
        outs: dict[str, TableOut] = {}
        for t in read:
            outs[t] = b.read_table(t)
        released = [outs[t] for t in plan.tables]
        for o in released:
            b.select_table(o)
        persons = b.persons()
        excluded = b.excluded(optouts)
        risk = b.risk(released, persons)
        files: dict[str, Any] = {}
        counts: dict[str, int] = {}
        table_persons = {o.name: b.table_persons(o.name) for o in released}
        for o in released:
            meta = write_table(custodian, plan.project, b.released(o), staging / f"{o.name}.parquet")
            files[o.name], counts[o.name] = meta, int(meta["rows"])
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
    dictionary = data_dictionary(hub, plan, released, counts, table_persons, snap.snapshot, versions)
    result = {"permit": permit_id, "project": plan.project, "tables": counts, "persons": persons,
              "excluded_opted_out": excluded, "coarsened": dict(sorted(coarsened.items())), "risk": risk,
              "status": "held" if reasons else "ready", "held_reasons": reasons,
              "snapshot": snap.snapshot, "person_index": index_version,
              "recipe": str(recipe_path.relative_to(hub.home)),
              "dictionary": str(dictionary_path.relative_to(hub.home))}
    header = (f"-- the recipe of permit {permit_id}'s extract (revision {document.get('revision')}); snapshot "
              f"{snap.snapshot}; versions {json.dumps(versions, sort_keys=True)}; person index v{index_version}")
    manifest = {"fingerprint": fp, "result": result, "versions": versions, "files": files,
                "document_revision": document.get("revision")}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    recipe_text = b.recipe.text(header)
    target = extract_dir(hub, permit_id)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    recipe_path.write_text(recipe_text, encoding="utf-8")
    dictionary_path.write_text(json.dumps(dictionary, indent=1, ensure_ascii=False), encoding="utf-8")
    return result, True


def read_extract(hub: Hub, permit_id: str) -> dict[str, pa.Table]:
    """The extract's tables, decrypted with the project's keys (tests and the workspace's own readers)."""
    from guichet.custodian import read_encrypted_parquet

    manifest = load_manifest(hub, permit_id)
    if manifest is None:
        raise NotFound(f"no extract for permit {permit_id}")
    custodian = custodian_for(hub.config, caller="workspace")
    out = {}
    for name, meta in manifest["files"].items():
        key = custodian.unwrap(meta["key_id"], meta["wrapped"])
        out[name] = read_encrypted_parquet(extract_dir(hub, permit_id) / meta["path"], key)
    return out
