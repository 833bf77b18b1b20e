"""Writing a version atomically: pending → staged → renamed → committed (held) → gated → published.

The writer (the deposit today) records a *pending* version, writes encrypted files into the version's
staging folders, then the lake renames them into place and commits the version as ``held``: complete and
invisible. The registered gates (``guichet.lake.gates``) then decide whether it is published. A crash at any
step leaves the old state or the new one: recovery (``guichet.lake.atomic.recover``, at every deposit's
start and in ``guichet doctor``) rolls back pending versions and removes orphan folders, and finishes the
versions a crash left committed but never gated (``finish_interrupted``).

Every state a version reaches is explained by the audit trail: the commit, the gates' verdict (published or
held) and a rejection each write their event in the same transaction as the change.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guichet.actor import Actor
from guichet.audit.log import append_event
from guichet.hub import Hub
from guichet.lake.atomic import LIVE, dataset_locks, lake_dir, now, quarantine_dir, version_dirname
from guichet.lake.gates import GateVerdict, run_gates
from guichet.lake.keys import FileKey, save_keys
from guichet.lake.owners import record as record_dataset
from guichet.lake.status import change_status, note_status
from guichet.lake.tables import DatasetVersion


@dataclass
class Pending:
    """A version being written: its register row, number and staging folders."""

    dataset: str
    deposit_id: str
    version: int
    row_id: int
    staging: Path  # lake/<dataset>/.staging-<deposit>
    quarantine_staging: Path

    @property
    def dirname(self) -> str:
        return version_dirname(self.version)


@dataclass(frozen=True)
class PendingRequest:
    dataset: str
    mode: str  # append | replace
    producer: str | None
    schema_version: int | None
    schema_sha256: str
    input_sha256: str
    input_file: str


@dataclass(frozen=True)
class WrittenFile:
    """One delivered file's accepted rows, staged as one encrypted Parquet file of the version."""

    data_file: Path  # in the staging folder
    key: FileKey
    rows: int  # accepted
    source: str  # the delivered file's label
    rows_in: int  # the delivered file's data rows (accepted + quarantined)
    year: int | None = None  # the part's year, for a dataset delivered as yearly files

    def entry(self, path: str, deposit_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"path": path, "rows": self.rows, "key_id": self.key.key_id,
                               "deposit_id": deposit_id, "source": self.source, "rows_in": self.rows_in}
        if self.year is not None:
            out["year"] = self.year
        return out


@dataclass
class Written:
    """What the writer staged for one version (one file per delivered part), for its commit."""

    files: list[WrittenFile]
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    reasons: dict[str, int]
    quarantine_parts: list[tuple[Path, FileKey]] = field(default_factory=list)
    lineage: dict[str, Any] = field(default_factory=dict)


def new_deposit_id() -> str:
    return "dp" + secrets.token_hex(8)


def begin(hub: Hub, requests: list[PendingRequest], delivery_id: str | None) -> list[Pending]:
    """Record a pending version per request (numbered after the dataset's last) and make its staging folders."""
    out = []
    with hub.store.write() as s:
        for r in requests:
            top = s.execute(select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset == r.dataset)
                            ).scalar_one()
            deposit_id = new_deposit_id()
            staging = lake_dir(hub, r.dataset) / f".staging-{deposit_id}"
            row = DatasetVersion(
                deposit_id=deposit_id, delivery_id=delivery_id, dataset=r.dataset, version=(top or 0) + 1,
                status="pending", mode=r.mode, producer=r.producer, schema_version=r.schema_version,
                schema_sha256=r.schema_sha256, input_sha256=r.input_sha256, input_file=r.input_file,
                rows_in=0, rows_accepted=0, rows_quarantined=0, rows_total=0, quarantine_reasons={}, files=[],
                staging=str(staging.relative_to(hub.home)), quarantine_path=None, lineage={}, created_at=now())
            s.add(row)
            s.flush()
            out.append(Pending(r.dataset, deposit_id, row.version, row.id, staging,
                               quarantine_dir(hub, r.dataset) / f".staging-{deposit_id}"))
    for p in out:
        p.staging.mkdir(parents=True, mode=0o700)
        p.quarantine_staging.mkdir(parents=True, mode=0o700)
    return out


def save_file_keys(hub: Hub, keys: list[FileKey]) -> None:
    """Record the wrapped keys of a version's files as soon as they are written (before the commit)."""
    with hub.store.write() as s:
        save_keys(s, keys)


def move_into_place(hub: Hub, pending: list[Pending]) -> None:
    for p in pending:
        os.replace(p.staging, lake_dir(hub, p.dataset) / p.dirname)
        os.replace(p.quarantine_staging, quarantine_dir(hub, p.dataset) / p.dirname)


COMMITTED = "committed; not gated yet"
RECOVERY = "hub.doctor"  # the action of what recovery finishes (at a deposit's start, or guichet doctor)


def _event(session: Session, actor: Actor, action: str, dataset: str, version: int, step: str,
           **details: Any) -> None:
    append_event(session, actor, action, obj=f"dataset:{dataset}:v{version}", details={"step": step, **details})


def commit(hub: Hub, actor: Actor, items: list[tuple[Pending, Written]], mode: str, action: str = "deposit.run") -> None:
    """Commit every version of one delivery in one transaction, as ``held`` (complete, invisible), with an
    audit event per version."""
    with hub.store.write() as s:
        for p, w in items:
            folder = lake_dir(hub, p.dataset) / p.dirname
            files = _carried(s, p.dataset, mode, w.files)
            files += [f.entry(str((folder / f.data_file.name).relative_to(hub.home)), p.deposit_id) for f in w.files]
            row = s.get(DatasetVersion, p.row_id)
            assert row is not None
            row.status = "held"
            row.rows_in, row.rows_accepted, row.rows_quarantined = w.rows_in, w.rows_accepted, w.rows_quarantined
            row.rows_total = sum(int(f["rows"]) for f in files)
            row.quarantine_reasons = dict(w.reasons)
            row.files = files
            row.staging = None
            qdir = quarantine_dir(hub, p.dataset) / p.dirname
            row.quarantine_path = str(qdir.relative_to(hub.home))
            lineage = dict(w.lineage)
            lineage["quarantine"] = [{"path": str((qdir / path.name).relative_to(hub.home)), "key_id": k.key_id}
                                     for path, k in w.quarantine_parts]
            if row.producer is not None:  # the dataset's owner and its identifier columns, from its first deposit
                record_dataset(s, p.dataset, row.producer, dict(lineage.get("identifiers") or {}))
            lineage["status_history"] = [{"from": "pending", "to": "held", "why": COMMITTED}]
            row.lineage = lineage
            row.finished_at = now()
            _event(s, actor, action, p.dataset, p.version, "committed", deposit_id=p.deposit_id,
                   rows_in=w.rows_in, rows_accepted=w.rows_accepted, rows_quarantined=w.rows_quarantined)


def _carried(s: Session, dataset: str, mode: str, new: list[WrittenFile]) -> list[dict[str, Any]]:
    """The live version's files the new one keeps: all of them in ``append`` mode; in ``replace`` mode, when
    every new file is a yearly part, those of the years not delivered again (a corrected 2021 file replaces
    2021 only); else none."""
    years = {f.year for f in new}
    if mode != "append" and (None in years or not years):
        return []
    prev = s.execute(select(DatasetVersion).where(
        DatasetVersion.dataset == dataset, DatasetVersion.status.in_(LIVE))
        .order_by(DatasetVersion.version.desc()).limit(1)).scalar_one_or_none()
    files = list(prev.files) if prev is not None else []
    return files if mode == "append" else [f for f in files if f.get("year") is not None and f["year"] not in years]


def roll_back(hub: Hub, pending: list[Pending]) -> None:
    """Undo versions that did not commit: their folders removed, their rows ``rolled_back``."""
    for p in pending:
        for base in (lake_dir(hub, p.dataset), quarantine_dir(hub, p.dataset)):
            shutil.rmtree(base / f".staging-{p.deposit_id}", ignore_errors=True)
            shutil.rmtree(base / p.dirname, ignore_errors=True)
    with hub.store.write() as s:
        for p in pending:
            row = s.get(DatasetVersion, p.row_id)
            if row is not None and row.status == "pending":
                row.status, row.finished_at = "rolled_back", now()


def reject(hub: Hub, actor: Actor, dataset: str, version: int, why: str, action: str = "deposit.run") -> None:
    """A committed version refused by policy: rejected, its data files removed (the quarantine stays for the
    producer's rejection report)."""
    with hub.store.write() as s:
        row = change_status(s, dataset, version, "rejected", why=why, expected=("held",))
        row.files = []
        _event(s, actor, action, dataset, version, "rejected", why=why)
    shutil.rmtree(lake_dir(hub, dataset) / version_dirname(version), ignore_errors=True)


def hold(hub: Hub, actor: Actor, dataset: str, version: int, why: str, action: str = "deposit.run") -> None:
    """A committed version the hub's policy keeps held (an operator may publish it)."""
    with hub.store.write() as s:
        note_status(s, dataset, version, why)
        _event(s, actor, action, dataset, version, "held", why=why)


def gate(hub: Hub, actor: Actor, dataset: str, version: int, action: str = "deposit.run"
         ) -> tuple[str, list[GateVerdict]]:
    """Ask every registered gate; publish the held version when all pass. Answers the status and verdicts."""
    verdicts = run_gates(hub, actor, dataset, version)
    failed = [v for v in verdicts if not v.passed]
    with hub.store.write() as s:
        if failed:
            for v in failed:
                note_status(s, dataset, version, v.why)
            _event(s, actor, action, dataset, version, "held", gates=[v.gate for v in failed])
            return "held", verdicts
        change_status(s, dataset, version, "published", why="; ".join(v.why for v in verdicts) or "no gate",
                      expected=("held",))
        _event(s, actor, action, dataset, version, "published", gates=[v.gate for v in verdicts])
    return "published", verdicts


def interrupted(hub: Hub) -> list[tuple[str, int]]:
    """Versions a crash left committed and never gated: held, and their history ends with the commit."""
    with hub.store.read() as s:
        rows = s.execute(select(DatasetVersion).where(DatasetVersion.status == "held")).scalars()
        return [(v.dataset, v.version) for v in rows
                if ((v.lineage or {}).get("status_history") or [{}])[-1].get("why") == COMMITTED]


def finish_interrupted(hub: Hub, actor: Actor, action: str) -> list[tuple[str, int, str]]:
    """Gate every version a crash left between its commit and its gates (its deposit is no longer running:
    its dataset's lock is free), as ``actor``; the audit trail then explains its state. Answers what became
    of each."""
    out = []
    for dataset, version in interrupted(hub):
        with dataset_locks(hub, [dataset], wait=False) as locked:
            if not locked:
                continue  # the deposit that committed it is still running: it gates it itself
            status, _ = gate(hub, actor, dataset, version, action=action)
            out.append((dataset, version, status))
    return out
