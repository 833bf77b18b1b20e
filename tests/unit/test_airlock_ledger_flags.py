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


def test_margin_minus_several_cells_and_unions_of_many(hub: Hub) -> None:
    """A released table by band with a total that holds a withheld band: the total minus all the released
    bands is the withheld band; a union of three bands without one person; a cell equal to a union is not
    flagged (nothing new); another project's cells are counted, never named."""
    for i in range(4):
        _add(hub, 3, f"count b{i}", range(300 + 20 * i, 320 + 20 * i))
    _add(hub, 3, "count total", range(300, 385))  # 380-384: a withheld band
    cells = [ledger.Cell(0, "withheld", _keys(range(380, 384))),  # total − b0 − b1 − b2 − b3, one person short
             ledger.Cell(1, "three", _keys(range(301, 360))),  # b0 ∪ b1 ∪ b2 without one person
             ledger.Cell(2, "exact", _keys(range(300, 360))),  # b0 ∪ b1 ∪ b2 exactly
             ledger.Cell(3, "exact-withheld", _keys(range(380, 385)))]  # the withheld band exactly: derivable
    with hub.store.read() as s:
        flags = {f["label"]: f for f in ledger.flags(s, "p-2026-0001", "age", cells, 11)}
    assert set(flags) == {"withheld", "three"}
    assert flags["withheld"]["apart"] == 1
    assert flags["withheld"]["against"] == "count total minus count b0, count b1, count b2, count b3"
    assert flags["three"]["apart"] == 1 and flags["three"]["against"] == "union of count b0, count b1, count b2"
    with hub.store.read() as s:
        other = {f["label"]: f for f in ledger.flags(s, "p-2026-0009", "age", cells, 11)}
    assert other["three"]["against"] == "union of 3 cells released to another project"
    assert "count" not in other["withheld"]["against"] and not other["withheld"]["same_project"]
