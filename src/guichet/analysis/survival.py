"""Kaplan–Meier tables with their evidence: at every time point (or interval) the persons at risk, the
events and the censorings, and the survival estimate. The airlock checks every time point: a step made by
fewer events than the threshold tells who had the event when. ``interval`` groups times so that each step
gathers enough events."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import duckdb

from guichet.analysis.metadata import Cell, Metadata, write
from guichet.analysis.tables import MISSING, PERSON, Data, _check_columns, _connect, _num, _q, _write_csv
from guichet.errors import BadInput

COLUMNS = ("at_risk", "events", "censored", "survival")


def survival_table(data: Data, time: str, event: str, *, out: str | Path, group: str | None = None,
                   interval: float | None = None, person: str = PERSON,
                   con: duckdb.DuckDBPyConnection | None = None) -> Path:
    """One row per time point with an event or a censoring (or per ``interval``), per ``group``."""
    con, source = _connect(data, con)
    _check_columns(con, [time, event, person, *([group] if group else [])])
    if interval is not None and interval <= 0:
        raise BadInput("interval: a positive width")
    t = f"CAST({_q(time)} AS DOUBLE)"
    if interval:
        t = f"floor({t} / {float(interval)}) * {float(interval)}"
    grp = f"coalesce(CAST({_q(group)} AS VARCHAR), '{MISSING}')" if group else "'all'"
    sql = (f"SELECT {grp} AS grp, CAST({_q(person)} AS VARCHAR) AS p, {t} AS t, "
           f"CAST({_q(event)} AS INTEGER) <> 0 AS e FROM _src WHERE {_q(time)} IS NOT NULL ORDER BY grp, t, p")
    rows = con.execute(sql).fetchall()
    by_group: dict[str, list[tuple[str, float, bool]]] = {}
    seen: set[tuple[str, str]] = set()
    for g, p, tt, e in rows:
        if (g, p) in seen:
            raise BadInput("survival_table: one row per person (and group)")
        seen.add((g, p))
        by_group.setdefault(g, []).append((p, tt, bool(e)))
    header = [*([group] if group else []), time, *COLUMNS]
    body, cells, people = [], [], []
    row = 0
    for g in sorted(by_group):
        items = by_group[g]
        at_risk = len(items)
        surv = 1.0
        times = sorted({tt for _, tt, _ in items})
        for tt in times:
            ev = sorted(p for p, x, e in items if x == tt and e)
            ce = sorted(p for p, x, e in items if x == tt and not e)
            if at_risk:
                surv *= 1 - len(ev) / at_risk
            row += 1
            key = [*([g] if group else []), str(_num(tt))]
            body.append([*([g] if group else []), _num(tt), at_risk, len(ev), len(ce), round(surv, 6)])
            for col, value, ppl in (("at_risk", at_risk, []), ("events", len(ev), ev), ("censored", len(ce), ce),
                                    ("survival", round(surv, 6), ev)):
                persons = at_risk if col == "at_risk" else len(ppl)
                cells.append(Cell(row=row, column=col, stat=col, value=value, persons=persons,
                                  records=persons, key=key))
                people.append(ppl)
            at_risk -= len(ev) + len(ce)
    out = Path(out)
    _write_csv(out, header, body)
    meta = Metadata(helper="survival_table", parameters={"time": time, "event": event, "group": group,
                                                         "interval": interval, "person": person},
                    kind="survival", output=out.name, sha256="", code=sql,
                    dims=[*([group] if group else []), time], cells=cells, layout="long",
                    column_labels=list(COLUMNS),
                    extra={"at_risk_persons": "those of the group without an event or censoring at an earlier "
                                              "time point (not listed per cell)"}, source=source)
    write(out, meta, people)
    return out


def _finite(x: float) -> bool:
    return not (math.isnan(x) or math.isinf(x))


__all__: Sequence[str] = ("survival_table",)
