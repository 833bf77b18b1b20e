"""Score deposit + quality against a synthetic delivery's truth (``truth/defects.csv``, ``truth/persons.csv``).

A defect is *found* when its row was quarantined at deposit or flagged by a warning or blocking check;
dataset-level defects (``missing_flow_month``) when the table's flow-volume check failed. The false-positive
rate is flagged rows without a recorded defect over rows without one — not counting rows flagged only by a
cross-table check when the person they reference (per the truth) has a defective row in the referenced
table (the issue's "rejected only because a row they reference carries a recorded defect").
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from guichet.errors import BadInput
from guichet.hub import Hub
from guichet.lake import VersionInfo, read_quarantine
from guichet.lake.versions import all_versions
from guichet.quality.model import CROSS_KINDS
from guichet.quality.runner import Flagged
from guichet.quality.store import execute_run, history_of

Row = tuple[str, int]


def _table(label: str) -> str:
    return label[:-4] if label.endswith(".csv") else label


def read_truth(truth: Path) -> tuple[dict[Row, str], dict[str, set[str]], dict[Row, str]]:
    path = truth / "defects.csv"
    if not path.is_file():
        raise BadInput(f"--truth {truth}: defects.csv not found (the truth folder of a synthetic delivery)")
    rows: dict[Row, str] = {}
    dataset_level: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh):
            if rec.get("row_number"):
                rows[(rec["table"], int(rec["row_number"]))] = rec["defect"]
            else:
                dataset_level[rec["defect"]].add(rec["table"])
    persons: dict[Row, str] = {}
    ppath = truth / "persons.csv"
    if ppath.is_file():
        with ppath.open(encoding="utf-8", newline="") as fh:
            for rec in csv.DictReader(fh):
                persons[(rec["table"], int(rec["row_number"]))] = rec["person_key"]
    return rows, dataset_level, persons


def _quarantined(hub: Hub, v: VersionInfo) -> set[Row]:
    table = read_quarantine(hub, v)
    if table is None:
        return set()
    return {(_table(str(f)), int(r)) for f, r in zip(table.column("_source_file").to_pylist(),
                                                     table.column("_source_row").to_pylist(), strict=True)}


def evaluate_hub(hub: Hub, truth: Path) -> dict[str, Any]:
    defects, dataset_level, persons = read_truth(truth)
    live = all_versions(hub)
    latest: dict[str, VersionInfo] = {}
    for v in live:
        latest[v.dataset] = v
    versions = list(latest.values())
    quarantined: set[Row] = set()
    rows_in = 0
    for v in live:
        quarantined |= _quarantined(hub, v)
        rows_in += int(v.rows_in or 0)
    flagged = Flagged()
    kinds: dict[str, str] = {}
    failed_flow: set[str] = set()
    for v in versions:
        outcome, _ = execute_run(hub, v.dataset, v.version, history_of(hub, v.dataset, v.version), flagged)
        for r in outcome.results:
            kinds[r.id] = r.kind
            if r.kind == "flow_volume" and r.status == "fail":
                failed_flow.update(_table(str(f.get("source", ""))) for f in (v.files or []))
                failed_flow.add(v.dataset)
    flagged_rows = {(_table(f), r): ids for (f, r), ids in flagged.rows.items()}
    found_rows = quarantined | set(flagged_rows)
    totals: dict[str, int] = defaultdict(int)
    hits: dict[str, int] = defaultdict(int)
    for row, code in defects.items():
        totals[code] += 1
        hits[code] += row in found_rows
    for code, tables in dataset_level.items():
        for t in tables:
            totals[code] += 1
            hits[code] += t in failed_flow or t.rsplit("/", 1)[-1] in failed_flow
    defective_people: dict[str, set[str]] = defaultdict(set)
    for (table, number) in defects:
        key = persons.get((table, number))
        if key:
            defective_people[key].add(table.rsplit("/", 1)[-1])
    false_pos = 0
    for row in found_rows:
        if row in defects:
            continue
        ids = flagged_rows.get(row)
        if ids and row not in quarantined and all(kinds.get(i) in CROSS_KINDS for i in ids):
            if defective_people.get(persons.get(row, ""), set()):
                continue  # flagged only because the person's referenced row carries a recorded defect
        false_pos += 1
    clean = max(1, rows_in - len(defects))
    return {"recall": {code: round(hits[code] / totals[code], 4) for code in sorted(totals)},
            "false_positive_rate": round(false_pos / clean, 5),
            "counts": {"rows": rows_in, "defects": len(defects) + sum(len(t) for t in dataset_level.values()),
                       "quarantined": len(quarantined), "flagged": len(flagged_rows), "false_positives": false_pos}}
