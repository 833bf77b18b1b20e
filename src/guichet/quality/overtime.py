"""Column drift and learnt orders: a version against the previous one, and its flow months against each other.

One scan per table whatever its width: every column's features and every pair's order in one ``GROUPING SETS``
query (per flow month when the table has one; on a sample of large versions). What it finds is kept in the
run's profile, the history of the next version:

``profile["features"][column:kind]`` = ``{"all": Dist, "months": {YYYY-MM: Dist}}`` — the 200 most frequent
categories over the version (and, per month, the 10 most frequent ones and ``∅``);
``profile["orders"][first|second|unit]`` = ``{"all": Dist, "months": {...}}`` over ``<``, ``=``, ``>``.

Both checks are warnings: a drift is a question to the producer, not a proof (a new code list, a new
extraction period, a real change in care can move a distribution), and never holds a version.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from guichet.engine import Engine
from guichet.quality import drift_sql as q
from guichet.quality.compare import (
    MAX_CATEGORIES,
    MIN_MONTH_ROWS,
    MONTH_NEW_SHARE,
    MONTH_SHIFT_SHARE,
    NEW_SHARE,
    SHIFT_SHARE,
    Dist,
    Finding,
    as_digits,
    compare,
    merge,
    period_bound,
    variable_width_digits,
)
from guichet.quality.features import EMPTY, Feature, Pair, order_pairs
from guichet.quality.model import Check, CheckResult

TOP = 200  # categories kept per feature over the version
# Larger versions are profiled on a sample of about this many rows (one in k, by a hash of the row number):
# a share of 2 %, the smallest the checks act on, is then known within 0.1 % (3 sd), a flow month of a
# 3-year delivery still has ~5,000 rows, and grouping every row of 2,000,000 by ~30 sets cost 5x a full scan
# (docs/quality.md, "Performance").
SAMPLE_ROWS = 200_000
TOP_MONTH = 10  # ... and per month (plus the empty cell)
ORDER_OF = {-1: "<", 0: "=", 1: ">"}


def _month(m: Any) -> str:
    if m is None:
        return ""
    return m.strftime("%Y-%m") if hasattr(m, "strftime") else str(m)[:7]


def _dist(counts: Counter[str], keep: Sequence[str] | None = None) -> Dist:
    if keep is None:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = dict(ranked[:TOP])
        return Dist(kept, sum(n for _, n in ranked[TOP:]), len(counts), sum(1 for n in counts.values() if n == 1))
    kept = {c: counts[c] for c in keep if counts.get(c)}
    return Dist(kept, sum(counts.values()) - sum(kept.values()))


def profile_version(engine: Engine, view: str, features: Sequence[Feature], pairs: Sequence[Pair],
                    period: str | None, purpose: str, sample: int = 1,
                    empty: Sequence[Feature] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each feature's and each pair's order distribution over the version and per month (one scan). The
    features of columns without a value (``empty``: many in a file of every schema-snds column) are not
    scanned: they are all ``∅``."""
    columns: dict[str, Any] = {}
    if not features and not pairs:
        return {f.key: {"all": Dist({EMPTY: 1}).to_json()} for f in empty}, {}
    tree = q.feature_counts(view, [(f.column, f.kind) for f in features], period, sample,
                            [(p.first, p.second, p.unit) for p in pairs])
    total: dict[int, Counter[str]] = defaultdict(Counter)
    monthly: dict[int, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for row in engine.fetch_all(tree, purpose=purpose):
        k, m, v, n = int(row[0]), row[1], row[2], int(row[-1])
        # the orders' set: one row per combination, counted for each pair that has an order
        cats = [(k, str(v))] if k < len(features) else [
            (len(features) + j, ORDER_OF[int(o)]) for j, o in enumerate(row[3:-1]) if o is not None]
        for i, c in cats:
            total[i][c] += n
            if m is not None:
                monthly[i][_month(m)][c] += n
    scanned = max((sum(c.values()) for c in total.values()), default=1)
    for f in empty:
        columns[f.key] = {"all": Dist({EMPTY: scanned}).to_json()}
    for i, f in enumerate(features):
        whole = _dist(total[i])
        keep = [c for c in list(whole.counts)[:TOP_MONTH]] + ([EMPTY] if EMPTY in total[i] else [])
        months = {m: _dist(c, list(dict.fromkeys(keep))).to_json() for m, c in sorted(monthly[i].items())}
        columns[f.key] = {"all": whole.to_json(), "months": months}
    orders: dict[str, Any] = {}
    for j, p in enumerate(pairs):  # rows with an empty cell have no order: the column's own drift says so
        i = len(features) + j
        orders[p.key] = {"all": Dist(dict(total[i])).to_json(),
                         "months": {m: Dist(dict(c)).to_json() for m, c in sorted(monthly[i].items())}}
    return columns, orders


def _dists(entry: dict[str, Any] | None) -> tuple[Dist | None, dict[str, Dist]]:
    if not entry:
        return None, {}
    return Dist.from_json(entry.get("all", {})), {m: Dist.from_json(d) for m, d in entry.get("months", {}).items()}


def _as_digits(all_: Dist, months: dict[str, Dist]) -> tuple[Dist, dict[str, Dist]]:
    return as_digits(all_), {m: as_digits(d) for m, d in months.items()}


def drift_findings(now: dict[str, Any], before: dict[str, Any] | None, *, orders: bool = False,
                   kind: str = "") -> list[tuple[str, Finding, int]]:
    """Findings ``(where, finding, rows)`` of one feature: the version against the previous one, each month
    against the same month of the previous version, and each month against the version's other months —
    each only when its reference has at most ``MAX_CATEGORIES`` categories.

    For orders only the new mass counts, and a month is not compared with the same month before: which
    order a row has depends on the period a delivery covers (a flow month of a delivery whose care ends
    earlier holds no care of that same month). When the reference is a text column of numbers written at
    their own width, every all-digit shape counts as one."""
    cur_all, cur_months = _dists(now)
    old_all, old_months = _dists(before)
    found: list[tuple[str, Finding, int]] = []

    def check(where: str, b: Dist, n: Dist, month: bool = False) -> None:
        new_share = MONTH_NEW_SHARE if month else NEW_SHARE
        shift_share = 1.01 if orders else (MONTH_SHIFT_SHARE if month else SHIFT_SHARE)
        for f in compare(b, n, new_share=new_share, shift_share=shift_share):
            found.append((where, f, round(f.mass * n.n)))

    if cur_all is None or period_bound(cur_months) or period_bound(old_months):
        return found
    if old_all is not None and old_all.n and old_all.categories <= MAX_CATEGORIES:
        against, now_all, now_months = old_all, cur_all, cur_months
        if kind == "shape" and variable_width_digits(old_all):
            (now_all, now_months), (against, old_months) = (_as_digits(cur_all, cur_months),
                                                            _as_digits(old_all, old_months))
        check("against the previous version", against, now_all)
        for m, d in now_months.items():
            same = old_months.get(m)
            if not orders and d.n >= MIN_MONTH_ROWS and same is not None and same.n >= MIN_MONTH_ROWS:
                check(f"month {m} against the same month before", same, d, month=True)
    if cur_all.categories <= MAX_CATEGORIES:
        if kind == "shape" and variable_width_digits(cur_all):
            cur_all, cur_months = _as_digits(cur_all, cur_months)
        for m, d in cur_months.items():
            rest = merge([x for k, x in cur_months.items() if k != m])
            if d.n >= MIN_MONTH_ROWS and rest.n >= MIN_MONTH_ROWS:
                check(f"month {m} against the other months", rest, d, month=True)
    return found


def _result(c: Check, rows: int, found: list[tuple[str, str, Finding, int]], has_history: bool,
            seconds: float, sample: int = 1) -> CheckResult:
    failing = min(rows, max((r for *_, r in found), default=0) * sample)
    if found:
        shown = "; ".join(f"{what}, {where}: {f.text()}" for what, where, f, _ in found[:4])
        more = f" (+{len(found) - 4} more)" if len(found) > 4 else ""
        note = shown + more + (f" (profiled on one row in {sample})" if sample > 1 else "")
    else:
        note = "" if has_history else "no previous version to compare with (flow months compared with each other)"
    return CheckResult(c.id, c.table, c.kind, c.category, c.subcategory, c.severity, c.threshold, rows,
                       failing, "fail" if found else "pass", seconds, c.description, note)


def column_drift(c: Check, profile: dict[str, Any], history: dict[str, Any], rows: int,
                 seconds: float) -> CheckResult:
    found: list[tuple[str, str, Finding, int]] = []
    before = history.get("features") or {}
    for kind in c.params.get("features", []):
        key = Feature(c.columns[0], str(kind)).key
        hits = drift_findings(profile.get("features", {}).get(key, {}), before.get(key), kind=str(kind))
        found += [(str(kind), where, f, n) for where, f, n in hits]
    return _result(c, rows, found, bool(before), seconds, int(profile.get("profile_sample", 1)))


def order_drift(c: Check, profile: dict[str, Any], history: dict[str, Any], rows: int,
                seconds: float) -> CheckResult:
    found: list[tuple[str, str, Finding, int]] = []
    before = history.get("orders") or {}
    for key in profile.get("orders", {}):
        pair = Pair(*key.split("|"))
        hits = drift_findings(profile.get("orders", {}).get(pair.key, {}), before.get(pair.key), orders=True)
        found += [(pair.label, where, f, n) for where, f, n in hits]
    return _result(c, rows, found, bool(before), seconds, int(profile.get("profile_sample", 1)))


def run(engine: Engine, src_view: str, dataset: str, checks: Sequence[Check], history: dict[str, Any],
        profile: dict[str, Any], rows: int, *, can_sample: bool = True) -> dict[str, CheckResult]:
    """Profile the version once (on a sample when it is large and its rows are numbered), keep the profile
    for the next version, and evaluate every drift check."""
    counted = profile.get("completeness")
    filled = {c for c, n in counted.items() if n} if isinstance(counted, dict) else None
    features = [Feature(c.columns[0], str(k)) for c in checks if c.kind == "column_drift" for k in c.params["features"]]
    empty = [f for f in features if filled is not None and f.column not in filled]
    period = next((str(c.params["period"]) for c in checks if c.params.get("period")), None)
    pairs = [p for c in checks if c.kind == "order_drift" for p in order_pairs(c.params["types"], filled)]
    sample = max(1, rows // SAMPLE_ROWS) if can_sample else 1
    started = time.perf_counter()
    profile["features"], profile["orders"] = profile_version(
        engine, src_view, [f for f in features if f not in empty], pairs, period, f"column profiles of {dataset}",
        sample, empty)
    if sample > 1:
        profile["profile_sample"] = sample
    seconds = (time.perf_counter() - started) / max(1, len(checks))
    out: dict[str, CheckResult] = {}
    for c in checks:
        if c.kind == "column_drift":
            out[c.id] = column_drift(c, profile, history, rows, seconds)
        elif c.kind == "order_drift":
            out[c.id] = order_drift(c, profile, history, rows, seconds)
        else:
            out[c.id] = row_count(c, rows, history)
    return out


def row_count(c: Check, rows: int, history: dict[str, Any]) -> CheckResult:
    before = int(history.get("rows") or 0)
    empty = rows == 0 and before > 0
    note = f"no rows; the previous version had {before}" if empty else (
        "" if history else "no previous version to compare with")
    return CheckResult(c.id, c.table, c.kind, c.category, c.subcategory, c.severity, c.threshold, max(rows, before),
                       before if empty else 0, "fail" if empty else "pass", 0.0, c.description, note)

