"""Plain data about applications, as the access services return them (never ORM objects)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an application: where (a path such as ``data[1].variables[0]``) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    reason: str | None
    due: date | None
    revision: int

    def to_dict(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "actor": self.actor, "action": self.action, "from": self.from_state,
                "to": self.to_state, "reason": self.reason, "due": _iso(self.due), "revision": self.revision}


@dataclass(frozen=True)
class OpinionInfo:
    panel: str
    binding: bool
    outcome: str
    reason: str
    revision: int
    rapporteur: str
    present: tuple[str, ...]
    vote: dict[str, int]
    conflicts: tuple[dict[str, str], ...]
    given_by: str
    given_at: datetime

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(present=list(self.present), conflicts=list(self.conflicts), given_at=_iso(self.given_at))
        return d


@dataclass(frozen=True)
class NoteInfo:
    revision: int
    section: str
    audience: str
    author: str
    text: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": _iso(self.created_at)}


@dataclass(frozen=True)
class ApplicationSummary:
    id: int
    title: str
    applicant: str
    org: str
    org_kind: str
    state: str
    revision: int
    due: date | None
    answer_due: date | None
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "applicant": self.applicant, "org": self.org,
                "org_kind": self.org_kind, "state": self.state, "revision": self.revision, "due": _iso(self.due),
                "answer_due": _iso(self.answer_due), "updated_at": _iso(self.updated_at)}


@dataclass(frozen=True)
class ApplicationInfo(ApplicationSummary):
    steps: tuple[str, ...] = ()
    step: str | None = None  # the step whose clock runs (or is stopped)
    clock_stopped: bool = False
    opinion: str | None = None
    decision: str | None = None
    decision_reason: str | None = None
    extended: bool = False
    extension_reason: str | None = None
    content: dict[str, Any] = field(default_factory=dict)
    history: tuple[HistoryEntry, ...] = ()
    opinions: tuple[OpinionInfo, ...] = ()
    notes: tuple[NoteInfo, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.update({"steps": list(self.steps), "step": self.step, "clock_stopped": self.clock_stopped,
                  "opinion": self.opinion, "decision": self.decision, "decision_reason": self.decision_reason,
                  "extended": self.extended, "extension_reason": self.extension_reason, "content": self.content,
                  "history": [h.to_dict() for h in self.history],
                  "opinions": [o.to_dict() for o in self.opinions], "notes": [n.to_dict() for n in self.notes]})
        return d


@dataclass(frozen=True)
class SectionChange:
    section: str
    change: str  # added | removed | changed
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RevisionDiff:
    application: int
    from_revision: int
    to_revision: int
    changes: tuple[SectionChange, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"application": self.application, "from": self.from_revision, "to": self.to_revision,
                "changes": [c.to_dict() for c in self.changes]}


@dataclass(frozen=True)
class PanelMemberInfo:
    panel: str
    binding: bool
    username: str
    org: str
    added_by: str
    added_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "added_at": _iso(self.added_at)}
