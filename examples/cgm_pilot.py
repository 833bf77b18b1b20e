"""The glucose-monitoring pilot on the shared CGM files: consensus metrics checked against the reference
table, and each alert rule scored against the consensus hypoglycaemia episodes.

The files are read at run time from ``shared/data/cgm`` (``GUICHET_SHARED``, default: the folder beside the
checkout); none of them is copied into the repository (the iglu data are GPL-licensed). It prints one JSON
document: per file, the largest difference from ``reference_metrics.csv`` for each metric, and per rule the
scores overall, by level and by subgroup, with the flagged subjects.

    .venv/bin/python examples/cgm_pilot.py
    .venv/bin/python examples/cgm_pilot.py --plots cgm-plots   # and one SVG per alert of the trend rule
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

from guichet.cgm.metrics import recording_metrics
from guichet.cgm.plot import write_alert_plots
from guichet.cgm.read import read_recording
from guichet.cgm.report import analyse
from guichet.cgm.rules import RULES

REPO = Path(__file__).resolve().parent.parent
FILES = ("example_data_5_subject.csv", "example_data_hall.csv", "dexcom_clarity_export_sample.csv")
NUMERIC = ("days", "active_percent", "mean_mgdl", "sd_mgdl", "cv_percent", "gmi_percent", "tbr_lt54", "tbr_lt70",
           "tir_70_180", "tar_gt180", "tar_gt250", "gri")


def cgm_folder() -> Path:
    return Path(os.environ.get("GUICHET_SHARED", REPO.parent / "shared")) / "data" / "cgm"


def agreement(metrics: list[dict[str, Any]], reference: dict[tuple[str, str], dict[str, str]]) -> dict[str, Any] | None:
    """The largest absolute difference per metric from the reference table, or None without reference rows."""
    pairs = [(m, reference[(m["dataset"], m["id"])]) for m in metrics if (m["dataset"], m["id"]) in reference]
    if not pairs:
        return None
    worst = {k: max(abs(m[k] - float(r[k])) for m, r in pairs) for k in NUMERIC}
    same = all(m["n_readings"] == int(r["n_readings"]) and m["meets_14d_70pct"] == (r["meets_14d_70pct"] == "yes")
               for m, r in pairs)
    return {"subjects": len(pairs), "counts_and_sufficiency_identical": same, "max_abs_difference": worst}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plots", type=Path, help="write one SVG per trend alert here")
    args = ap.parse_args()
    folder = cgm_folder()
    if not (folder / "reference_metrics.csv").exists():
        print(f"cgm_pilot: the shared CGM data are not at {folder} (set GUICHET_SHARED)", file=sys.stderr)
        return 2
    with (folder / "reference_metrics.csv").open(encoding="utf-8") as f:
        reference = {(r["dataset"], r["id"]): r for r in csv.DictReader(f)}
    out: dict[str, Any] = {}
    for name in FILES:
        recording = read_recording(folder / name)
        metrics = [m.to_dict() for m in recording_metrics(recording)]
        entry: dict[str, Any] = {"layout": recording.layout, "subjects": len(recording.subjects),
                                 "readings": sum(s.n for s in recording.subjects),
                                 "reference_agreement": agreement(metrics, reference), "rules": {}}
        for rule_name, rule in RULES.items():
            report = analyse(recording, rule)
            answer = report.to_dict()
            entry["rules"][rule_name] = {
                "scores": answer["scores"], "by_level": answer["by_level"], "by_subgroup": answer["by_subgroup"],
                "flagged": {s["id"]: [f["flag"] for f in s["flags"]] for s in answer["subjects"]
                            if any(f["flag"] != "insufficient" for f in s["flags"])},
            }
            if args.plots and rule_name == "trend":
                write_alert_plots(report, args.plots / recording.dataset)
        out[recording.dataset] = entry
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
