"""The data quality and utility label (EHDS Art 78(3)), graded from what the hub itself measured.

Each criterion belongs to one element of Art 78(3) — (a) documentation, (b) technical quality,
(c) quality management, (d) coverage, (e) access and provision, (f) modifications — and to the grade it is
needed for. A dataset has the highest grade whose criteria (and all lower grades' criteria) are met; the
label lists what it would take to reach the next grade. The Commission's implementing act (Art 78(6), due
by 26 March 2027) will fix the visual form; until then the grades are Guichet's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guichet.lake.versions import LABEL_GRADES
from guichet.quality.model import RunOutcome

GRADES = LABEL_GRADES


@dataclass(frozen=True)
class Criterion:
    element: str  # Art 78(3) point
    grade: str
    text: str
    met: bool


def _pass_rate(outcome: RunOutcome, category: str) -> float:
    mine = [r for r in outcome.results if r.category == category and r.status != "not_applicable"]
    return 1.0 if not mine else sum(r.status == "pass" for r in mine) / len(mine)


def criteria(outcome: RunOutcome, *, has_schema: bool, described: float, versions: int) -> list[Criterion]:
    res = [r for r in outcome.results if r.status != "not_applicable"]
    comp = outcome.profile.get("completeness", {})
    rows = max(1, outcome.rows)
    mean_completeness = sum(comp.values()) / (rows * len(comp)) if comp else 0.0
    kinds = {r.kind for r in res}
    cross = [r for r in res if r.kind in ("foreign_key", "after_death", "before_birth")]
    time_checks = [r for r in res if r.kind == "flow_volume"]
    na_noms = sum(r.kind == "nomenclature" and r.status == "not_applicable" for r in outcome.results)
    return [
        Criterion("a", "bronze", "a Table Schema (data dictionary) describes every column", has_schema),
        Criterion("b", "bronze", "checks of validity and uniqueness ran on the version", bool(res)),
        Criterion("c", "bronze", "quality checks run on every deposit (the hub does)", True),
        Criterion("b", "silver", "no blocking check fails", not outcome.blocking_failed),
        Criterion("b", "silver", "cells are at least 90 % complete on average", mean_completeness >= 0.9),
        Criterion("a", "silver", "every column has a description", described >= 0.999),
        Criterion("d", "silver", "the period covered is measured (rows per month)", bool(outcome.profile.get("months"))),
        Criterion("b", "gold", "every check passes, warnings included",
                  all(r.status == "pass" for r in res)),
        Criterion("b", "gold", "consistency with the linked tables is checked (cross-table checks ran)", bool(cross)),
        Criterion("b", "gold", "timeliness is checked (rows per flow month)", bool(time_checks)),
        Criterion("a", "gold", "every code list the schema names is available to check codes", na_noms == 0),
        Criterion("f", "gold", "modifications are versioned (at least two versions compared for drift)",
                  versions >= 2 and "drift" in kinds),
        Criterion("c", "platinum", "a bias examination is recorded (model audit, 'Analysis' roadmap item)", False),
        Criterion("e", "platinum", "the delay from collection to availability is measured", False),
    ]


def grade(found: list[Criterion]) -> tuple[str, list[str]]:
    """The grade reached and the unmet criteria of the next grade."""
    reached = "none"
    for g in GRADES[1:]:
        if all(c.met for c in found if c.grade == g):
            reached = g
        else:
            break
    nxt = GRADES[GRADES.index(reached) + 1] if reached != GRADES[-1] else None
    todo = [f"({c.element}) {c.text}" for c in found if c.grade == nxt and not c.met] if nxt else []
    return reached, todo


def label(outcome: RunOutcome, *, has_schema: bool, described: float, versions: int) -> dict[str, Any]:
    found = criteria(outcome, has_schema=has_schema, described=described, versions=versions)
    reached, todo = grade(found)
    nxt = GRADES[GRADES.index(reached) + 1] if reached != GRADES[-1] else None
    return {"grade": reached, "next_grade": nxt, "to_reach_next": todo,
            "criteria": [{"element": c.element, "grade": c.grade, "text": c.text, "met": c.met} for c in found]}
