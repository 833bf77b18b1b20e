"""Demo stage "transparency": the activity report of the current year (EHDS Art 59) from what the demo did —
the application received and decided, its permit and fees, the results released through the airlock,
objections, products and their quality — written
as ``activity-report.html`` (charts as inline SVG) in the hub's home.

``demo --json`` adds ``"report"``: the report's figures (``docs/transparency.md``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from guichet.demo.run import DemoRun, demo_stage
from guichet.transparency import services as transparency
from guichet.transparency.report import html_report

REPORT_FILE = "activity-report.html"


@demo_stage("transparency")
def transparency_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    hub = run.hub
    year = datetime.now(UTC).year
    report = transparency.activity_report(hub, run.operator, year=year)
    path = hub.home / REPORT_FILE
    path.write_text(html_report(report, str(hub.config.properties.get("hub_name") or "Guichet")), encoding="utf-8")
    run.extra["report"] = {**report, "file": str(path)}
    a, t, o, r = report["applications"], report["decision_time"], report["optouts"], report["releases"]
    median = "—" if t["median"] is None else f"{t['median']:g} working days"
    # the README quotes these lines: no year, no date, no path
    lines = [f"report     activity report of the year: {a['received']} application received, {a['granted']} granted, "
             f"{a['refused']} refused (median decision time {median}); {report['permits_issued']} permit; "
             f"{o['recorded']} objections recorded; {len(report['products'])} products, "
             f"{len(report['quality'])} quality reports",
             f"           releases of results: {r['submitted']} requests submitted, {r['released']} released "
             f"({r['files_released']} file), {r['rejected']} rejected, {r['recalled']} recalled",
             f"           {REPORT_FILE} (charts inline, no script); public pages at /transparency, "
             "guichet report activity --period YYYY"]
    return {"written": True, "received": a["received"], "granted": a["granted"], "released": r["released"]}, lines
