"""Plain data the deposit services take and return."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guichet.deposit.rules import IdentifierRole

STATUSES = ("pending", "published", "held", "rejected", "rolled_back")
CRASH_POINTS = ("pending", "first_batch", "pass1_done", "staged", "renamed", "committed", "gated")


@dataclass(frozen=True)
class TableRequest:
    """One file to deposit, as the CLI or a manifest describes it."""

    name: str
    dataset: str
    file: Path
    schema_path: Path
    producer: str | None = None
    identifiers: tuple[IdentifierRole, ...] = ()
    delimiter: str | None = None
    encoding: str | None = None
    expected_rows: int | None = None
    expected_sha256: str | None = None
    label: str | None = None  # the file's path within its delivery
    year: int | None = None  # a yearly part of its dataset (T_MCO19B of T_MCOaaB): one version holds them all


@dataclass(frozen=True)
class DepositRequest:
    tables: tuple[TableRequest, ...]
    mode: str = "replace"  # append | replace
    partial: bool = False
    delivery: bool = False  # a manifest: the answer is a list
    crash_at: str | None = None  # test harness only: kill -9 the process at this step


@dataclass
class DepositResult:
    deposit_id: str
    dataset: str
    version: int | None
    status: str  # published | held | rejected | unchanged
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    quarantine_reasons: dict[str, int]
    sha256: str
    error: str | None = None
    checks_not_applicable: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "deposit_id": self.deposit_id, "dataset": self.dataset, "version": self.version,
            "status": self.status, "rows_in": self.rows_in, "rows_accepted": self.rows_accepted,
            "rows_quarantined": self.rows_quarantined, "quarantine_reasons": self.quarantine_reasons,
            "sha256": self.sha256,
        }
        if self.error:
            out["error"] = self.error
        if self.checks_not_applicable:
            out["not_applicable"] = self.checks_not_applicable
        return out


@dataclass(frozen=True)
class ProducerInfo:
    name: str
    org: str
    key_fingerprint: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "org": self.org, "key_fingerprint": self.key_fingerprint}
