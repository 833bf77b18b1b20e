"""Verification of the audit chain, in the database and in the mirror files. It never repairs.

The two copies are cross-checked: an event in one and not in the other is a problem, whichever side lacks
it — a tail cut in the files or in the database is reported as such, not as "behind". The only gap
tolerated is the few events another process committed and is still appending to the files (younger than
``IN_FLIGHT_SECONDS``). Cutting the same tail from both copies and rolling back the head leaves a shorter
chain that verifies: only a checkpoint of the head kept outside the hub detects that — ``verify`` is given
the custodian's latest signed checkpoint (``guichet.audit.checkpoint``) and checks that the chain still
holds it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from guichet.audit.chain import GENESIS, EventFields, event_hash
from guichet.audit.checkpoint import LatestCheckpoint, SignedCheckpoint, chain_problem, signature_ok
from guichet.audit.log import read_events, row_fields
from guichet.audit.mirror import mirror_path
from guichet.store.db import Store
from guichet.store.models import AuditEvent, AuditHead

IN_FLIGHT_SECONDS = 60  # a writer commits its event, then appends it to the files: a gap younger is in flight


@dataclass(frozen=True)
class Problem:
    where: str  # "database" | "files" | "checkpoint"
    seq: int | None
    line: int | None
    problem: str


@dataclass
class VerifyReport:
    events: int = 0
    head: str = GENESIS
    mirror_events: int = 0
    mirror_behind: int = 0
    checkpoint: dict[str, Any] | None = None  # the custodian's latest checkpoint, when it was asked
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        first = self.first_bad
        return {
            "ok": self.ok,
            "events": self.events,
            "head": self.head,
            "mirror": {"events": self.mirror_events, "behind": self.mirror_behind},
            "checkpoint": self.checkpoint,
            "first_bad": asdict(first) if first else None,
            "problems": [asdict(p) for p in self.problems],
        }


def _chain_problem(fields: EventFields, stored_prev: str, stored_hash: str, expected_seq: int, prev_hash: str,
                   seen_hashes: set[str]) -> str | None:
    if fields.seq != expected_seq:
        if fields.seq > expected_seq:
            return f"sequence jumps from {expected_seq - 1} to {fields.seq}: event(s) deleted"
        return f"sequence goes back to {fields.seq} after {expected_seq - 1}: event inserted or reordered"
    if event_hash(stored_prev, fields) != stored_hash:
        return "content does not match its hash: event modified"
    if stored_prev != prev_hash:
        if stored_prev in seen_hashes:
            return "links to an earlier event, not the one before it: events reordered or one deleted"
        return "previous-hash link broken: an event was inserted, deleted or reordered before it"
    return None


def _verify_database(store: Store, report: VerifyReport) -> dict[int, str]:
    hashes: dict[int, str] = {}
    seen: set[str] = set()
    prev, expected = GENESIS, 1
    with store.read() as session:
        for row in read_events(session):
            fields = row_fields(row)
            problem = _chain_problem(fields, row.prev_hash, row.hash, expected, prev, seen)
            if problem:
                report.problems.append(Problem("database", row.seq, None, problem))
                return hashes
            hashes[row.seq] = row.hash
            seen.add(row.hash)
            prev, expected = row.hash, expected + 1
            report.events += 1
        report.head = prev
        head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
        head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
        if (head_seq, head_hash) != (report.events, prev):
            report.problems.append(
                Problem("database", report.events + 1 if head_seq > report.events else head_seq, None,
                        f"chain ends at event {report.events} but the head records event {head_seq}: "
                        "the last event(s) were deleted or the head was altered")
            )
    return hashes


def _verify_files(audit_dir: Path, db_hashes: dict[int, str], report: VerifyReport) -> None:
    path = mirror_path(audit_dir)
    if not path.exists():
        report.mirror_behind = len(db_hashes)
        return
    prev, expected = GENESIS, 1
    seen: set[str] = set()
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                break  # a torn tail: doctor completes it from the database
            try:
                obj = json.loads(raw)
                stored_prev, stored_hash = obj.pop("prev_hash"), obj.pop("hash")
                fields = EventFields(**obj)
            except (ValueError, KeyError, TypeError):
                report.problems.append(Problem("files", None, lineno, "line is not an audit event: file altered"))
                return
            problem = _chain_problem(fields, stored_prev, stored_hash, expected, prev, seen)
            if problem is None and fields.seq in db_hashes and db_hashes[fields.seq] != stored_hash:
                problem = "differs from the database's event of the same number"
            if problem is None and db_hashes and fields.seq not in db_hashes and fields.seq <= report.events:
                problem = "has no counterpart in the database"
            if problem:
                report.problems.append(Problem("files", fields.seq, lineno, problem))
                return
            seen.add(stored_hash)
            prev, expected = stored_hash, expected + 1
            report.mirror_events += 1
    if report.mirror_events > report.events and report.ok:
        report.problems.append(
            Problem("database", report.events + 1, None,
                    f"the files hold {report.mirror_events} events but the database only {report.events}: events deleted")
        )
    report.mirror_behind = max(0, report.events - report.mirror_events)


def _check_gap(store: Store, report: VerifyReport, now: datetime, signed: int = 0) -> None:
    """Events the database holds and the files lack: a cut tail, unless they are still being appended —
    never so for events a checkpoint covers (``signed``): the files held them when it was signed."""
    if report.mirror_behind == 0 or not report.ok:
        return
    first = report.mirror_events + 1
    if first <= signed:
        report.problems.append(Problem(
            "files", first, report.mirror_events + 1,
            f"the files lack events {first} to {report.events}, which the database holds and a signed checkpoint "
            f"covers up to event {signed}: their tail was cut"))
        return
    with store.read() as session:
        at = session.execute(select(AuditEvent.at).where(AuditEvent.seq == first)).scalar_one_or_none()
    try:
        age = (now - datetime.fromisoformat(str(at))).total_seconds()
    except ValueError:
        age = float("inf")
    if age > IN_FLIGHT_SECONDS:
        report.problems.append(Problem(
            "files", first, report.mirror_events + 1,
            f"the files lack events {first} to {report.events}, which the database holds: their tail was cut, "
            "or a crash stopped their writing ('guichet doctor' completes them from the database; verify again)"))


def check_checkpoint(report: VerifyReport, hashes: dict[int, str], checkpoint: SignedCheckpoint | None,
                     public_key: str | None) -> None:
    """The chain must hold what the custodian signed: its signature checks with the audit public key, and
    event ``seq`` is still there with the signed head hash."""
    if checkpoint is None:
        report.checkpoint = {"seq": 0, "signed": False}
        return
    report.checkpoint = {**checkpoint.to_dict(), "signature_ok": False}
    if public_key is None or not signature_ok(checkpoint, public_key):
        report.problems.append(Problem("checkpoint", checkpoint.seq, None,
                                       "the latest checkpoint's signature does not verify with the custodian's "
                                       "audit key: forged or altered checkpoint"))
        return
    report.checkpoint["signature_ok"] = True
    found = chain_problem(checkpoint, report.events, hashes)
    if found is not None:
        report.problems.append(Problem("checkpoint", found[0], None, found[1]))


def verify(store: Store, audit_dir: Path, now: datetime | None = None, *,
           latest: LatestCheckpoint | None = None) -> VerifyReport:
    """Verify the chain in the database and the files; given the custodian's ``latest`` checkpoint, also
    that the chain still holds it."""
    report = VerifyReport()
    db_hashes = _verify_database(store, report)
    if report.ok:
        _verify_files(audit_dir, db_hashes, report)
        signed = latest.checkpoint.seq if latest is not None and latest.checkpoint is not None else 0
        _check_gap(store, report, now or datetime.now(UTC), signed)
    if report.ok and latest is not None:
        check_checkpoint(report, db_hashes, latest.checkpoint, latest.public_key)
    return report
