"""Care pathways over the event table: each person's sequence of care settings after the index event,
transition matrices, Sankey diagrams and Kaplan–Meier curves — every figure drawn from a table a helper wrote
(``crosstab``, ``survival_table``) and attached to it (``attach_figure``), so that the airlock checks the
table in the figure's place.

Settings: ``visit`` → ``outpatient``, ``dispensing`` → ``pharmacy``, ``stay`` → ``hospital``,
``long_term_illness`` → ``ALD``, ``death`` → ``death`` (diagnoses belong to their stay). A pathway is the
sequence of a person's settings by day, consecutive repeats collapsed, from the index event on, cut after
``steps`` settings.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from guichet.analysis.cohorts import Cohort, Compiler
from guichet.analysis.events import period_sql
from guichet.analysis.figures import attach_figure
from guichet.analysis.survival import survival_table
from guichet.analysis.tables import crosstab
from guichet.errors import BadInput

SETTINGS = {"visit": "outpatient", "dispensing": "pharmacy", "stay": "hospital",
            "long_term_illness": "ALD", "death": "death"}
COLOURS = {"outpatient": "#4e79a7", "pharmacy": "#59a14f", "hospital": "#e15759", "ALD": "#b07aa1",
           "death": "#555555", "end": "#bbbbbb"}


def _setting_case() -> str:
    return "CASE category " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in SETTINGS.items()) + " END"


def sequences_sql(comp: Compiler, cohort: Cohort, steps: int = 4) -> str:
    """SQL of (PERSON_ID, step, setting): the first ``steps`` settings of each person of ``cohort``."""
    if steps < 2:
        raise BadInput("steps: at least 2")
    ordered = (f"SELECT e.person, {comp.t} - c.t0 AS t, {_setting_case()} AS setting, "
               f"CASE category WHEN 'death' THEN 9 WHEN 'stay' THEN 1 ELSE 2 END AS rank FROM {comp.events} e "
               f"JOIN ({cohort.sql}) c ON c.person = e.person WHERE category IN "
               f"({', '.join(repr(k) for k in SETTINGS)}) AND {comp.t} - c.t0 >= 0")
    changes = ("SELECT person, t, rank, setting, lag(setting) OVER (PARTITION BY person ORDER BY t, rank, setting) "
               f"AS prev FROM ({ordered})")
    kept = ("SELECT person, setting, row_number() OVER (PARTITION BY person ORDER BY t, rank, setting) AS step "
            f"FROM ({changes}) WHERE prev IS NULL OR prev <> setting")
    return f"SELECT person AS PERSON_ID, step, setting FROM ({kept}) WHERE step <= {int(steps)}"


def transitions(con: duckdb.DuckDBPyConnection, cohort: Cohort, *, out: str | Path, steps: int = 4,
                sankey: bool = True) -> Path:
    """The transition matrix (persons moving from a setting at step k to one at step k+1, any k; ``end``
    when the pathway stops) written by ``crosstab``; with ``sankey`` an SVG drawn from it and attached."""
    comp = Compiler(con)
    seq = sequences_sql(comp, cohort, steps)
    pairs = (f"SELECT a.PERSON_ID, a.setting AS from_setting, coalesce(b.setting, 'end') AS to_setting "
             f"FROM ({seq}) a LEFT JOIN ({seq}) b ON b.PERSON_ID = a.PERSON_ID AND b.step = a.step + 1 "
             f"WHERE a.step < {int(steps)} OR b.setting IS NOT NULL")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _transitions AS {pairs}")
    out = Path(out)
    crosstab("SELECT * FROM _transitions", "from_setting", "to_setting", out=out, con=con)
    if sankey:
        svg = out.with_suffix(".svg")
        svg.write_text(sankey_svg(out), encoding="utf-8")
        attach_figure(svg, out)
    return out


def _read_wide(table: Path) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    with table.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    cols = [c for c in rows[0][1:] if c != "Total"]
    values: dict[tuple[str, str], float] = {}
    froms = []
    for r in rows[1:]:
        if r[0] == "Total":
            continue
        froms.append(r[0])
        for c, v in zip(rows[0][1:], r[1:], strict=True):
            if c != "Total" and v not in ("", None):
                try:
                    values[(r[0], c)] = float(v)
                except ValueError:
                    continue
    return froms, cols, values


def sankey_svg(table: Path, width: int = 640, height: int = 360) -> str:
    """A two-column Sankey of a transition table (CSV from ``transitions``): the hub draws it from the
    table's cells only."""
    froms, tos, values = _read_wide(table)
    total = sum(values.values()) or 1.0
    scale = (height - 20 - 8 * max(len(froms), len(tos))) / total
    left: dict[str, float] = {}
    y = 10.0
    for f in froms:
        left[f] = y
        y += sum(v for (a, _), v in values.items() if a == f) * scale + 8
    right: dict[str, float] = {}
    y = 10.0
    for t in tos:
        right[t] = y
        y += sum(v for (_, b), v in values.items() if b == t) * scale + 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           'aria-label="care pathway transitions" font-family="sans-serif" font-size="12">']
    x0, x1 = 120, width - 120
    lo, ro = dict(left), dict(right)
    for (a, b), v in sorted(values.items()):
        h = v * scale
        ya, yb = lo[a], ro[b]
        lo[a] += h
        ro[b] += h
        mid = (x0 + x1) / 2
        out.append(f'<path d="M{x0},{ya + h / 2:.1f} C{mid},{ya + h / 2:.1f} {mid},{yb + h / 2:.1f} {x1},{yb + h / 2:.1f}" '
                   f'stroke="{COLOURS.get(a, "#888")}" stroke-opacity="0.45" stroke-width="{max(h, 0.5):.1f}" fill="none">'
                   f"<title>{a} → {b}: {v:g}</title></path>")
    for name, y0 in left.items():
        h = sum(v for (a, _), v in values.items() if a == name) * scale
        out.append(f'<rect x="{x0 - 10}" y="{y0:.1f}" width="10" height="{max(h, 0.5):.1f}" fill="{COLOURS.get(name, "#888")}"/>')
        out.append(f'<text x="{x0 - 14}" y="{y0 + h / 2 + 4:.1f}" text-anchor="end">{name}</text>')
    for name, y0 in right.items():
        h = sum(v for (_, b), v in values.items() if b == name) * scale
        out.append(f'<rect x="{x1}" y="{y0:.1f}" width="10" height="{max(h, 0.5):.1f}" fill="{COLOURS.get(name, "#888")}"/>')
        out.append(f'<text x="{x1 + 14}" y="{y0 + h / 2 + 4:.1f}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def time_to_event(con: duckdb.DuckDBPyConnection, cohort: Cohort, event: dict[str, object], *, out: str | Path,
                  interval: float = 30, group: str | None = None, curve: bool = True) -> Path:
    """Kaplan–Meier of the time from the index event to the first ``event`` (a ``codes`` or ``event``
    criterion) after it, censored at the person's last event; written by ``survival_table`` (per
    ``interval`` days, so each step gathers several events) and, with ``curve``, an SVG drawn from it."""
    comp = Compiler(con)
    filt = comp._event_filter(event)
    if "during" in event:  # only the events of that calendar period count (as in a cohort's criteria)
        filt += " AND " + period_sql(event["during"], "start", '"end"', field="during")
    lo, hi, nth = _follow_up(event)
    delay = f"{comp.t} - c.t0"
    kept = f"{delay} > 0" + (f" AND {delay} >= {lo}" if lo is not None else "") + (
        f" AND {delay} <= {hi}" if hi is not None else "")
    # the n-th matching event after the index (min_count: n, default the first), within the window if one is given
    ev = (f"SELECT c.person, (list_sort(list({delay})))[{nth}] AS te FROM {comp.events} e JOIN ({cohort.sql}) c "
          f"ON c.person = e.person WHERE {filt.replace('category', 'e.category')} AND {kept} GROUP BY c.person")
    # censored at the person's last event, and at the window's end when it has one (follow-up stops there)
    tl = f"least(max({delay}), {hi})" if hi is not None else f"max({delay})"
    last = (f"SELECT c.person, {tl} AS tl FROM {comp.events} e JOIN ({cohort.sql}) c "
            "ON c.person = e.person GROUP BY c.person")
    grp = ""
    if group:
        grp = (f", (SELECT any_value(CAST({group} AS VARCHAR)) FROM IR_BEN_R b "
               f"WHERE CAST(b.PERSON_ID AS VARCHAR) = l.person) AS {group}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _tte AS SELECT l.person AS PERSON_ID, "
                f"coalesce(v.te, greatest(l.tl, 0)) AS days, (v.te IS NOT NULL)::INTEGER AS event{grp} "
                f"FROM ({last}) l LEFT JOIN ({ev}) v ON v.person = l.person")
    out = Path(out)
    survival_table("SELECT * FROM _tte", "days", "event", out=out, interval=interval, group=group, con=con)
    if curve:
        svg = out.with_suffix(".svg")
        svg.write_text(km_svg(out, group), encoding="utf-8")
        attach_figure(svg, out)
    return out


def _follow_up(event: dict[str, object]) -> tuple[int | None, int | None, int]:
    """The event criterion's window (days after the index: events outside it do not count, and follow-up
    ends at its end) and min_count (the time to the n-th such event), checked."""
    window = event.get("window") or {}
    if not isinstance(window, dict) or set(window) - {"from", "to"}:
        raise BadInput("time_to_event: window is {\"from\": days, \"to\": days}")
    bounds = [window.get("from"), window.get("to")]
    if any(b is not None and (isinstance(b, bool) or not isinstance(b, int)) for b in bounds):
        raise BadInput("time_to_event: window's from and to are whole numbers of days after the index")
    lo, hi = (int(b) if b is not None else None for b in bounds)
    if hi is not None and hi < 1:
        raise BadInput("time_to_event: window.to must be at least 1 (events after the index are counted)")
    nth = event.get("min_count", 1)
    if isinstance(nth, bool) or not isinstance(nth, int) or nth < 1:
        raise BadInput("time_to_event: min_count is a whole number, at least 1")
    return lo, hi, nth


def km_svg(table: Path, group: str | None = None, width: int = 560, height: int = 320) -> str:
    """Step curves of a survival table's ``survival`` column (per group), drawn from the CSV only."""
    with table.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    series: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        g = r[group] if group else "all"
        t = next(float(v) for k, v in r.items() if k not in (group, "at_risk", "events", "censored", "survival"))
        series.setdefault(g, []).append((t, float(r["survival"])))
    tmax = max((t for s in series.values() for t, _ in s), default=1.0) or 1.0
    pad = 40
    sx = lambda t: pad + (width - 2 * pad) * t / tmax  # noqa: E731
    sy = lambda s: height - pad - (height - 2 * pad) * s  # noqa: E731
    palette = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           'aria-label="Kaplan-Meier curve" font-family="sans-serif" font-size="12">',
           f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>',
           f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#333"/>',
           f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">days since the index event</text>']
    for i, (g, pts) in enumerate(sorted(series.items())):
        d, s = [f"M{sx(0):.1f},{sy(1):.1f}"], 1.0
        for t, v in pts:
            d.append(f"H{sx(t):.1f}V{sy(v):.1f}")
            s = v
        colour = palette[i % len(palette)]
        out.append(f'<path d="{"".join(d)}" stroke="{colour}" fill="none" stroke-width="2"><title>{g}: {s:g}</title></path>')
        out.append(f'<text x="{width - pad}" y="{pad + 14 * i}" fill="{colour}" text-anchor="end">{g}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


__all__ = ["SETTINGS", "km_svg", "sankey_svg", "sequences_sql", "time_to_event", "transitions"]
