"""Linkage services: the governed entry points the CLI and the web pages call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guichet.engine import Engine
from guichet.errors import BadInput
from guichet.governance import Unit, query, service
from guichet.linkage import index as idx
from guichet.linkage import review as rv
from guichet.linkage.export import export_persons
from guichet.linkage.report import render
from guichet.linkage.run import LinkRequest, LinkResult, link


@service("linkage.run", transactional=False)
def run_linkage(unit: Unit, request: LinkRequest) -> LinkResult:
    result = link(unit.hub, unit.actor.username, request)
    o = result.outcome
    unit.note(obj=f"person_index:v{result.version}", persons=o.persons, deaths_in=o.deaths_in,
              deaths_matched=o.deaths_matched.get("guichet", 0), review_queue=len(o.review),
              events=len(o.events), origin="delivery" if request.delivery else "lake", seed=request.seed)
    return result


@query("linkage.export")
def export_links(unit: Unit, out: Path) -> dict[str, Any]:
    path, rows = export_persons(unit.hub, out)
    unit.note(obj="person_index", rows=rows)
    return {"out": str(path), "rows": rows}


@query("linkage.evaluate")
def evaluate_run(unit: Unit, truth: Path) -> dict[str, Any]:
    from guichet.linkage.evaluate import bind_truth, evaluate_deaths, evaluate_links
    from guichet.linkage.sqlkit import create_table

    run = idx.require_latest(unit.hub)
    with Engine() as engine:
        bind_truth(engine, truth)
        for name in ("links", "deaths"):
            engine.con.register(f"ev_{name}_arrow", idx.read_file(unit.hub, run, name))
            create_table(engine, f"ev_{name}", f"SELECT * FROM ev_{name}_arrow", f"evaluate: {name}")
        links = evaluate_links(engine, "ev_links")
        methods = {}
        for m in ("baseline_a", "baseline_b", "guichet"):
            create_table(engine, f"ev_d_{m}", "SELECT * FROM ev_deaths WHERE method = :m", f"evaluate {m}", m=m)
            methods[m] = f"ev_d_{m}"
        deaths = evaluate_deaths(engine, methods)
    return {"version": run.version, "links": {k: links[k] for k in ("claims", "hospital")} | {
        "deaths": deaths["guichet"], "beneficiaries": links["beneficiaries"]}, "deaths_methods": deaths}


@query("linkage.report")
def report_html(unit: Unit, out: Path) -> dict[str, Any]:
    run = idx.require_latest(unit.hub)
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise BadInput(f"--html {out}: folder {out.parent} does not exist")
    out.write_text(render(run.summary, run.version), encoding="utf-8")
    return {"out": str(out), "version": run.version}


@query("linkage.show")
def show_run(unit: Unit) -> dict[str, Any]:
    run = idx.require_latest(unit.hub)
    return {"version": run.version, **{k: run.summary.get(k) for k in (
        "persons", "links_by_method", "deaths_in", "deaths_matched", "match_rate", "review_queue", "review_band")}}


@query("linkage.review_counts")
def review_counts(unit: Unit) -> dict[str, int]:
    """How many pairs wait for a clerical decision, by why they are queued (aggregates only)."""
    return rv.open_counts(unit.session)


@query("linkage.review_list")
def review_list(unit: Unit, status: str = "open") -> list[dict[str, Any]]:
    pairs = rv.open_pairs(unit.session, status)
    unit.note(obj="linkage_review", pairs=len(pairs))
    return [p.to_dict() for p in pairs]


@query("linkage.review_view")
def review_view(unit: Unit, pair_id: int) -> dict[str, Any]:
    """One pair, for a clerical decision: quasi-identifiers and evidence of both sides (audited)."""
    from guichet.linkage.review_detail import pair_detail

    pair = rv.get_pair(unit.session, pair_id)
    unit.note(obj=f"linkage_review:{pair_id}")
    return {**rv.summary(pair).to_dict(), **pair_detail(unit.hub, pair)}


@service("linkage.review_decide")
def review_decide(unit: Unit, pair_id: int, decision: str, note: str | None = None) -> dict[str, Any]:
    rv.check_decision(decision)
    pair = rv.get_pair(unit.session, pair_id)
    pair.status, pair.decided_by, pair.decided_at, pair.note = decision, unit.actor.username, idx.now(), note
    unit.note(obj=f"linkage_review:{pair_id}", decision=decision)
    return rv.summary(pair).to_dict()
