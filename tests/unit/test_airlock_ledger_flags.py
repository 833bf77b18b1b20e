"""The ledger's comparisons on hand-made person sets: a released cell, the union of two released cells of a
table with the same dimensions, and the difference of two nested ones; identical cells are not flagged."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from guichet.airlock import ledger
from guichet.airlock.tables import LedgerCell
from guichet.hub import Hub


def _keys(ids: range | list[int]) -> np.ndarray:
    return ledger.person_keys(f"person-{i}" for i in ids)


def _add(hub: Hub, file_id: int, label: str, ids: range, project: str = "p-2026-0001") -> None:
    keys = _keys(ids)
    with hub.store.write() as s:
        s.add(LedgerCell(request="R-2026-0001", project=project, file_id=file_id, cell=0, dims="age", label=label,
                         count=len(keys), persons=ledger.pack(keys), created_at=datetime.now(UTC), recalled=False))


def test_flags(hub: Hub) -> None:
    _add(hub, 1, "count 00-39", range(0, 20))
    _add(hub, 1, "count 40+", range(20, 40))
    _add(hub, 2, "count all", range(100, 130))
    _add(hub, 2, "count adults", range(100, 125))
    cells = [ledger.Cell(0, "same", _keys(range(0, 20))),  # identical: nothing new
             ledger.Cell(1, "union-1", _keys(range(1, 40))),  # 00-39 ∪ 40+ without one person
             ledger.Cell(2, "minus", _keys(range(125, 129))),  # all − adults, without one person
             ledger.Cell(3, "far", _keys(range(200, 260)))]
    with hub.store.read() as s:
        flags = {f["label"]: f for f in ledger.flags(s, "p-2026-0001", "age", cells, 11)}
    assert set(flags) == {"union-1", "minus"}
    assert flags["union-1"]["apart"] == 1 and flags["union-1"]["against"].startswith("union of")
    assert flags["minus"]["apart"] == 1 and "minus" in flags["minus"]["against"]
    with hub.store.read() as s:  # another project: nothing about the released cells is named
        other = ledger.flags(s, "p-2026-0009", "age", cells, 11)
    assert other and all("count" not in f["against"] for f in other)
    assert ledger.unpack(ledger.pack(_keys(range(5)))).tolist() == _keys(range(5)).tolist()
