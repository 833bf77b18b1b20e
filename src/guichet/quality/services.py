"""Quality services: run a version's checks (and store them), read results, override a hold, evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guichet.errors import BadInput, Conflict, NotFound
from guichet.governance import Unit, query, service
from guichet.lake.status import change_status
from guichet.lake.versions import set_label, version_in
from guichet.quality.model import RunOutcome
from guichet.quality.store import (
    StoredRun,
    check_rows_visible,
    execute_run,
    history_of,
    load_run,
    now,
    save_run,
)
from guichet.quality.tables import QualityOverride


@service("quality.run", transactional=False)
def run_quality(unit: Unit, dataset: str, version: int | None = None) -> tuple[RunOutcome, dict[str, Any]]:
    """Run every check of a dataset version, store the results and the label; returns both."""
    outcome, label = execute_run(unit.hub, dataset, version, history_of(unit.hub, dataset, version))
    save_run(unit.hub, unit.actor.username, outcome, label)
    statuses = [r.status for r in outcome.results]
    with unit.hub.store.write() as s:  # the version's label, in the lake's register, for every reader
        set_label(s, dataset, outcome.version,
                  {**label, "checks": {k: statuses.count(k) for k in ("pass", "fail", "not_applicable")}})
    failed = [r.id for r in outcome.failed]
    unit.note(obj=f"dataset:{dataset}:v{outcome.version}", checks=len(outcome.results), failed=len(failed),
              blocking_failed=outcome.blocking_failed, grade=label["grade"])
    return outcome, label


@query("quality.results")
def results(unit: Unit, dataset: str, version: int | None = None) -> StoredRun:
    """The latest stored run of a version; failing row numbers only for producers and operators."""
    run = load_run(unit.session, dataset, version)
    if run is None:
        raise NotFound(f"dataset {dataset}: no quality run{f' for version {version}' if version else ''}")
    return run if check_rows_visible(unit.actor) else run.public()


@service("quality.override")
def override(unit: Unit, dataset: str, version: int, reason: str) -> dict[str, Any]:
    """Publish a held version despite its blocking failures, with the operator's recorded reason."""
    if not reason or len(reason.strip()) < 10:
        raise BadInput("--reason: say why (at least 10 characters; recorded and audited)")
    row = version_in(unit.session, dataset, version)
    if row.status != "held":
        raise Conflict(f"dataset {dataset} version {version} is {row.status}, not held: nothing to override")
    run = load_run(unit.session, dataset, version)
    failed = [r["id"] for r in (run.results if run else []) if r["status"] == "fail" and r["severity"] == "blocking"]
    unit.session.add(QualityOverride(dataset=dataset, version=version, actor=unit.actor.username,
                                     reason=reason.strip(), failed_checks=failed, created_at=now()))
    change_status(unit.session, dataset, version, "published", why="quality override", expected=("held",))
    unit.note(obj=f"dataset:{dataset}:v{version}", reason=reason.strip(), overridden=len(failed))
    return {"dataset": dataset, "version": version, "status": "published", "overridden_checks": failed}


@query("quality.evaluate")
def evaluate(unit: Unit, truth: Path) -> dict[str, Any]:
    """Recall per defect code and false-positive rate of deposit + quality against a synthetic truth."""
    from guichet.quality.evaluate import evaluate_hub

    return evaluate_hub(unit.hub, truth)
