"""The airlock's figures for the public pages: what a period's releases were (the activity report, EHDS Art 59)
and each permit's published releases and recalls (the citizens' results page and plain-language registry).
Plain functions on a session, read by ``guichet.transparency`` (a layer above); they answer plain data, never
ORM objects, and nothing a project asked to keep unpublished."""

from __future__ import annotations

import statistics
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.airlock.request_services import _public, _was_due
from guichet.airlock.tables import OutputFile, OutputRequest


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def period_figures(session: Session, start: date, end: date) -> dict[str, Any]:
    """Releases of results from the secure environment between ``start`` and ``end`` (inclusive, UTC days):
    requests submitted, released, rejected (decided so in the period), output files released, the median
    turnaround in hours (submission to the decision, for requests decided in the period), requests recalled
    (their files withdrawn in the period). Definitions in docs/transparency.md."""
    def within(value: datetime | None) -> bool:
        day = _day(value)
        return day is not None and start <= day <= end

    reqs = list(session.execute(select(OutputRequest).order_by(OutputRequest.id)).scalars())
    files = list(session.execute(select(OutputFile).order_by(OutputFile.id)).scalars())
    released = {r.id for r in reqs if within(r.released_at)}
    recalled = {f.request for f in files if within(f.recalled_at)}
    decided = [r for r in reqs if within(r.decided_at)]
    hours = sorted((r.decided_at - r.submitted_at).total_seconds() / 3600 for r in decided
                   if r.decided_at is not None and r.submitted_at is not None)
    return {
        "offered": True,
        "submitted": sum(1 for r in reqs if within(r.submitted_at)),
        "released": len(released),
        "rejected": sum(1 for r in reqs if r.state == "rejected" and within(r.decided_at)),
        "files_released": sum(1 for f in files if f.request in released and not f.supporting and f.released_path),
        "turnaround_hours_median": round(statistics.median(hours), 1) if hours else None,
        "recalled": len(recalled),
    }


def public_releases(session: Session, today: date) -> dict[str, list[dict[str, Any]]]:
    """Each permit's releases as the public registry shows them (``airlock.registry``): published ones with
    their title, date, files (name, type, download address) and recalled ones with the recall's reason. A
    release stays private until a person of the project publishes it or the results deadline passes."""
    out: dict[str, list[dict[str, Any]]] = {}
    for req in session.execute(select(OutputRequest).where(OutputRequest.state.in_(("released", "recalled")))
                               .order_by(OutputRequest.id)).scalars():
        files = list(session.execute(select(OutputFile).where(OutputFile.request == req.id, OutputFile.turn == req.turn)
                                     .order_by(OutputFile.id)).scalars())
        entry: dict[str, Any] = {"request": req.id, "title": req.title, "state": req.state,
                                 "date": req.released_at.date().isoformat() if req.released_at else None}
        if req.state == "released":
            if not _public(session, req, today):
                continue
            shown = [f for f in files if not f.supporting and f.released_path]
            entry["files"] = [{"name": Path(str(f.released_path)).name, "type": Path(f.path).suffix.lstrip("."),
                               "href": f"/results/{req.id}/{Path(str(f.released_path)).name}"}
                              for f in shown]
            entry["types"] = sorted({x["type"] for x in entry["files"] if x["type"]})
        else:
            if not (req.published or _was_due(session, req, today)):
                continue
            gone = [f for f in files if f.recalled_at is not None]
            entry["files"], entry["types"] = [], []
            entry["recall_reason"] = gone[0].recall_reason if gone else None
            day = _day(gone[0].recalled_at) if gone else None
            entry["recalled"] = day.isoformat() if day else None
        out.setdefault(req.permit, []).append(entry)
    return out


def published_permits(session: Session, today: date) -> set[str]:
    """Permits with at least one published release not recalled: their results are not overdue."""
    return {permit for permit, entries in public_releases(session, today).items()
            if any(e["state"] == "released" for e in entries)}
