"""Demo stage "delivery": the producer's synthetic SNDS delivery, in clear, outside the hub home."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from guichet.demo.run import DEMO_SEED, DemoRun, demo_stage
from guichet.errors import BadInput
from guichet.synth.params import PROFILES, SynthRequest
from guichet.synth.writer import write_delivery

DEMO_START, DEMO_END = dt.date(2023, 1, 1), dt.date(2023, 12, 31)


def producer_folder(home: Path) -> Path:
    """The producer's own folder, a sibling of the hub home: clear identifiers never enter the hub."""
    return home.parent / f"{home.name}-producer"


@demo_stage("delivery")
def delivery(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    folder = producer_folder(run.hub.home.absolute())
    out = folder / "delivery"
    if out.exists() and any(out.iterdir()):
        raise BadInput(f"demo: producer folder {out} is not empty; the demo builds everything new")
    folder.mkdir(parents=True, exist_ok=True)
    req = SynthRequest(persons=run.request.persons, start=DEMO_START, end=DEMO_END, seed=DEMO_SEED,
                       profile=PROFILES["standard"])
    result = write_delivery(req, out)
    run.extra["delivery"] = str(out)
    rows = sum(result.rows.values())
    defects = sum(result.defects.values())
    lines = [f"delivery   {run.request.persons:,} synthetic people, {rows:,} rows in 9 SNDS tables, "
             f"care {DEMO_START}..{DEMO_END}",
             # printed as the user named the home, so the output is the same wherever the demo runs
             f"           in the producer's folder {producer_folder(run.request.home) / 'delivery'} "
             f"(clear NIRs; truth/ has {defects:,} planted defects)"]
    return {"persons": run.request.persons, "rows": rows, "defects": defects, "seed": DEMO_SEED}, lines
