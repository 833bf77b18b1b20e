"""The hub-wide differencing ledger: for every released cell, the hub persons behind it, compactly; and the
check of a new output's cells against every released cell, whatever the project.

Mapping a project's surrogates back to hub persons: a workspace's person surrogate is the custodian's
project pseudonym of the hub person id (``workspace.build``: ``pseudonymise(person_id, "project",
purpose="extract:<project>")``). Inside the hub, the ledger re-derives the same mapping: it reads the person
index's person ids, asks the custodian for their project pseudonyms under the very purpose the build used,
and inverts the answer. Nothing new is stored at build time and no mapping table exists outside the
custodian's key: the inverse lives only in memory while a request is checked or released.

A hub person is stored as a 64-bit key (BLAKE2b of the person id, personalised to the ledger): the ledger
holds sorted ``uint64`` arrays, 8 bytes a person, never the person ids themselves; a collision (about one
in 10^19 pairs) could only hide a difference of one person.

A new cell is flagged when its persons differ, by at least one and fewer than the threshold, from a released
cell, from the union of two released cells of one table with the same dimensions, or from the difference of
two such cells (one containing the other). The flag tells the checker the size of the difference and whether
the released cell is of the same project; another project's cells are never described.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.airlock.tables import LedgerCell
from guichet.analysis import metadata as md
from guichet.hub import Hub

_SALT = b"guichet-ledger"
_CACHE: dict[tuple[str, str, int], dict[str, str]] = {}


def person_keys(ids: Iterable[str]) -> np.ndarray:
    """Sorted distinct 64-bit keys of hub person ids."""
    keys = {int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8, person=_SALT).digest(), "little")
            for i in ids}
    return np.array(sorted(keys), dtype=np.uint64)


def pack(keys: np.ndarray) -> bytes:
    return keys.astype("<u8").tobytes()


def unpack(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<u8").astype(np.uint64)


def hub_persons(hub: Hub, project: str) -> dict[str, str]:
    """Surrogate → hub person id for ``project``, re-derived through the custodian (see the module)."""
    from guichet.custodian import custodian_for
    from guichet.linkage.index import latest, read_file

    run = latest(hub)
    if run is None:
        return {}
    key = (str(hub.home), project, int(run.version))
    if key not in _CACHE:
        ids = pa.compute.unique(read_file(hub, run, "index", columns=["person_id"]).column("person_id")
                                .combine_chunks().cast(pa.string()).drop_null())
        custodian = custodian_for(hub.config, caller="airlock")
        out: dict[str, str] = {}
        step = 200_000
        for start in range(0, len(ids), step):
            part = ids.slice(start, step)
            pseud = custodian.pseudonymise(part, "project", purpose=f"extract:{project}", project=project)
            out.update(zip(pseud.to_pylist(), part.to_pylist(), strict=True))
        _CACHE.clear()  # one project at a time in memory
        _CACHE[key] = out
    return _CACHE[key]


@dataclass
class Cell:
    index: int
    label: str
    keys: np.ndarray  # hub person keys


def output_cells(path: Path) -> tuple[str, list[tuple[int, str, list[str]]]] | None:
    """The dimensions and the cells (index, label, surrogates) of a helper-written output, from its sidecar and
    persons file; None for a file without them (a plain CSV, a figure). Withheld cells are left out."""
    meta = md.read(path)
    persons_file = md.persons_path(path)
    if meta is None or not persons_file.is_file() or meta.get("sha256") != md.sha256(path):
        return None
    cells = meta.get("cells") or []
    withheld = {(w.get("row"), w.get("column")) for w in (meta.get("extra") or {}).get("withheld", [])
                if isinstance(w, dict)}
    table = pq.read_table(persons_file, columns=["cell", "person"])
    by_cell: dict[int, list[str]] = {}
    for c, p in zip(table.column("cell").to_pylist(), table.column("person").to_pylist(), strict=True):
        if c is not None and c >= 0 and p is not None:
            by_cell.setdefault(int(c), []).append(str(p))
    dims = "|".join(sorted(str(d) for d in meta.get("dims") or []))
    out = []
    for i, cell in enumerate(cells):
        if (cell.get("row"), cell.get("column")) in withheld or i not in by_cell:
            continue
        label = f"{cell.get('stat', '')} {'/'.join(str(k) for k in cell.get('key') or [])}".strip()
        out.append((i, label, by_cell[i]))
    return dims, out


def to_hub(hub: Hub, project: str, cells: list[tuple[int, str, list[str]]]) -> tuple[list[Cell], int]:
    """The cells with their hub persons, and how many distinct surrogates could not be mapped (an output not
    made from this hub's extract, or persons gone from the current index). A cell left without any mapped
    person is dropped: an empty set would compare as "everyone is different"."""
    mapping = hub_persons(hub, project)
    out: list[Cell] = []
    unmapped: set[str] = set()
    for i, label, surrogates in cells:
        known = [mapping[s] for s in surrogates if s in mapping]
        unmapped.update(s for s in surrogates if s not in mapping)
        if known:
            out.append(Cell(i, label, person_keys(known)))
    return out, len(unmapped)


def _released(session: Session) -> list[LedgerCell]:
    return list(session.execute(select(LedgerCell).where(LedgerCell.recalled.is_(False))
                                .order_by(LedgerCell.id)).scalars())


def _apart(a: np.ndarray, b: np.ndarray) -> int:
    return len(np.setxor1d(a, b, assume_unique=True))


def flags(session: Session, project: str, dims: str, cells: list[Cell], threshold: int) -> list[dict[str, Any]]:
    """The differencing flags of a new output's cells against the ledger (see the module)."""
    released = _released(session)
    candidates: list[tuple[str, bool, np.ndarray]] = []  # (how, same project, persons)
    for r in released:
        candidates.append((f"released cell {r.label}" if r.project == project else "a cell released to another project",
                           r.project == project, unpack(r.persons)))
    by_file: dict[int, list[LedgerCell]] = {}
    for r in released:
        if r.dims == dims:
            by_file.setdefault(r.file_id, []).append(r)
    for group in by_file.values():
        for a, b in combinations(group, 2):
            pa_, pb = unpack(a.persons), unpack(b.persons)
            same = a.project == project
            what = f"{a.label} and {b.label}" if same else "two cells released to another project"
            candidates.append((f"union of {what}", same, np.union1d(pa_, pb)))
            for big, small, x, y in ((pa_, pb, a, b), (pb, pa_, b, a)):
                if len(small) < len(big) and len(np.setdiff1d(small, big, assume_unique=True)) == 0:
                    label = f"{x.label} minus {y.label}" if same else "the difference of two cells released to another project"
                    candidates.append((label, same, np.setdiff1d(big, small, assume_unique=True)))
    out = []
    for cell in cells:
        for how, same, persons in candidates:
            d = _apart(cell.keys, persons)
            if 0 < d < threshold:
                out.append({"cell": cell.index, "label": cell.label, "apart": d, "against": how,
                            "same_project": same})
                break
    return out


def record(session: Session, request: str, project: str, file_id: int, dims: str, cells: list[Cell]) -> int:
    now = datetime.now(UTC)
    for c in cells:
        session.add(LedgerCell(request=request, project=project, file_id=file_id, cell=c.index, dims=dims[:400],
                               label=c.label[:400], count=len(c.keys), persons=pack(c.keys), created_at=now,
                               recalled=False))
    return len(cells)


def summary(flag: dict[str, Any]) -> str:
    return json.dumps(flag, sort_keys=True)
