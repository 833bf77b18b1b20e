"""Atomicity: per-dataset locks, staging folders, the rename, crash points and recovery.

A deposit records a *pending* version, writes encrypted files in a staging folder, renames the folder into
place, then commits the version. Recovery (at every deposit's start and in ``guichet doctor``) rolls back
pending versions whose deposit is no longer running (its dataset lock is free) and removes orphan folders,
so that a crash at any moment leaves the old state or the new one.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from guichet.errors import BadInput
from guichet.hub import Hub
from guichet.lake.tables import DatasetVersion

DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
LIVE = ("published", "held")
# Lake folders other stages own (the linkage stage's person index): no dataset may take their names.
RESERVED = frozenset({"linkage"})


def now() -> datetime:
    return datetime.now(UTC)


def check_dataset_name(name: str) -> str:
    if not DATASET_NAME.match(name) or ".." in name:
        raise BadInput(f"--dataset {name!r}: letters, digits, '_', '-' and '.' only")
    if name.lower() in RESERVED:
        raise BadInput(f"--dataset {name!r}: reserved for the hub's own data (lake/{name.lower()}/)")
    return name


def lake_dir(hub: Hub, dataset: str) -> Path:
    return hub.config.folder("lake") / dataset


def quarantine_dir(hub: Hub, dataset: str) -> Path:
    return hub.config.folder("quarantine") / dataset


def version_dirname(version: int) -> str:
    return f"v{version:05d}"


def crash_point(wanted: str | None, here: str) -> None:
    """Test harness hook: die like ``kill -9`` at a step boundary (no clean-up runs)."""
    if wanted == here:
        os.kill(os.getpid(), signal.SIGKILL)


def _lock_path(hub: Hub, dataset: str) -> Path:
    folder = lake_dir(hub, dataset)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / ".lock"


@contextmanager
def dataset_locks(hub: Hub, datasets: list[str], *, wait: bool = True) -> Iterator[bool]:
    """Serialise deposits to the same datasets (sorted order: no deadlock between deliveries). With
    ``wait=False`` the block gets False, holding nothing, when a lock is taken."""
    handles: list[Any] = []
    try:
        for name in sorted(set(datasets)):
            fh = _lock_path(hub, name).open("a+")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                for held in reversed(handles):
                    fcntl.flock(held, fcntl.LOCK_UN)
                    held.close()
                handles = []
                yield False
                return
            handles.append(fh)
        yield True
    finally:
        for fh in reversed(handles):
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()


def _try_lock(hub: Hub, dataset: str) -> object | None:
    fh = _lock_path(hub, dataset).open("a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def _release(fh: object) -> None:
    fcntl.flock(fh, fcntl.LOCK_UN)  # type: ignore[arg-type]
    fh.close()  # type: ignore[attr-defined]


def recover(hub: Hub, held: set[str] | None = None) -> tuple[int, int]:
    """Roll back abandoned pending versions and remove orphan folders. Returns (rolled back, removed).

    ``held`` names datasets whose lock the caller already holds (their pending rows are the caller's own
    business only if it is mid-deposit; recovery is called before a deposit starts its work).
    """
    rolled = removed = 0
    # Only the deposit's own datasets: other stages keep folders in the lake too (lake/linkage/ holds the
    # person index), and a folder no version row names is not the deposit's to remove. A deposit records its
    # pending row before it creates any folder, so a crashed deposit is always named here.
    with hub.store.read() as s:
        names = set(s.execute(select(DatasetVersion.dataset).distinct()).scalars().all())
    for dataset in sorted(names):
        own = held is not None and dataset in held
        fh = None if own else _try_lock(hub, dataset)
        if fh is None and not own:
            continue  # a deposit is running on it
        try:
            r, m = _recover_dataset(hub, dataset)
            rolled, removed = rolled + r, removed + m
        finally:
            if fh is not None:
                _release(fh)
    return rolled, removed


def _recover_dataset(hub: Hub, dataset: str) -> tuple[int, int]:
    rolled = removed = 0
    with hub.store.write() as s:
        rows = s.execute(select(DatasetVersion).where(DatasetVersion.dataset == dataset)).scalars().all()
        for v in rows:
            if v.status == "pending":
                v.status, v.finished_at = "rolled_back", now()
                rolled += 1
        keep_lake = {version_dirname(v.version) for v in rows if v.status in LIVE}
        # a rejected version keeps its quarantine: the producer's rejection report reads it
        keep_quarantine = keep_lake | {version_dirname(v.version) for v in rows if v.status == "rejected"}
    for base, keep in ((lake_dir(hub, dataset), keep_lake), (quarantine_dir(hub, dataset), keep_quarantine)):
        if not base.is_dir():
            continue
        for child in base.iterdir():
            if child.name == ".lock":
                continue
            if child.name.startswith(".staging-") or (child.is_dir() and child.name not in keep):
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
                removed += 1
    return rolled, removed


def purge_quarantine(hub: Hub, days: int) -> int:
    """Delete quarantine folders older than the retention period; returns how many versions were purged."""
    cutoff = now().timestamp() - days * 86400
    purged = 0
    with hub.store.write() as s:
        rows = s.execute(select(DatasetVersion).where(DatasetVersion.purged_at.is_(None),
                                                      DatasetVersion.quarantine_path.is_not(None))).scalars().all()
        for v in rows:
            created = v.created_at if v.created_at.tzinfo else v.created_at.replace(tzinfo=UTC)
            if created.timestamp() < cutoff and v.status != "pending":
                folder = hub.home / str(v.quarantine_path)
                shutil.rmtree(folder, ignore_errors=True)
                v.purged_at = now()
                purged += 1
    return purged
