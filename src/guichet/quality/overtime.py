"""Column drift and learnt orders: a version against the previous one, and its flow months against each other.

Two scans per table whatever its width: every column's features in one ``GROUPING SETS`` query (per flow month
when the table has one), every pair's order in one aggregate (per flow month too). What they find is kept in
the run's profile, the history of the next version:

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
from guichet.quality import sql as q
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
from guichet.quality.features import EMPTY, Feature, Pair
from guichet.quality.model import Check, CheckResult

TOP = 200  # categories kept per feature over the version
TOP_MONTH = 10  # ... and per month (plus the empty cell)
ORDERS = ("<", "=", ">")


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


def feature_profile(engine: Engine, view: str, features: Sequence[Feature], period: str | None,
                    purpose: str) -> dict[str, Any]:
    """Each feature's distribution over the version and per month (one scan)."""
    if not features:
        return {}
    rows = engine.fetch_all(q.feature_counts(view, [(f.column, f.kind) for f in features], period), purpose=purpose)
    total: dict[int, Counter[str]] = defaultdict(Counter)
    monthly: dict[int, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for k, m, v, n in rows:
        total[int(k)][str(v)] += int(n)
        if m is not None:
            monthly[int(k)][_month(m)][str(v)] += int(n)
    out: dict[str, Any] = {}
    for i, f in enumerate(features):
        whole = _dist(total[i])
        keep = [c for c in list(whole.counts)[:TOP_MONTH]] + ([EMPTY] if EMPTY in total[i] else [])
        months = {m: _dist(c, list(dict.fromkeys(keep))).to_json() for m, c in sorted(monthly[i].items())}
        out[f.key] = {"all": whole.to_json(), "months": months}
    return out


def order_profile(engine: Engine, view: str, pairs: Sequence[Pair], period: str | None,
                  purpose: str) -> dict[str, Any]:
    """Per pair: rows with the first before, equal to, after the second — over the version and per month."""
    if not pairs:
        return {}
    rows = engine.fetch_all(q.order_counts(view, [(p.first, p.second, p.unit) for p in pairs], period),
                            purpose=purpose)
    out: dict[str, Any] = {}
    for i, p in enumerate(pairs):
        whole: Counter[str] = Counter()
        months: dict[str, Any] = {}
        for row in rows:
            both, lt, gt = (int(row[2 + 3 * i + j] or 0) for j in range(3))
            c = Counter({"<": lt, "=": both - lt - gt, ">": gt})
            whole.update(c)
            if row[0] is not None and both:
                months[_month(row[0])] = Dist({k: v for k, v in c.items() if v}).to_json()
        out[p.key] = {"all": Dist({k: v for k, v in whole.items() if v}).to_json(), "months": months}
    return out


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
            seconds: float) -> CheckResult:
    failing = max((r for *_, r in found), default=0)
    if found:
        shown = "; ".join(f"{what}, {where}: {f.text()}" for what, where, f, _ in found[:4])
        more = f" (+{len(found) - 4} more)" if len(found) > 4 else ""
        note = shown + more
    else:
        note = "" if has_history else "no previous version to compare with (flow months compared with each other)"
    return CheckResult(c.id, c.table, c.kind, c.category, c.subcategory, c.severity, c.threshold, rows,
                       min(failing, rows), "fail" if found else "pass", seconds, c.description, note)


def column_drift(c: Check, profile: dict[str, Any], history: dict[str, Any], rows: int,
                 seconds: float) -> CheckResult:
    found: list[tuple[str, str, Finding, int]] = []
    before = history.get("features") or {}
    for kind in c.params.get("features", []):
        key = Feature(c.columns[0], str(kind)).key
        hits = drift_findings(profile.get("features", {}).get(key, {}), before.get(key), kind=str(kind))
        found += [(str(kind), where, f, n) for where, f, n in hits]
    return _result(c, rows, found, bool(before), seconds)


def order_drift(c: Check, profile: dict[str, Any], history: dict[str, Any], rows: int,
                seconds: float) -> CheckResult:
    found: list[tuple[str, str, Finding, int]] = []
    before = history.get("orders") or {}
    for first, second, unit in c.params.get("pairs", []):
        pair = Pair(str(first), str(second), str(unit))
        hits = drift_findings(profile.get("orders", {}).get(pair.key, {}), before.get(pair.key), orders=True)
        found += [(pair.label, where, f, n) for where, f, n in hits]
    return _result(c, rows, found, bool(before), seconds)


def run(engine: Engine, src_view: str, dataset: str, checks: Sequence[Check], history: dict[str, Any],
        profile: dict[str, Any], rows: int) -> dict[str, CheckResult]:
    """Profile the version once, keep the profile for the next version, and evaluate every drift check."""
    features = [Feature(c.columns[0], str(k)) for c in checks if c.kind == "column_drift" for k in c.params["features"]]
    period = next((str(c.params["period"]) for c in checks if c.params.get("period")), None)
    pairs = [Pair(str(a), str(b), str(u)) for c in checks if c.kind == "order_drift" for a, b, u in c.params["pairs"]]
    started = time.perf_counter()
    profile["features"] = feature_profile(engine, src_view, features, period, f"column profiles of {dataset}")
    profile["orders"] = order_profile(engine, src_view, pairs, period, f"row orders of {dataset}")
    seconds = (time.perf_counter() - started) / max(1, len(checks))
    out: dict[str, CheckResult] = {}
    for c in checks:
        if c.kind == "column_drift":
            out[c.id] = column_drift(c, profile, history, rows, seconds)
        else:
            out[c.id] = order_drift(c, profile, history, rows, seconds)
    return out

