"""The activity report of a year (EHDS Art 59): what the hub received, decided, charged and made available,
and what citizens asked of it — figures read from the hub's own tables, each defined in docs/transparency.md.

``activity(hub, session, year, today)`` answers the figures as plain data (the CLI's ``--json``, the public
page ``/transparency/report/YYYY``); ``html_report`` renders them as one self-contained page with its charts
as inline SVG drawn here (no script, no CDN), in English or French. Releases of results from the secure
environment are read from the airlock (``guichet.airlock.figures``), statistics requests from their package
(``guichet.stats.figures``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any

from fastapi import Path
from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.access.clocks import Calendar
from guichet.access.tables import Application, ApplicationEvent
from guichet.access.workflow import workflow
from guichet.airlock import figures as airlock
from guichet.catalogue.tables import CatalogueProduct
from guichet.custodian.tables import OptOut
from guichet.hub import Hub
from guichet.permits.tables import Invoice, Permit
from guichet.quality.tables import QualityRun
from guichet.stats import figures as stats
from guichet.transparency.tables import Complaint

REPORT_FORMAT = "guichet.activity-report"
YEAR_PATH = Path(ge=2000, le=2100)  # a year in a page's address
REFERENCE_PATH = Path(max_length=24, pattern=r"^C-\d{4}-\d{4,6}$")  # a complaint's reference
MONTHS = tuple(range(1, 13))


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def working_days_between(start: date, end: date, cal: Calendar) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when decided the day it was received)."""
    days, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if cal.is_working_day(day):
            days += 1
    return days


def overdue_results(session: Session, today: date) -> list[dict[str, Any]]:
    """Permits whose results were due before ``today`` and that have no published release in the airlock's
    public registry (a recalled release does not count)."""
    published = airlock.published_permits(session, today)
    rows = [p for p in session.execute(select(Permit).where(Permit.results_due.is_not(None), Permit.results_due < today)
                                       .order_by(Permit.results_due, Permit.id)).scalars() if p.id not in published]
    return [{"permit": p.id, "application": f"A-{p.application}", "organisation": p.org,
             "title": str(p.document.get("title") or p.document.get("purpose", {}).get("description") or ""),
             "results_due": p.results_due.isoformat() if p.results_due else None,
             "days_late": (today - p.results_due).days if p.results_due else 0} for p in rows]


def activity(hub: Hub, session: Session, year: int, today: date | None = None) -> dict[str, Any]:
    today = today or datetime.now(UTC).date()
    start, end = date(year, 1, 1), date(year, 12, 31)
    cal = workflow(hub.config.properties).calendar

    def in_year(value: date | datetime | None) -> bool:
        return value is not None and start <= _day(value) <= end

    events = session.execute(select(ApplicationEvent).order_by(ApplicationEvent.id)).scalars().all()
    received: dict[int, date] = {}
    decided: dict[int, tuple[str, date]] = {}
    for e in events:
        if e.action == "submit" and e.application_id not in received:
            received[e.application_id] = _day(e.at)
        if e.to_state in ("authorised", "refused") and e.application_id not in decided:
            decided[e.application_id] = (e.to_state, _day(e.at))
    received_year = {a: d for a, d in received.items() if in_year(d)}
    decisions_year = {a: v for a, v in decided.items() if in_year(v[1])}
    times = sorted(working_days_between(received[a], d, cal) for a, (_, d) in decisions_year.items() if a in received)
    per_month = Counter(d.month for d in received_year.values())
    states = Counter(session.execute(select(Application.state).where(Application.state != "draft")).scalars())

    invoices = [i for i in session.execute(select(Invoice).order_by(Invoice.id)).scalars()
                if in_year(i.issued_at) and i.status != "cancelled"]
    currency = invoices[0].currency if invoices else "EUR"
    permits_issued = [p for p in session.execute(select(Permit)).scalars() if in_year(p.issued_at)]

    optouts = session.execute(select(OptOut).where(OptOut.kind == "objection")).scalars().all()
    recorded = Counter(o.recorded_on.month for o in optouts if in_year(o.recorded_on))
    withdrawn = Counter(o.withdrawn_on.month for o in optouts if o.withdrawn_on and in_year(o.withdrawn_on))
    active_end = sum(1 for o in optouts if o.recorded_on <= end and (o.withdrawn_on is None or o.withdrawn_on > end))
    findings = session.execute(select(OptOut).where(OptOut.kind == "no-findings")).scalars().all()

    products = session.execute(select(CatalogueProduct).order_by(CatalogueProduct.id)).scalars().all()
    latest: dict[str, QualityRun] = {}
    for run in session.execute(select(QualityRun).order_by(QualityRun.id)).scalars():
        if _day(run.created_at) <= end:
            latest[run.dataset] = run
    complaints = [c for c in session.execute(select(Complaint)).scalars() if in_year(c.received_at)]

    return {
        "format": REPORT_FORMAT, "version": 1, "period": str(year),
        "from": start.isoformat(), "to": end.isoformat(), "as_of": min(today, end).isoformat(),
        "applications": {
            "received": len(received_year),
            "received_per_month": [per_month.get(m, 0) for m in MONTHS],
            "granted": sum(1 for v in decisions_year.values() if v[0] == "authorised"),
            "refused": sum(1 for v in decisions_year.values() if v[0] == "refused"),
            "in_progress_now": sum(n for s, n in states.items()
                                   if s in ("submitted", "incomplete", "under_review", "revise", "opinion")),
        },
        "decision_time": {
            "unit": "working days", "decisions": len(times),
            "median": statistics.median(times) if times else None,
            "min": times[0] if times else None, "max": times[-1] if times else None,
        },
        "permits_issued": len(permits_issued),
        "fees": {
            "currency": currency, "invoices": len(invoices),
            "invoiced_cents": sum(i.total_cents for i in invoices),
            "paid_cents": sum(i.total_cents for i in invoices if i.status == "paid"),
        },
        "statistics_requests": stats.period_figures(session, start, end),
        "releases": airlock.period_figures(session, start, end),
        "optouts": {
            "recorded_per_month": [recorded.get(m, 0) for m in MONTHS],
            "withdrawn_per_month": [withdrawn.get(m, 0) for m in MONTHS],
            "recorded": sum(recorded.values()), "withdrawn": sum(withdrawn.values()),
            "active_at_end": active_end,
        },
        "findings_preferences": {
            "recorded": sum(1 for o in findings if in_year(o.recorded_on)),
            "active_at_end": sum(1 for o in findings if o.recorded_on <= end
                                 and (o.withdrawn_on is None or o.withdrawn_on > end)),
        },
        "products": [{"id": p.id, "title": p.title, "status": p.status} for p in products],
        "quality": [{"dataset": name, "version": r.version, "rows": r.rows, "checks": r.checks, "failed": r.failed,
                     "blocking_failed": r.blocking_failed, "grade": r.label.get("grade") if r.label else None}
                    for name, r in sorted(latest.items())],
        "complaints": {"received": len(complaints),
                       "by_status": dict(sorted(Counter(c.status for c in complaints).items()))},
        "results_overdue": overdue_results(session, today),
    }


# --- charts: inline SVG ---------------------------------------------------------------------------------

def bar_chart(values: list[int], labels: list[str], title: str, desc: str, width: int = 360,
              height: int = 180) -> str:
    """A bar chart as inline SVG (role="img", a title and a description for screen readers; each bar's
    value written above it, so nothing is told by colour or height alone)."""
    top = max(values) if values and max(values) > 0 else 1
    left, bottom, gap = 8, 28, 6
    band = (width - 2 * left) / max(1, len(values))
    plot = height - bottom - 18
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{escape(title)}-t '
             f'{escape(title)}-d" xmlns="http://www.w3.org/2000/svg">'
             f'<title id="{escape(title)}-t">{escape(title)}</title><desc id="{escape(title)}-d">{escape(desc)}</desc>']
    for i, (v, label) in enumerate(zip(values, labels, strict=True)):
        h = round(plot * v / top)
        x = left + i * band + gap / 2
        y = height - bottom - h
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{band - gap:.1f}" height="{h}" fill="#1d4f91"/>'
                     f'<text x="{x + (band - gap) / 2:.1f}" y="{y - 4}" text-anchor="middle" font-size="12" '
                     f'fill="#1b1b1b">{v}</text>'
                     f'<text x="{x + (band - gap) / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="11" '
                     f'fill="#1b1b1b">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


MONTH_LABELS = {"en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
                "fr": ["janv", "févr", "mars", "avr", "mai", "juin", "juil", "août", "sept", "oct", "nov", "déc"]}


def charts(report: dict[str, Any], locale: str = "en") -> dict[str, str]:
    months = MONTH_LABELS.get(locale, MONTH_LABELS["en"])
    fr = locale == "fr"
    a, o = report["applications"], report["optouts"]
    return {
        "applications": bar_chart(a["received_per_month"], months,
                                  "chart-applications",
                                  ("Demandes reçues par mois : " if fr else "Applications received per month: ")
                                  + ", ".join(f"{m} {v}" for m, v in zip(months, a["received_per_month"], strict=True))),
        "optouts": bar_chart(o["recorded_per_month"], months, "chart-optouts",
                             ("Oppositions enregistrées par mois : " if fr else "Objections recorded per month: ")
                             + ", ".join(f"{m} {v}" for m, v in zip(months, o["recorded_per_month"], strict=True))),
        "decisions": bar_chart([a["granted"], a["refused"]],
                               ["accordées" if fr else "granted", "refusées" if fr else "refused"],
                               "chart-decisions",
                               (f"Décisions : {a['granted']} accordées, {a['refused']} refusées" if fr
                                else f"Decisions: {a['granted']} granted, {a['refused']} refused"), width=240),
    }


def money(cents: int, currency: str) -> str:
    return f"{cents / 100:,.2f} {currency}"


HTML_TEXT = {
    "en": {"title": "{hub}: activity report {year}", "intro": "From {start} to {end} (EHDS Art 59). Figures as of {as_of}.",
           "caption": "Figures of the period", "received": "Applications received", "granted": "Applications granted",
           "refused": "Applications refused", "median": "Median decision time (working days)",
           "permits": "Permits issued", "invoiced": "Fees invoiced", "paid": "Fees paid",
           "statistics": "Statistics requests received", "statistics_released": "Statistics answers released",
           "submitted": "Requests to release results submitted", "released": "Requests released",
           "rejected": "Requests rejected", "files": "Files released",
           "turnaround": "Median turnaround of a request (hours, submission to decision)",
           "recalled": "Releases recalled",
           "optouts": "Objections recorded", "withdrawn": "Objections withdrawn",
           "active": "Objections active at the end of the period", "complaints": "Complaints received",
           "overdue": "Projects with overdue results", "h_applications": "Applications received per month",
           "h_decisions": "Decisions", "h_optouts": "Objections recorded per month (national)",
           "h_products": "Products and their quality", "products": "{n} products in the catalogue.",
           "q_caption": "Latest quality report of each dataset", "dataset": "Dataset", "version": "Version",
           "rows": "Rows", "checks": "Checks passed", "grade": "Grade", "none": "none",
           "h_overdue": "Projects whose results are overdue", "due": "results due {date}"},
    "fr": {"title": "{hub} : rapport d'activité {year}",
           "intro": "Du {start} au {end} (EEDS, art. 59). Chiffres au {as_of}.",
           "caption": "Chiffres de la période", "received": "Demandes reçues", "granted": "Demandes accordées",
           "refused": "Demandes refusées", "median": "Délai médian de décision (jours ouvrés)",
           "permits": "Autorisations délivrées", "invoiced": "Redevances facturées", "paid": "Redevances payées",
           "statistics": "Demandes de statistiques reçues", "statistics_released": "Réponses statistiques publiées",
           "submitted": "Demandes de sortie de résultats déposées", "released": "Demandes sorties",
           "rejected": "Demandes rejetées", "files": "Fichiers sortis",
           "turnaround": "Délai médian de traitement d'une demande (heures, du dépôt à la décision)",
           "recalled": "Sorties retirées",
           "optouts": "Oppositions enregistrées", "withdrawn": "Oppositions retirées",
           "active": "Oppositions actives à la fin de la période", "complaints": "Réclamations reçues",
           "overdue": "Projets en retard pour leurs résultats", "h_applications": "Demandes reçues par mois",
           "h_decisions": "Décisions", "h_optouts": "Oppositions enregistrées par mois (national)",
           "h_products": "Produits et leur qualité", "products": "{n} produits au catalogue.",
           "q_caption": "Dernier rapport de qualité de chaque jeu de données", "dataset": "Jeu de données",
           "version": "Version", "rows": "Lignes", "checks": "Contrôles réussis", "grade": "Note", "none": "aucun",
           "h_overdue": "Projets dont les résultats sont en retard", "due": "résultats attendus le {date}"},
}


def html_report(report: dict[str, Any], hub_name: str, lang: str = "en") -> str:
    """The report as one self-contained HTML page in English or French (``--lang``), charts inline:
    ``--html OUT.html``."""
    lang = lang if lang in HTML_TEXT else "en"
    w = HTML_TEXT[lang]
    c = charts(report, lang)
    a, t, f, o = report["applications"], report["decision_time"], report["fees"], report["optouts"]
    rel = report["releases"]
    sr = report["statistics_requests"]
    turnaround = rel.get("turnaround_hours_median")
    rows = [(w["received"], a["received"]), (w["granted"], a["granted"]), (w["refused"], a["refused"]),
            (w["median"], "—" if t["median"] is None else f"{t['median']:g}"),
            (w["permits"], report["permits_issued"]),
            (w["invoiced"], money(f["invoiced_cents"], f["currency"])),
            (w["paid"], money(f["paid_cents"], f["currency"])),
            (w["statistics"], sr["received"]), (w["statistics_released"], sr["released"]),
            (w["submitted"], rel["submitted"]), (w["released"], rel["released"]), (w["rejected"], rel["rejected"]),
            (w["files"], rel["files_released"]), (w["turnaround"], "—" if turnaround is None else f"{turnaround:g}"),
            (w["recalled"], rel["recalled"]),
            (w["optouts"], o["recorded"]), (w["withdrawn"], o["withdrawn"]), (w["active"], o["active_at_end"]),
            (w["complaints"], report["complaints"]["received"]), (w["overdue"], len(report["results_overdue"]))]
    table = "".join(f"<tr><th scope=\"row\">{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
    quality = "".join(f"<tr><th scope=\"row\">{escape(q['dataset'])}</th><td>{q['version']}</td><td>{q['rows']}</td>"
                      f"<td>{q['checks'] - q['failed']}/{q['checks']}</td><td>{escape(str(q['grade'] or '—'))}</td></tr>"
                      for q in report["quality"]) or f'<tr><td colspan="5">{w["none"]}</td></tr>'
    overdue = "".join(f"<li>{escape(r['permit'])} ({escape(r['organisation'])}): "
                      f"{escape(w['due'].format(date=r['results_due']))}</li>"
                      for r in report["results_overdue"]) or f"<li>{w['none']}</li>"
    title = escape(w["title"].format(hub=hub_name, year=report["period"]))
    intro = escape(w["intro"].format(start=report["from"], end=report["to"], as_of=report["as_of"]))
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem;color:#1b1b1b}}
table{{border-collapse:collapse}}th,td{{border:1px solid #999;padding:.3rem .6rem;text-align:left}}
svg.chart{{max-width:100%;height:auto}}</style></head>
<body><main>
<h1>{title}</h1>
<p>{intro}</p>
<table><caption>{w['caption']}</caption><tbody>{table}</tbody></table>
<h2>{w['h_applications']}</h2>{c['applications']}
<h2>{w['h_decisions']}</h2>{c['decisions']}
<h2>{w['h_optouts']}</h2>{c['optouts']}
<h2>{w['h_products']}</h2>
<p>{escape(w['products'].format(n=len(report['products'])))}</p>
<table><caption>{escape(w['q_caption'])}</caption><thead><tr><th scope="col">{w['dataset']}</th>
<th scope="col">{w['version']}</th><th scope="col">{w['rows']}</th><th scope="col">{w['checks']}</th>
<th scope="col">{w['grade']}</th></tr></thead>
<tbody>{quality}</tbody></table>
<h2>{escape(w['h_overdue'])}</h2><ul>{overdue}</ul>
</main></body></html>
"""
