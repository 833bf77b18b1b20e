"""One SVG per alert, written by hand (no plotting library): the readings the rule saw, what followed (drawn
apart, since the rule could not see it), the thresholds, the projection for the trend rule, and the start of
any consensus episode in view. A clinician can redo the rule's arithmetic from the picture and its caption."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np

from guichet.cgm.episodes import Episode
from guichet.cgm.readings import Subject, local_iso
from guichet.cgm.report import AlertReport
from guichet.cgm.rules import Alert
from guichet.errors import BadInput

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 40, 92
BEFORE_MIN, AFTER_MIN = 45.0, 60.0
TICK_MIN = 15.0


class _Frame:
    """Maps (seconds, mg/dL) to SVG coordinates."""

    def __init__(self, t0: float, t1: float, g0: float, g1: float) -> None:
        self.t0, self.t1, self.g0, self.g1 = t0, t1, g0, g1

    def x(self, seconds: float) -> float:
        return LEFT + (seconds - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)

    def y(self, mgdl: float) -> float:
        return TOP + (self.g1 - mgdl) / (self.g1 - self.g0) * (HEIGHT - TOP - BOTTOM)


def _polyline(points: list[tuple[float, float]], style: str) -> str:
    if len(points) < 2:
        return ""
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline points="{coords}" fill="none" {style}/>'


def _bands(f: _Frame) -> list[str]:
    out = []
    for lo, hi, colour, label in ((f.g0, 54.0, "#f4c7c3", "< 54"), (54.0, 70.0, "#fce8b2", "54-69"),
                                  (70.0, 180.0, "#e6f4ea", "70-180")):
        top, bottom = f.y(min(hi, f.g1)), f.y(max(lo, f.g0))
        out.append(f'<rect x="{LEFT}" y="{top:.1f}" width="{WIDTH - LEFT - RIGHT}" height="{bottom - top:.1f}" '
                   f'fill="{colour}"><title>{escape(label)} mg/dL</title></rect>')
    for level in (54.0, 70.0, 180.0):
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{f.y(level):.1f}" y2="{f.y(level):.1f}" '
                   'stroke="#999" stroke-width="0.5"/>')
        out.append(f'<text x="{LEFT - 4}" y="{f.y(level) + 4:.1f}" text-anchor="end" font-size="10">{level:g}</text>')
    return out


def _time_ticks(f: _Frame, offset: float) -> list[str]:
    step = TICK_MIN * 60.0
    out = []
    tick = (f.t0 // step + 1) * step
    while tick < f.t1:
        x = f.x(tick)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM + 4}" stroke="#333"/>')
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 15}" text-anchor="middle" font-size="10">'
                   f'{local_iso(tick + offset)[11:16]}</text>')
        tick += step
    return out


def alert_svg(subject: Subject, alert: Alert, title: str, episodes: Sequence[Episode]) -> str:
    """The SVG document for one alert; the axis shows the file's wall-clock times."""
    t_alert = float(subject.seconds[alert.index])
    offset = float(subject.local[alert.index]) - t_alert
    lo, hi = alert.window
    t0 = min(float(subject.seconds[lo]), t_alert - BEFORE_MIN * 60.0)
    t1 = t_alert + AFTER_MIN * 60.0
    first = int(np.searchsorted(subject.seconds, t0, side="left"))
    shown = range(first, int(np.searchsorted(subject.seconds, t1, side="right")))
    values = subject.glucose[first:shown.stop].tolist()
    f = _Frame(t0, t1, min([40.0, *values]), max([200.0, *(v + 10 for v in values)]))

    def point(i: int) -> tuple[float, float]:
        return f.x(float(subject.seconds[i])), f.y(float(subject.glucose[i]))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">',
             f"<title>{escape(title)}</title>",
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>', *_bands(f), *_time_ticks(f, offset),
             f'<text x="{LEFT}" y="20" font-size="13" font-weight="bold">{escape(title)}</text>',
             f'<text x="{LEFT - 4}" y="{TOP - 6}" text-anchor="end" font-size="10">mg/dL</text>']
    for e in episodes:
        start = float(subject.seconds[e.start])
        if t0 <= start <= t1:
            x = f.x(start)
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#b3261e" '
                         'stroke-dasharray="4 3"/>')
            parts.append(f'<text x="{x + 3:.1f}" y="{TOP + 10 + 12 * (e.level - 1)}" font-size="10" '
                         f'fill="#b3261e">level {e.level} episode starts</text>')
    seen = [point(i) for i in shown if i <= alert.index]
    after = [point(i) for i in shown if i >= alert.index]
    parts.append(_polyline(seen, 'stroke="#1a1a1a" stroke-width="1.5"'))
    parts.append(_polyline(after, 'stroke="#888" stroke-width="1.2" stroke-dasharray="3 3"'))
    for i in shown:
        x, y = point(i)
        used = lo <= i <= hi
        fill = "#1a73e8" if used else ("#1a1a1a" if i <= alert.index else "#bbb")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{3.2 if used else 2.2}" fill="{fill}"/>')
    if "projected_mgdl" in alert.inputs:
        ahead = t_alert + float(alert.inputs["projection_min"]) * 60.0
        parts.append(_polyline([point(alert.index), (f.x(ahead), f.y(float(alert.inputs["projected_mgdl"])))],
                               'stroke="#1a73e8" stroke-width="1.2" stroke-dasharray="6 3"'))
    xa = f.x(t_alert)
    parts.append(f'<line x1="{xa:.1f}" x2="{xa:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#e8710a" '
                 'stroke-width="2"/>')
    parts += _caption(alert)
    parts.append("</svg>")
    return "\n".join(p for p in parts if p) + "\n"


def _caption(alert: Alert) -> list[str]:
    items = [f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in alert.inputs.items()]
    lines = ["orange: the alert; blue dots: the readings the rule used; black: seen before it; "
             "grey dashed: what followed (not seen by the rule)"]
    lines += ["inputs: " + ", ".join(items[k:k + 4]) for k in range(0, len(items), 4)]
    return [f'<text x="{LEFT}" y="{HEIGHT - BOTTOM + 34 + 13 * n}" font-size="10">{escape(text)}</text>'
            for n, text in enumerate(lines)]


def write_alert_plots(report: AlertReport, folder: Path) -> dict[int, str]:
    """One SVG per alert in ``folder`` (alert-0001.svg...), by the alert's place in the answer's list."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"--plots {folder}: cannot create the folder ({exc.strerror})") from None
    written: dict[int, str] = {}
    for result in report.results:
        for alert in result.alerts:
            title = f"{result.subject.id}: {report.rule.name} alert at {result.subject.local_time(alert.index, ' ')}"
            path = folder / f"alert-{len(written) + 1:04d}.svg"
            path.write_text(alert_svg(result.subject, alert, title, result.episodes), encoding="utf-8")
            written[len(written)] = str(path)
    return written
