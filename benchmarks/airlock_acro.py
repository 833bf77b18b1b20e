"""The airlock against ACRO (PyPI ``acro==1.0.2``, the ``airlock-bench`` extra), cell by cell.

ACRO is configured in code with the ``snds`` rule set's thresholds (a count below 11 fails; (n,k) = (2, 90 %);
p % = 10 %; zeros disclosive). The same synthetic microdata go through ACRO's ``crosstab``/``pivot_table`` and
through ``guichet.analysis.crosstab`` + ``guichet.airlock.check``; for every cell of every table, ACRO's outcome
("ok" or the checks it failed) is set beside our verdict (flagged = fail or review). Reported:

- unsafe tables (small populations, a rare age band, planted dominant contributors, an empty combination,
  negative costs, several records per person): every cell ACRO flags must be flagged by us (target 100 %);
- safe tables (3,000 to 6,000 persons, no rare category): the share of cells we flag and ACRO passes (target
  <= 2 %), each by its rule;
- ordinary tables (300 to 1,000 persons, a rare age band, nothing else planted): for information, what each
  side flags (our extra flags there are mostly secondary suppression);
- apart: tables of standard deviations (ACRO 1.0.2 fails every cell of them with MinimumDoFCheck; we send
  them to review, rule ``spread``) and of maxima (we fail every cell: an exact maximum is one person's value;
  ACRO checks it as a count);
- per-table times (medians), for information.

    .venv/bin/python benchmarks/airlock_acro.py            # about two minutes
    .venv/bin/python benchmarks/airlock_acro.py --quick
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from tests.airlock_acro_support import (  # noqa: E402
    COUNT_SPECS,
    MAGNITUDE_SPECS,
    Comparison,
    Spec,
    compare,
    make_acro,
    microdata,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer datasets")
    args = parser.parse_args()
    seeds = range(3) if args.quick else range(8)
    acro = make_acro("snds")
    specs = COUNT_SPECS + MAGNITUDE_SPECS
    unsafe, safe, multi, ordinary = Comparison(), Comparison(), Comparison(), Comparison()
    for seed in seeds:
        n = 80 + 40 * seed
        unsafe.add(compare(microdata(n, seed, rare=0.03 + 0.01 * (seed % 3), dominant=1 + seed % 3,
                                     zeros=seed % 2 == 0, negatives=1 if seed % 4 == 3 else 0), specs, acro))
        multi.add(compare(microdata(n, 100 + seed, rare=0.05, dominant=1, records_per_person=3), specs, acro))
        safe.add(compare(microdata(3000 + 500 * seed, 200 + seed), specs, acro))
        ordinary.add(compare(microdata(300 + 100 * seed, 400 + seed, rare=0.03), specs, acro))
    apart_std = compare(microdata(3000, 300), [Spec("sex", "age_band", "cost", "std")], acro)
    apart_max = compare(microdata(3000, 301), [Spec("sex", "age_band", "cost", "max")], acro)
    report = {
        "unsafe": summary(unsafe), "several_records_per_person": summary(multi), "safe": summary(safe),
        "ordinary": summary(ordinary),
        "apart": {"std_tables": summary(apart_std), "max_tables": summary(apart_max)},
    }
    print(json.dumps(report, indent=2))
    every = unsafe.missed + multi.missed + safe.missed + ordinary.missed + apart_std.missed + apart_max.missed
    flagged = (unsafe.acro_flagged + multi.acro_flagged + safe.acro_flagged + ordinary.acro_flagged
               + apart_std.acro_flagged + apart_max.acro_flagged)
    share = safe.extra_cells / safe.cells if safe.cells else 0.0
    print(f"\nACRO-flagged cells also flagged by the airlock: {flagged - len(every)}/{flagged} "
          f"({100 * (flagged - len(every)) / max(flagged, 1):.1f} %; target 100 %)")
    print(f"safe tables: {safe.extra_cells}/{safe.cells} cells flagged by the airlock and passed by ACRO "
          f"({100 * share:.2f} %; target <= 2 %), by rule: {safe.extra or {}}")
    print(f"ordinary tables (300 to 1,000 persons, a rare age band, nothing else planted): "
          f"{ordinary.extra_cells}/{ordinary.cells} cells flagged by the airlock only, by rule: {ordinary.extra or {}}")
    print(f"median seconds per table: ACRO {statistics.median(unsafe.acro_seconds + safe.acro_seconds):.3f}, "
          f"airlock (helper + check) {statistics.median(unsafe.our_seconds + safe.our_seconds):.3f}")
    if every or share > 0.02:
        raise SystemExit(1)


def summary(c: Comparison) -> dict[str, object]:
    return {"tables": c.tables, "cells": c.cells, "acro_flagged": c.acro_flagged, "also_flagged_by_us": c.both_flagged,
            "missed": c.missed[:10], "flagged_by_us_only": c.extra_cells, "flagged_by_us_only_by_rule": c.extra}


if __name__ == "__main__":
    main()
