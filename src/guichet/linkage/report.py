"""The linkage report (HTML, self-contained, aggregates only): match rates per source and year, the
death models' m/u parameters and weights, the reliability curve, the uncertain band, what was left
unlinked and why. No person id, pseudonym or row appears in it."""

from __future__ import annotations

import html
import math
from typing import Any

CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #bbb;padding:.25rem .5rem;text-align:right}
th{background:#eee}td:first-child,th:first-child{text-align:left}h2{margin-top:2rem}.note{color:#444}"""


def _e(v: Any) -> str:
    return html.escape(str(v))


def _table(head: list[str], body: list[list[Any]]) -> str:
    h = "".join(f"<th scope='col'>{_e(c)}</th>" for c in head)
    rows = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{rows}</tbody></table>"


def _curve(curve: list[dict[str, Any]]) -> str:
    size, pad = 260, 30
    pts = [(pad + b["predicted"] * size, pad + (1 - b["observed"]) * size, b["n"]) for b in curve]
    dots = "".join(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{2 + min(6, math.log10(n + 1) * 2):.1f}' "
                   f"fill='#1f5fa8'><title>n={n}</title></circle>" for x, y, n in pts)
    return (f"<svg role='img' aria-label='Reliability curve: observed share of true matches against the "
            f"predicted probability' width='{size + 2 * pad}' height='{size + 2 * pad}'>"
            f"<rect x='{pad}' y='{pad}' width='{size}' height='{size}' fill='none' stroke='#999'/>"
            f"<line x1='{pad}' y1='{pad + size}' x2='{pad + size}' y2='{pad}' stroke='#bbb' stroke-dasharray='4'/>"
            f"{dots}<text x='{pad}' y='{size + 2 * pad - 5}' font-size='11'>predicted →</text>"
            f"<text x='2' y='{pad - 8}' font-size='11'>observed ↑</text></svg>")


def _parameters(model: dict[str, Any]) -> list[list[Any]]:
    out = []
    for comp in model.get("comparisons", []):
        for level in comp.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = round(math.log2(m / u), 2) if m and u else ""
            out.append([comp.get("output_column_name", ""), level.get("label_for_charts", ""),
                        round(m, 4) if m is not None else "", round(u, 6) if u is not None else "", weight])
    return out


def render(summary: dict[str, Any], version: int) -> str:
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Linkage report v{version}"
             f"</title><style>{CSS}</style></head><body><main><h1>Linkage report — index version {version}</h1>",
             f"<p>{_e(summary.get('persons', 0))} persons in the index. Death certificates: "
             f"{_e(summary.get('deaths_in', 0))}, matched {_e(summary.get('deaths_matched', 0))} "
             f"(rate {_e(summary.get('match_rate', 0))}); uncertain band: "
             f"{_e(summary.get('review_band', summary.get('review_queue', 0)))} pairs; clerical-review queue: "
             f"{_e(summary.get('review_queue', 0))} pairs (the band and a calibration sample of every "
             "probability bin).</p>",
             "<h2>Links by method</h2>",
             _table(["method", "rows"], [[k, v] for k, v in sorted(summary.get("links_by_method", {}).items())]),
             "<h2>Death certificates: the three methods</h2>",
             _table(["method", "certificates matched"],
                    [[k, v] for k, v in sorted(summary.get("deaths_by_method", {}).items())]),
             "<h2>Match rates per source and year</h2>",
             _table(["source", "year", "rows", "linked", "rate"],
                    [[r["table"], r["year"], r["rows"], r["linked"],
                      round(r["linked"] / r["rows"], 4) if r["rows"] else ""] for r in summary.get("rates", [])]),
             "<h2>Left unlinked, and why</h2>",
             _table(["source", "reason", "rows"], [[t, reason, n] for t, reasons in
                                                   sorted(summary.get("unlinked", {}).items())
                                                   for reason, n in sorted(reasons.items())]),
             "<p class='note'>fictitious_nir: anonymous care under a shared NIR, never linked; ambiguous_twins: "
             "same-sex twins share the hospital pseudonym, not guessed; return_code: the hospital linkage "
             "return codes are not all 0; invalid_pseudonym: the producer's NIR failed its control key; "
             "no_key: no beneficiary carries the key; no_match / uncertain: no certificate candidate above "
             "the thresholds.</p>"]
    cal = summary.get("calibration", {})
    parts.append("<h2>Calibration (reliability curve)</h2>")
    if cal.get("curve"):
        parts.append(f"<p>{_e(cal.get('labels', 0))} labelled pairs; calibration "
                     f"{'applied' if cal.get('active') else 'not applied (too few labels)'}.</p>")
        parts.append(_curve(cal["curve"]))
        parts.append(_table(["from", "to", "pairs", "predicted", "observed"],
                            [[b["low"], b["high"], b["n"], b["predicted"], b["observed"]] for b in cal["curve"]]))
    else:
        parts.append("<p>No labelled pairs yet: probabilities are Splink's, uncalibrated. Decisions of the "
                     "clerical review become the labelled sample of the next run.</p>")
    for name, model in sorted(summary.get("parameters", {}).items()):
        parts.append(f"<h2>m/u parameters and weights — {_e(name)} model</h2>")
        parts.append(_table(["comparison", "level", "m", "u", "weight (log2 m/u)"], _parameters(model)))
    parts.append("</main></body></html>")
    return "\n".join(parts)
