"""Checks and their results as plain, immutable data.

A check is *what* to verify (built from a Table Schema or a rule pack); a result is what running it found.
Categories follow the Kahn framework as the OHDSI Data Quality Dashboard uses it (conformance,
completeness, plausibility — ``shared/data/ehds/dqd/``), with DQD's subcategories (value, relational,
computational; atemporal, temporal, uniqueness).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

CATEGORIES = ("conformance", "completeness", "plausibility")
SUBCATEGORIES = ("value", "relational", "computational", "atemporal", "temporal", "uniqueness", "")
SEVERITIES = ("blocking", "warning", "info")
# Row checks are predicates over one row; the other kinds need a plan of their own.
ROW_KINDS = ("not_null", "value_in", "nomenclature", "range", "pattern", "max_length", "min_length",
             "date_order", "not_future", "sentinel", "condition", "type", "marker")
TABLE_KINDS = ("unique", "duplicate_row")
CROSS_KINDS = ("foreign_key", "after_death", "before_birth")
TIME_KINDS = ("flow_volume", "drift")
KINDS = ROW_KINDS + TABLE_KINDS + CROSS_KINDS + TIME_KINDS
# Generated for every table from its schema and compared with the previous version's profile (not pack rules).
LEARNT_KINDS = ("column_drift", "order_drift", "row_count")
# By default (issue "Quality"): a conformance or plausibility check blocks publication when more than 5 % of
# rows fail it; completeness checks warn.
DEFAULT_BLOCKING_THRESHOLD = 5.0


@dataclass(frozen=True)
class Check:
    """One check on one table. ``threshold`` is the % of failing rows tolerated before it fails."""

    id: str
    table: str
    kind: str
    category: str
    subcategory: str = ""
    severity: str = "warning"
    threshold: float = 0.0
    columns: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict, compare=False)
    description: str = ""
    source: str = "schema"  # schema | pack:<name>
    flags_rows: bool = True  # False for dataset-level checks (flow volume, drift) and info counts

    def with_(self, **changes: Any) -> Check:
        return replace(self, **changes)


@dataclass(frozen=True)
class CheckResult:
    id: str
    table: str
    kind: str
    category: str
    subcategory: str
    severity: str
    threshold: float
    rows_checked: int
    rows_failing: int
    status: str  # pass | fail | not_applicable
    seconds: float
    description: str = ""
    note: str = ""
    failing_rows: tuple[int, ...] = ()  # source row numbers (producer's and operators' view only)
    failing_rows_truncated: bool = False

    @property
    def failing_percent(self) -> float:
        return 100.0 * self.rows_failing / self.rows_checked if self.rows_checked else 0.0

    @property
    def blocking_failed(self) -> bool:
        return self.status == "fail" and self.severity == "blocking"

    def public(self) -> dict[str, Any]:
        """The issue's JSON shape: aggregates only, never row numbers."""
        return {"id": self.id, "category": self.category, "severity": self.severity, "threshold": self.threshold,
                "rows_checked": self.rows_checked, "rows_failing": self.rows_failing, "status": self.status,
                "seconds": round(self.seconds, 4)}

    def detailed(self) -> dict[str, Any]:
        out = self.public() | {"kind": self.kind, "table": self.table, "subcategory": self.subcategory,
                               "description": self.description}
        if self.note:
            out["note"] = self.note
        return out


def decide(check: Check, rows_checked: int, rows_failing: int) -> str:
    """pass/fail against the check's threshold (strictly more than ``threshold`` % failing fails)."""
    if rows_checked <= 0:
        return "pass" if rows_failing == 0 else "fail"
    return "fail" if 100.0 * rows_failing / rows_checked > check.threshold else "pass"


@dataclass(frozen=True)
class RunOutcome:
    dataset: str
    version: int
    results: tuple[CheckResult, ...]
    rows: int
    profile: dict[str, Any] = field(default_factory=dict)  # aggregates for the report (completeness, months)

    @property
    def blocking_failed(self) -> bool:
        return any(r.blocking_failed for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "version": self.version, "results": [r.public() for r in self.results]}
