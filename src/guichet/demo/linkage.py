"""Demo stage: link the published delivery (claims, hospital stays, death certificates) into the person
index; ``counts.persons`` is the index's size."""

from __future__ import annotations

from typing import Any

from guichet.demo.run import COUNTERS, DemoRun, demo_stage
from guichet.hub import Hub


@demo_stage("linkage")
def linkage_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    from guichet.linkage.run import LinkRequest
    from guichet.linkage.services import run_linkage

    result = run_linkage(run.hub, run.operator, request=LinkRequest())
    data = result.to_dict()
    lines = [f"linkage    person index v{data['version']}: {data['persons']:,} persons; death certificates "
             f"matched {data['deaths_matched']}/{data['deaths_in']} ({data['match_rate']:.1%}), "
             f"{data['review_queue']} pairs for clerical review ({data['review_band']} uncertain)",
             "           report: guichet link report --html linkage.html; rows → persons: guichet link export --out DIR"]
    return {k: data[k] for k in ("version", "persons", "links_by_method", "deaths_in", "deaths_matched",
                                 "match_rate", "review_queue")}, lines


def _persons(hub: Hub) -> dict[str, int]:
    from guichet.linkage.index import latest

    run = latest(hub)
    return {"persons": run.persons if run else 0}


COUNTERS.append(_persons)
