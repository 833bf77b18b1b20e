"""The quality report: one self-contained HTML file (inline CSS and SVG, no external resource), written for
a producer who reads it without help: what was checked, what failed and how much, what to fix first.
The public report shows aggregates only; failing row numbers appear only in the producer's/operators' view.
"""

from __future__ import annotations

from html import escape
from typing import Any

from guichet.quality.store import StoredRun

CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}
.fail{color:#a40000;font-weight:600}.pass{color:#1b5e20}.na{color:#666}.box{background:#f4f4f4;padding:1rem;border-radius:.4rem}
svg text{font-size:11px;font-family:system-ui,sans-serif}"""
TOP = "<li>nothing: this is the top grade</li>"


def _bars(items: list[tuple[str, float]], *, unit: str, color: str, title: str, width: int = 640) -> str:
    if not items:
        return "<p>Nothing to chart.</p>"
    top = max(v for _, v in items) or 1.0
    h = 18
    rows = []
    for i, (name, v) in enumerate(items):
        w = int((width - 260) * v / top)
        y = i * h
        rows.append(f'<text x="0" y="{y + 12}">{escape(name[:38])}</text>'
                    f'<rect x="250" y="{y + 2}" width="{max(w, 1)}" height="{h - 5}" fill="{color}"/>'
                    f'<text x="{255 + w}" y="{y + 12}">{v:.1f}{unit}</text>')
    return (f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{h * len(items) + 4}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{"".join(rows)}</svg>')


def _line(points: list[tuple[str, int]], title: str, width: int = 640, height: int = 180) -> str:
    if not points:
        return "<p>No dated rows.</p>"
    top = max(n for _, n in points) or 1
    step = (width - 60) / max(1, len(points) - 1)
    coords = [(40 + i * step, height - 30 - (height - 50) * n / top) for i, (_, n) in enumerate(points)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    labels = "".join(f'<text x="{x - 18:.1f}" y="{height - 10}">{escape(m)}</text>'
                     for i, ((m, _), (x, _y)) in enumerate(zip(points, coords, strict=True))
                     if i % max(1, len(points) // 8) == 0)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#1f4e79"><title>{escape(m)}: {n}</title></circle>'
                   for (m, n), (x, y) in zip(points, coords, strict=True))
    return (f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
            f'<text x="0" y="12">{top} rows</text><polyline fill="none" stroke="#1f4e79" stroke-width="2" '
            f'points="{path}"/>{dots}{labels}</svg>')


def render(run: StoredRun, *, rows_visible: bool) -> str:
    failed = [r for r in run.results if r["status"] == "fail"]
    blocking = [r for r in failed if r["severity"] == "blocking"]
    verdict = ("held: blocking checks fail — fix them and deposit again, or ask an operator for an override"
               if run.blocking_failed else "no blocking failure: the version can be published")
    comp = run.profile.get("completeness", {})
    total = max(1, run.rows)
    comp_items = sorted(((c, 100.0 * n / total) for c, n in comp.items()), key=lambda x: x[1])[:40]
    fail_items = sorted(((r["id"].split(".", 1)[-1], 100.0 * r["rows_failing"] / max(1, r["rows_checked"]))
                         for r in run.results if r["rows_failing"]), key=lambda x: -x[1])[:30]
    months: dict[str, dict[str, int]] = run.profile.get("months", {})
    lines = "".join(f"<h3>Rows per month of {escape(col)}</h3>" + _line(sorted(counts.items()), f"rows per month of {col}")
                    for col, counts in months.items())
    lab = run.label
    todo = "".join(f"<li>{escape(t)}</li>" for t in lab.get("to_reach_next", []))
    body = [f"<h1>Quality report — {escape(run.dataset)} version {run.version}</h1>",
            f'<p class="box"><strong>{len(run.results)} checks, {len(failed)} failing '
            f'({len(blocking)} blocking).</strong> {escape(verdict)}. Rows checked: {run.rows:,}. '
            f'Rows quarantined at deposit: {sum(run.quarantined.values()):,}.</p>',
            "<h2>How to read this report</h2><p>Each check counts the rows that break one rule. A check "
            "<em>fails</em> when more rows break it than its threshold tolerates (a percentage of rows). "
            "<em>Blocking</em> failures stop publication; <em>warnings</em> are shown to researchers; <em>info</em> "
            "lines point at known pitfalls of the source. Fix the blocking ones first, starting from the top of "
            "the table below.</p>",
            f"<h2>Quality label: {escape(str(lab.get('grade', 'none')))}</h2>",
            f"<p>To reach <strong>{escape(str(lab.get('next_grade') or '—'))}</strong>:</p><ul>{todo or TOP}</ul>",
            "<h2>Failures per check (% of rows)</h2>",
            _bars(fail_items, unit=" %", color="#a40000", title="share of failing rows per check"),
            "<h2>Completeness per column (% of rows with a value, least complete first)</h2>",
            _bars(comp_items, unit=" %", color="#1b5e20", title="completeness per column"),
            "<h2>Rows over time</h2>", lines or "<p>No flow-month check ran on this table.</p>",
            "<h2>Every check</h2><table><tr><th>check</th><th>category</th><th>severity</th><th>threshold %</th>"
            "<th>rows checked</th><th>rows failing</th><th>status</th><th>what it means</th></tr>"]
    order = {"fail": 0, "pass": 1, "not_applicable": 2}
    sev = {"blocking": 0, "warning": 1, "info": 2}
    for r in sorted(run.results, key=lambda r: (order.get(r["status"], 3), sev.get(r["severity"], 3), r["id"])):
        cls = {"fail": "fail", "pass": "pass"}.get(r["status"], "na")
        extra = f" <small>({escape(r['note'])})</small>" if r.get("note") else ""
        if rows_visible and r.get("failing_rows"):
            shown = ", ".join(str(n) for n in r["failing_rows"][:20])
            extra += f"<br><small>rows of your file: {shown}{' …' if len(r['failing_rows']) > 20 else ''}</small>"
        body.append(f"<tr><td>{escape(r['id'])}</td><td>{escape(r['category'])}</td><td>{escape(r['severity'])}</td>"
                    f"<td>{r['threshold']:g}</td><td>{r['rows_checked']:,}</td><td>{r['rows_failing']:,}</td>"
                    f"<td class=\"{cls}\">{escape(r['status'].replace('_', ' '))}</td>"
                    f"<td>{escape(r['description'])}{extra}</td></tr>")
    body.append("</table>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Quality report {escape(run.dataset)}'
            f' v{run.version}</title><style>{CSS}</style></head><body>{"".join(body)}</body></html>\n')


def summary_text(data: dict[str, Any]) -> str:
    lines = [f"{data['dataset']} v{data['version']}: {len(data['results'])} checks"]
    for r in data["results"]:
        if r["status"] == "fail":
            lines.append(f"  FAIL {r['severity']:<8} {r['id']}: {r['rows_failing']}/{r['rows_checked']} rows "
                         f"(threshold {r['threshold']:g} %)")
    if len(lines) == 1:
        lines.append("  every check passes")
    return "\n".join(lines)
