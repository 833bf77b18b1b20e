"""Run a dataset version's checks through the engine, with as few scans as possible.

- every row check of a table, every key's uniqueness and every column's completeness: ONE aggregate scan;
- uniqueness: an exact pass over colliding hashes only when the scan says there may be duplicates;
- cross-table checks sharing a (parent, keys) pair: ONE left join against a one-row-per-key parent summary;
- flow volume and drift: one GROUP BY month and one profile aggregate;
- failing row numbers (producer's and operators' view): one query per *failing* check, capped.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from guichet.engine import Engine, literal
from guichet.quality import overtime
from guichet.quality import sql as q
from guichet.quality.model import CROSS_KINDS, LEARNT_KINDS, ROW_KINDS, Check, CheckResult, RunOutcome, decide
from guichet.quality.volume import flow_anomalies, month_range
from guichet.schema import NomenclatureRef, TableSchema, resolve

REFS = Path(__file__).parent / "refs"
ROW_LIMIT = 1000  # failing row numbers kept per check
INLINE_CODES = 64  # code lists up to this size are inlined as IN (...) literals in the one-scan query


@dataclass
class TableSource:
    """A table as the runner sees it: a view in the engine, its schema and its columns' SQL types."""

    dataset: str
    version: int
    view: str
    schema: TableSchema | None
    column_types: dict[str, str]
    has_rows: bool = True  # whether _source_file/_source_row exist

    @property
    def data_columns(self) -> list[str]:
        return [c for c in self.column_types if c not in q.INTERNAL]


@dataclass
class Flagged:
    """Rows flagged by warning/blocking checks, with the checks that flagged them (for evaluation)."""

    rows: dict[tuple[str, int], set[str]] = field(default_factory=dict)

    def add(self, file: str, row: int, check_id: str) -> None:
        self.rows.setdefault((file, int(row)), set()).add(check_id)


def column_types(engine: Engine, view: str) -> dict[str, str]:
    rows = engine.fetch_all(exp.Describe(this=exp.to_table(view)), purpose=f"describe {view}")
    return {str(r[0]): str(r[1]) for r in rows}


class Runner:
    def __init__(self, engine: Engine, *, row_limit: int | None = ROW_LIMIT) -> None:
        self.engine, self.row_limit = engine, row_limit
        self._noms: dict[str, str] = {}
        self._codes: dict[str, Any] = {}

    # -- reference code lists ---------------------------------------------------------------------------------
    def nomenclature_view(self, check: Check) -> str | None:
        name = str(check.params.get("reference") or check.params.get("nomenclature"))
        if name in self._noms:
            return self._noms[name]
        if check.params.get("reference"):
            path, code_col = REFS / f"{name}.csv", None
        else:
            nom = resolve(NomenclatureRef(name))
            if nom is None:
                return None
            path, code_col = nom.path, nom.code_column
        if not path.is_file() or not name.replace("_", "").isalnum():
            return None
        with path.open(encoding="utf-8") as fh:
            header = [h.strip().strip('"') for h in fh.readline().lstrip("\ufeff").strip().split(";")]
        code_col = code_col or header[0]
        src = exp.Anonymous(this="read_csv", expressions=[
            literal(str(path)), exp.PropertyEQ(this=exp.to_identifier("delim"), expression=literal(";")),
            exp.PropertyEQ(this=exp.to_identifier("header"), expression=exp.true()),
            exp.PropertyEQ(this=exp.to_identifier("all_varchar"), expression=exp.true())])
        code = exp.Trim(this=q.col(code_col))
        view = f"nom_{name.lower()}"
        sel = exp.select(exp.alias_(code, "code"), exp.alias_(q.as_number(code.copy()), "code_num")).from_(src).distinct()
        create = exp.Create(this=exp.to_table(view), kind="TABLE", replace=True,
                            properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=sel)
        self.engine.execute(create, purpose=f"load code list {name}", record=False)
        self._noms[name] = view
        return view

    # -- the run ----------------------------------------------------------------------------------------------
    def run(self, src: TableSource, checks: Sequence[Check], *, refs: dict[str, TableSource] | None = None,
            history: dict[str, Any] | None = None, flagged: Flagged | None = None) -> RunOutcome:
        refs = refs or {}
        results: dict[str, CheckResult] = {}
        applicable = self.applicable(src, checks, refs, results)
        total, profile, scan = self.single_table(src, applicable, results, flagged)
        self.cross_table(src, applicable, refs, results, flagged)
        self.over_time(src, applicable, history or {}, profile, results)
        ordered = tuple(results[c.id] for c in checks if c.id in results)
        profile["scan_seconds"] = round(scan, 4)
        return RunOutcome(src.dataset, src.version, ordered, total, profile)

    def applicable(self, src: TableSource, checks: Sequence[Check], refs: dict[str, TableSource],
                   results: dict[str, CheckResult]) -> list[Check]:
        """The checks that can run; the others get a ``not_applicable`` result saying why."""
        out: list[Check] = []
        for c in checks:
            reason = self._not_applicable(src, c, refs)
            if reason:
                results[c.id] = _na(c, reason)
            else:
                out.append(c)
        return out

    def single_table(self, src: TableSource, checks: Sequence[Check], results: dict[str, CheckResult],
                     flagged: Flagged | None = None) -> tuple[int, dict[str, Any], float]:
        """Row checks, uniqueness and completeness: one aggregate scan (+ uniqueness and long code lists)."""
        row_checks = [c for c in checks if c.kind in ROW_KINDS]
        table_checks = [c for c in checks if c.kind in ("unique", "duplicate_row")]
        return self._scan(src, row_checks, table_checks, results, flagged)

    def cross_table(self, src: TableSource, checks: Sequence[Check], refs: dict[str, TableSource],
                    results: dict[str, CheckResult], flagged: Flagged | None = None) -> None:
        """Foreign keys, no event after death, none before birth: one join per (parent, keys)."""
        for group in _cross_groups([c for c in checks if c.kind in CROSS_KINDS]).values():
            self._cross(src, refs[group[0].params["ref"]["table"]], group, results, flagged, refs)

    def over_time(self, src: TableSource, checks: Sequence[Check], history: dict[str, Any], profile: dict[str, Any],
                  results: dict[str, CheckResult]) -> None:
        """Rows per flow month, distribution drift, column drift and learnt orders against the history."""
        for c in checks:
            if c.kind == "flow_volume":
                results[c.id] = self._flow_volume(src, c, history, profile)
            elif c.kind == "drift":
                results[c.id] = self._drift(src, c, history, profile)
        learnt = [c for c in checks if c.kind in LEARNT_KINDS]
        if learnt:
            results.update(overtime.run(self.engine, src.view, src.dataset, learnt, history, profile,
                                        int(profile.get("rows", 0)), can_sample=src.has_rows))

    def _not_applicable(self, src: TableSource, c: Check, refs: dict[str, TableSource]) -> str:
        if c.params.get("unavailable"):
            return "not applicable: nomenclature unavailable"
        missing = [x for x in c.columns if x not in src.column_types]
        if c.kind == "condition":
            missing = [x for x in q.condition_columns(str(c.params["sql"])) if x not in src.column_types]
        if missing:
            return f"not applicable: column {missing[0]} is not in this table"
        if c.kind == "nomenclature" and self.nomenclature_view(c) is None:
            return "not applicable: nomenclature unavailable"
        if c.kind in CROSS_KINDS:
            ref = c.params["ref"]
            parent = refs.get(ref["table"])
            if parent is None:
                return f"not applicable: {ref['table']} has no published version"
            need = list(ref["columns"]) + [c.params[k] for k in ("death", "birth") if k in c.params]
            gone = [x for x in need if x not in parent.column_types]
            if gone:
                return f"not applicable: column {gone[0]} is not in {ref['table']}"
        if c.kind in ("duplicate_row",) and not src.data_columns:
            return "not applicable: no data columns"
        return ""

    # -- one scan ---------------------------------------------------------------------------------------------
    def _scan(self, src: TableSource, row_checks: list[Check], table_checks: list[Check],
              results: dict[str, CheckResult], flagged: Flagged | None) -> tuple[int, dict[str, Any], float]:
        row_checks = [self._inline_codes(c) for c in row_checks]
        preds = [q.row_failure(c, nomenclature_views=self._views_for(c)) for c in row_checks]
        # long code lists: counted per distinct value in a query of their own, not joined row by row
        apart = [i for i, c in enumerate(row_checks) if c.kind == "nomenclature" and "codes" not in c.params]
        keysets = [self._keys(src, c) for c in table_checks]
        columns = src.data_columns
        folded = [p for i, p in enumerate(preds) if i not in apart]
        tree = q.combined_aggregate(src.view, folded, [], columns)
        started = time.perf_counter()
        row = self.engine.fetch_all(tree, purpose=f"quality checks of {src.dataset} v{src.version}")[0]
        counts: dict[int, int] = {}
        for i in apart:
            c = row_checks[i]
            view = self.nomenclature_view(c)
            assert view is not None  # applicable checks have their code list
            found = self.engine.fetch_all(q.nomenclature_failures(src.view, c.columns[0], view,
                                                                  bool(c.params.get("numeric"))),
                                          purpose=f"codes of {c.id}")
            counts[i] = int(found[0][0] or 0)
        uniq: list[Any] = []
        if table_checks:
            uniq = list(self.engine.fetch_all(q.unique_counts(src.view, keysets),
                                              purpose=f"uniqueness of {src.dataset} v{src.version}")[0])
        seconds = time.perf_counter() - started
        total = int(row[0])
        share = seconds / max(1, len(row_checks) + len(table_checks))
        at = 1
        for i, (c, pred) in enumerate(zip(row_checks, preds, strict=True)):
            if i in counts:
                failing = counts[i]
            else:
                failing = int(row[at])
                at += 1
            results[c.id] = self._result(src, c, total, failing, share, pred, flagged)
        for j, (c, keys) in enumerate(zip(table_checks, keysets, strict=True)):
            present, distinct = int(uniq[1 + 2 * j]), int(uniq[2 + 2 * j])
            results[c.id] = self._unique(src, c, keys, total, present, distinct, share, flagged)
        completeness = {name: int(row[at + i]) for i, name in enumerate(columns)}
        return total, {"rows": total, "completeness": completeness}, seconds

    def _inline_codes(self, c: Check) -> Check:
        """A nomenclature check whose code list is short (<= INLINE_CODES) carries the codes themselves."""
        if c.kind != "nomenclature" or "codes" in c.params:
            return c
        view = self.nomenclature_view(c)
        if view is None:
            return c
        if view not in self._codes:
            rows = self.engine.fetch_all(exp.select(exp.Count(this=exp.Star())).from_(view),
                                         purpose=f"size of code list {view}")
            listed: tuple[list[Any], list[Any]] | None = None
            if int(rows[0][0]) <= INLINE_CODES:
                found = self.engine.fetch_all(exp.select("code", "code_num").from_(view).order_by("code"),
                                              purpose=f"codes of {view}")
                listed = ([r[0] for r in found if r[0] is not None], [r[1] for r in found if r[1] is not None])
            self._codes[view] = listed
        listed = self._codes[view]
        if listed is None:
            return c
        if not c.params.get("numeric"):  # text codes: an IN list on trimmed text costs more than a GROUP BY
            return c
        return c.with_(params={**c.params, "codes": listed[1]})

    def _views_for(self, c: Check) -> dict[str, str] | None:
        if c.kind != "nomenclature":
            return None
        view = self.nomenclature_view(c)
        name = str(c.params.get("reference") or c.params.get("nomenclature"))
        if c.params.get("reference"):
            c.params.setdefault("numeric", False)
        return {name: view} if view else None

    def _keys(self, src: TableSource, c: Check) -> list[str]:
        if c.kind == "duplicate_row":
            return src.data_columns
        return list(c.columns)

    def _result(self, src: TableSource, c: Check, total: int, failing: int, seconds: float, pred: exp.Expr,
                flagged: Flagged | None) -> CheckResult:
        rows: tuple[int, ...] = ()
        truncated = False
        if failing and src.has_rows and c.flags_rows and c.severity != "info":
            if flagged is not None:
                for file, r in self.engine.fetch_all(
                        exp.select(q.col(q.SOURCE_FILE), q.col(q.SOURCE_ROW)).from_(src.view).where(pred.copy()),
                        purpose=f"rows failing {c.id}"):
                    flagged.add(str(file), int(r), c.id)
            if self.row_limit:
                found = self.engine.fetch_all(q.failing_rows(src.view, pred.copy(), self.row_limit),
                                              purpose=f"rows failing {c.id}")
                rows = tuple(sorted(int(r[0]) for r in found))
                truncated = failing > len(rows)
        return CheckResult(c.id, c.table, c.kind, c.category, c.subcategory, c.severity, c.threshold, total, failing,
                           decide(c, total, failing), seconds, c.description, "", rows, truncated)

    def _unique(self, src: TableSource, c: Check, keys: list[str], total: int, present: int, distinct: int,
                seconds: float, flagged: Flagged | None) -> CheckResult:
        failing = 0
        rows: tuple[int, ...] = ()
        truncated = False
        if distinct < present:  # maybe duplicates (or a hash collision): name them exactly
            started = time.perf_counter()
            found = self.engine.fetch_all(q.duplicate_rows(src.view, keys), purpose=f"duplicates of {c.id}")
            seconds += time.perf_counter() - started
            failing = len(found)
            if flagged is not None and c.severity != "info":
                for file, r in found:
                    flagged.add(str(file), int(r), c.id)
            limit = self.row_limit or 0
            rows = tuple(int(r[1]) for r in found[:limit])
            truncated = failing > len(rows)
        return CheckResult(c.id, c.table, c.kind, c.category, c.subcategory, c.severity, c.threshold, total, failing,
                           decide(c, total, failing), seconds, c.description, "", rows, truncated)

    # -- cross-table ------------------------------------------------------------------------------------------
    def _cross(self, src: TableSource, parent: TableSource, group: list[Check], results: dict[str, CheckResult],
               flagged: Flagged | None, refs: dict[str, TableSource] | None = None) -> None:
        first = group[0]
        ref_keys = list(first.params["ref"]["columns"])
        keys = list(first.params.get("keys") or first.columns)
        aggregates: dict[str, exp.Expr] = {}
        preds: list[exp.Expr] = []
        hospital_deaths: list[tuple[str, tuple[exp.Select, str]]] = []
        for i, c in enumerate(group):
            present = exp.and_(*[q.col(k, "c").is_(exp.null()).not_() for k in keys])
            if c.kind == "foreign_key":
                preds.append(exp.and_(present, q.col("__found", "p").is_(exp.null())))
                continue
            name = f"a{i}"
            if c.kind == "after_death":
                death = q.as_date(q.col(str(c.params["death"])))
                sentinels = [q.date_literal(v) for v in c.params.get("sentinels", [])]
                valid = exp.Case(ifs=[exp.If(this=exp.and_(death.is_(exp.null()).not_(),
                                                           exp.not_(exp.In(this=death.copy(), expressions=sentinels))
                                                           if sentinels else exp.true()),
                                             true=death.copy())])
                # every person under the key must be dead (twins share a hospital pseudonym)
                everyone = exp.Count(this=exp.Star()).eq(exp.Count(this=valid.copy()))
                aggregates[name] = exp.Case(ifs=[exp.If(this=everyone, true=exp.Max(this=valid))])
                hospital = self._hospital_deaths(c, refs or {})
                if hospital is not None and sentinels:
                    aggregates[f"{name}_s"] = exp.Max(this=exp.Case(ifs=[exp.If(this=exp.In(
                        this=death.copy(), expressions=[s.copy() for s in sentinels]), true=literal(1))],
                        default=literal(0)))
                    hospital_deaths.append((name, hospital))
                days = exp.Interval(this=literal(str(int(c.params.get("tolerance_days", 0)))), unit=exp.var("DAY"))
                event = q.as_date(q.col(c.columns[0], "c"))
                preds.append(event > exp.paren(exp.Add(this=q.col(name, "p"), expression=days)))
            else:  # before_birth: event year before the parent's birth year
                aggregates[name] = exp.Min(this=q.as_date(q.col(str(c.params["birth"])), "year"))
                event = exp.Year(this=q.as_date(q.col(c.columns[0], "c")))
                preds.append(event < q.col(name, "p"))
        text = any(_base(src.column_types.get(k)) != _base(parent.column_types.get(r))
                   for k, r in zip(keys, ref_keys, strict=True))
        keys_only = all(c.kind == "foreign_key" for c in group)  # then every check of the group is the same
        parent_q = (q.key_set(parent.view, ref_keys, text) if keys_only
                    else q.parent_summary(parent.view, ref_keys, aggregates))
        for name, (deaths, parent_key) in hospital_deaths:
            parent_q = q.with_hospital_death(parent_q, name, deaths, parent_key)
        tree = (q.fk_aggregate(src.view, parent_q, keys, text) if keys_only
                else q.cross_aggregate(src.view, parent_q, keys, ref_keys, preds, text))
        started = time.perf_counter()
        row = list(self.engine.fetch_all(tree, purpose=f"cross-table checks {src.dataset} -> {parent.dataset}")[0])
        if keys_only:
            row = [row[0]] + [row[1]] * len(group)
        seconds = (time.perf_counter() - started) / len(group)
        total = int(row[0])
        failing_any = any(int(v) for v in row[1:])
        found: list[tuple[Any, ...]] = []
        if failing_any and src.has_rows and (flagged is not None or self.row_limit):
            limit = None if flagged is not None else (self.row_limit or 0) * len(group)
            rows_q = (q.fk_rows(src.view, parent_q, keys, text) if keys_only
                      else q.cross_rows(src.view, parent_q, keys, ref_keys, preds, None, text))
            found = self.engine.fetch_all(rows_q.limit(limit) if limit else rows_q,
                                          purpose=f"rows failing cross-table checks {src.dataset}")
            if keys_only:
                found = [(r[0], r[1], *([True] * len(group))) for r in found]
        for i, c in enumerate(group):
            failing = int(row[1 + i])
            mine = [r for r in found if r[2 + i]]
            if flagged is not None and c.severity != "info":
                for r in mine:
                    flagged.add(str(r[0]), int(r[1]), c.id)
            rows = tuple(int(r[1]) for r in mine[: self.row_limit or 0])
            results[c.id] = CheckResult(c.id, c.table, c.kind, c.category, c.subcategory, c.severity, c.threshold,
                                        total, failing, decide(c, total, failing), seconds, c.description,
                                        f"against {parent.dataset} v{parent.version}", rows, failing > len(rows))

    def _hospital_deaths(self, c: Check, refs: dict[str, TableSource]) -> tuple[exp.Select, str] | None:
        """Deaths in hospital (a stay ending with a death exit mode) by patient pseudonym, when the check
        names them (``hospital``) and both hospital tables are published; else None."""
        h = c.params.get("hospital")
        if not isinstance(h, dict):
            return None
        stays, exits = refs.get(str(h.get("stays"))), refs.get(str(h.get("exits")))
        if stays is None or exits is None:
            return None
        link = [str(x) for x in h.get("link", [])]
        need_stays = [str(h["patient"]), str(h["date"]), *link]
        need_exits = [str(h["mode"]), *link]
        if any(x not in stays.column_types for x in need_stays) or any(x not in exits.column_types for x in need_exits):
            return None
        tree = q.hospital_deaths(stays.view, exits.view, str(h["patient"]), str(h["date"]), link, str(h["mode"]),
                                 [str(v) for v in h.get("modes", ["9"])])
        return tree, str(h["parent_key"])

    # -- over time --------------------------------------------------------------------------------------------
    def _flow_volume(self, src: TableSource, c: Check, history: dict[str, Any], profile: dict[str, Any]) -> CheckResult:
        started = time.perf_counter()
        found = self.engine.fetch_all(q.month_counts(src.view, c.columns[0]), purpose=f"rows per month {c.id}")
        counts = {(m.strftime("%Y-%m") if hasattr(m, "strftime") else str(m)[:7]): int(n) for m, n in found}
        profile.setdefault("months", {})[c.columns[0]] = counts
        bad = flow_anomalies(counts, history.get("months", {}).get(c.columns[0], {}),
                             float(c.params.get("min_ratio", 0.5)), float(c.params.get("max_ratio", 2.0)))
        checked = len(month_range(counts)) if counts else 0
        note = ("anomalous months: " + ", ".join(f"{m} ({why})" for m, why in bad[:6])) if bad else ""
        return CheckResult(c.id, c.table, c.kind, c.category, c.subcategory, c.severity, c.threshold, checked,
                           len(bad), "fail" if bad else "pass", time.perf_counter() - started, c.description, note)

    def _drift(self, src: TableSource, c: Check, history: dict[str, Any], profile: dict[str, Any]) -> CheckResult:
        started = time.perf_counter()
        cols = [x for x in c.columns if x in src.column_types] or [
            x for x in src.data_columns if _base(src.column_types[x]) in ("DOUBLE", "BIGINT", "INTEGER", "DECIMAL")]
        row = self.engine.fetch_all(q.numeric_profile(src.view, cols), purpose=f"profile {c.id}")[0]
        now = {name: {"mean": _f(row[1 + 3 * i]), "median": _f(row[2 + 3 * i]), "length": _f(row[3 + 3 * i])}
               for i, name in enumerate(cols)}
        profile.setdefault("numeric", {}).update(now)
        before = history.get("numeric", {})
        drifting = drift_columns(before, now, float(c.params.get("max_shift", 0.5)))
        note = ("drifting: " + ", ".join(f"{n} ({why})" for n, why in drifting)) if drifting else (
            "" if before else "no previous version to compare with")
        return CheckResult(c.id, c.table, c.kind, c.category, c.subcategory, c.severity, c.threshold,
                           len([n for n in now if n in before]), len(drifting), "fail" if drifting else "pass",
                           time.perf_counter() - started, c.description, note)


def _base(sql_type: str | None) -> str:
    return (sql_type or "").split("(")[0].upper()


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _na(c: Check, reason: str) -> CheckResult:
    return CheckResult(c.id, c.table, c.kind, c.category, c.subcategory, c.severity, c.threshold, 0, 0,
                       "not_applicable", 0.0, c.description, reason)


def _cross_groups(checks: list[Check]) -> dict[tuple[Any, ...], list[Check]]:
    groups: dict[tuple[Any, ...], list[Check]] = defaultdict(list)
    for c in checks:
        ref = c.params["ref"]
        keys = tuple(c.params.get("keys") or c.columns)
        groups[(ref["table"], tuple(ref["columns"]), keys)].append(c)
    return groups


def drift_columns(before: dict[str, Any], now: dict[str, Any], max_shift: float) -> list[tuple[str, str]]:
    out = []
    for name, stats in now.items():
        old = before.get(name)
        if not old:
            continue
        for what in ("mean", "median"):
            a, b = old.get(what), stats.get(what)
            if a is not None and b is not None and abs(a) > 1e-9:
                ratio = b / a
                if abs(ratio - 1) > max_shift:
                    out.append((name, f"{what} x{ratio:.2f}"))
                    break
        else:
            la, lb = old.get("length"), stats.get("length")
            if la is not None and lb is not None and abs(la - lb) >= 0.5:
                out.append((name, f"length {la:.1f} -> {lb:.1f}"))
    return out


def reference_date(today: dt.date) -> dt.date:
    return today
