"""The plain records the permits package's services answer (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class AttestationInfo:
    username: str
    valid_until: date
    attested_by: str
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "valid_until": self.valid_until.isoformat(), "attested_by": self.attested_by,
                "note": self.note}


@dataclass(frozen=True)
class JobResult:
    name: str
    changed: int
    items: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.name, "changed": self.changed, "items": list(self.items)}


@dataclass(frozen=True)
class RunReport:
    today: date
    jobs: tuple[JobResult, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> int:
        return sum(j.changed for j in self.jobs)

    def to_dict(self) -> dict[str, Any]:
        return {"today": self.today.isoformat(), "changed": self.changed, "jobs": [j.to_dict() for j in self.jobs]}


def project_name(permit_id: str) -> str:
    """The custodian's project of a permit (its keys, its extracts): the permit id in lower case."""
    return permit_id.lower()
