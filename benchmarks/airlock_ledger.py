"""The differencing ledger's check of a new output: the algorithm as it was on main (every released cell
unpacked, compared one by one, plus unions of two cells and differences of two nested ones of each
same-dimension table) against the current one (size windows through the index on ``count``, the tables of
the output's dimensions, unions of any number of disjoint cells by one vectorised pass).

Synthetic ledger in a fresh SQLite hub: ``--tables`` released tables over a population of 50,000 hub
persons, each a random sub-population of 60 to 600 cut into ``--bands`` equal disjoint cells plus its total
(so 20,004 cells by default: 3,334 tables of five bands and a total), spread over 20 sets of dimensions.
The new output (same dimensions as one twentieth of the ledger): ``--cells`` cells, a partition of a sub-population into bands
plus a total per ten bands, and, planted, four cells each equal to the union of three of the five bands of a
released table without one person (which the old algorithm cannot see: it knows unions of two cells and
differences of two nested ones only).

Old and new alternate, ``--runs`` times each; medians, absolute figures and the ratio are printed, with
how many cells each flagged.

    .venv/bin/python benchmarks/airlock_ledger.py              # 20,004 released cells, 200 new cells
    .venv/bin/python benchmarks/airlock_ledger.py --quick      # 2,004 released cells, 50 new cells
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from guichet.airlock import ledger  # noqa: E402
from guichet.airlock.tables import LedgerCell  # noqa: E402

POPULATION = 50_000
DIMS = [f"dim{i}|year" for i in range(20)]
THRESHOLD = 11


# --- the baseline: ledger.flags as it is on main (commit 6720fbd), copied unchanged ----------------------

def _released(session: Session) -> list[LedgerCell]:
    return list(session.execute(select(LedgerCell).where(LedgerCell.recalled.is_(False))
                                .order_by(LedgerCell.id)).scalars())


def _apart(a: np.ndarray, b: np.ndarray) -> int:
    return len(np.setxor1d(a, b, assume_unique=True))


def old_flags(session: Session, project: str, dims: str, cells: list[ledger.Cell],
              threshold: int) -> list[dict[str, Any]]:
    released = _released(session)
    candidates: list[tuple[str, bool, np.ndarray]] = []  # (how, same project, persons)
    for r in released:
        candidates.append((f"released cell {r.label}" if r.project == project else "a cell released to another project",
                           r.project == project, ledger.unpack(r.persons)))
    by_file: dict[int, list[LedgerCell]] = {}
    for r in released:
        if r.dims == dims:
            by_file.setdefault(r.file_id, []).append(r)
    for group in by_file.values():
        for a, b in combinations(group, 2):
            pa_, pb = ledger.unpack(a.persons), ledger.unpack(b.persons)
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


# --- synthetic data --------------------------------------------------------------------------------------

def _keys(rng: np.random.Generator, n: int) -> np.ndarray:
    ids = rng.choice(POPULATION, size=n, replace=False)
    return ledger.person_keys(f"person-{i}" for i in ids)


def build_ledger(session: Session, rng: np.random.Generator, tables: int, bands: int) -> list[list[np.ndarray]]:
    """Released tables; answers the band cells of the tables of DIMS[0] (where attacks are planted)."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    planted: list[list[np.ndarray]] = []
    for f in range(tables):
        dims = DIMS[f % len(DIMS)]
        people = _keys(rng, int(rng.integers(60, 600)))
        parts = [np.sort(p) for p in np.array_split(rng.permutation(people), bands)]  # 15 persons or more
        if dims == DIMS[0]:
            planted.append(parts)
        for i, cell in enumerate([*parts, people]):
            label = f"count b{i}" if i < bands else "count Total"
            rows.append({"request": f"R-2026-{f % 10_000:04d}", "project": f"p-2026-{f % 7:04d}", "file_id": f,
                         "cell": i, "dims": dims, "label": label, "count": len(cell), "persons": ledger.pack(cell),
                         "created_at": now, "recalled": False})
    for start in range(0, len(rows), 2000):
        session.execute(insert(LedgerCell), rows[start:start + 2000])
    return planted


def new_output(rng: np.random.Generator, cells: int, planted: list[list[np.ndarray]],
               attacks: int) -> list[ledger.Cell]:
    out: list[ledger.Cell] = []
    bands = (cells - attacks) * 10 // 11
    people = _keys(rng, 25 * bands)
    parts = [np.sort(p) for p in np.array_split(rng.permutation(people), bands)]
    for i, p in enumerate(parts):
        out.append(ledger.Cell(len(out), f"count n{i}", p))
    for g in range(0, bands, 10):
        out.append(ledger.Cell(len(out), f"count group {g}", np.sort(np.concatenate(parts[g:g + 10]))))
    for a in range(attacks):  # a released table's three first bands without one person
        bands_of = planted[a % len(planted)]
        union = np.sort(np.concatenate(bands_of[:3]))
        out.append(ledger.Cell(len(out), f"count attack {a}", np.delete(union, len(union) // 2)))
    assert len(out) <= cells
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", type=int, default=3334)
    parser.add_argument("--bands", type=int, default=5)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="334 tables (2,004 cells), 50 new cells")
    args = parser.parse_args()
    if args.quick:
        args.tables, args.cells = 334, 50
    from guichet.hub import open_hub
    from guichet.lifecycle.init import InitRequest, init_hub

    rng = np.random.default_rng(21)
    with tempfile.TemporaryDirectory(prefix="guichet-bench-ledger-") as tmp:
        home = Path(tmp) / "hub"
        init_hub(InitRequest(home=home, custodian_home=Path(tmp) / "custodian", mode="development"))
        hub = open_hub(home)
        try:
            with hub.store.write() as s:
                planted = build_ledger(s, rng, args.tables, args.bands)
            cells = new_output(rng, args.cells, planted, attacks=4)
            n_ledger = args.tables * (args.bands + 1)
            print(f"ledger: {n_ledger} released cells in {args.tables} tables over {len(DIMS)} sets of dimensions; "
                  f"new output: {len(cells)} cells (4 planted unions of three bands minus one person); "
                  f"threshold {THRESHOLD}")
            times: dict[str, list[float]] = {"old": [], "new": []}
            flagged: dict[str, int] = {}
            for _ in range(args.runs):
                for name, fn in (("old", old_flags), ("new", ledger.flags)):
                    with hub.store.read() as s:
                        t0 = time.perf_counter()
                        found = fn(s, "p-2026-0001", DIMS[0], cells, THRESHOLD)
                        times[name].append(time.perf_counter() - t0)
                    flagged[name] = len({f["cell"] for f in found if f["label"].startswith("count attack")})
                    print(f"  {name}: {times[name][-1]:.2f} s", flush=True)
        finally:
            hub.close()
    old, new = statistics.median(times["old"]), statistics.median(times["new"])
    print(f"median over {args.runs} alternating runs: old {old:.2f} s, new {new:.2f} s, ratio {old / new:.1f}x")
    print(f"planted attacks flagged: old {flagged['old']}/4, new {flagged['new']}/4")


if __name__ == "__main__":
    main()
