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

What is compared (the exact rule; docs/airlock.md says what it does not catch). A released *table* is the
set of unrecalled ledger cells of one released file; identical cells of a table (a count and a mean of the
same persons) count once. Its *minimal cells* are those containing no other cell of the table; when they are
pairwise disjoint they are the table's *partition* and the other cells are its *margins* (totals, subtotals,
possibly with persons of withheld cells). For a new cell N, the candidates are:

- every released cell, of any dimensions and any project;
- for each released table with the new output's dimensions: every non-empty union of its partition cells;
  every margin minus any union of the partition cells inside it; the union of any two of its cells and the
  difference of two nested ones (for a table whose minimal cells overlap, only this pairwise rule).

N is flagged when the smallest |N Δ E| over the candidates E (empty sets aside) is at least one and below the
threshold. A candidate equal to N means N can already be computed from released cells and discloses
nothing new: N is then not flagged. Symmetrically, a released cell R (of the output's dimensions, or of any
dimensions with a size within the threshold of the new output's population) is flagged against the new
output's own cells when a union of two or more of the output's partition cells, or one of its margins holding
persons outside its cells minus some of those cells, differs from R by at least one and fewer than the
threshold persons, unless R equals one of the new cells.

How, at scale. |A Δ B| >= ||A| - |B||: a released cell of other dimensions can only be close to N if its
count is within the threshold of |N|, so the ledger reads, through the index on ``count``, only the cells in
those size windows, plus the cells of the output's dimensions (index on ``dims``). For a partition C1..Ck and
N, |N Δ U| = |N| + sum over Ci in U of (|Ci| - 2|Ci ∩ N|): the best union takes exactly the cells more than
half inside N (the greedy is optimal because the cells are disjoint), and the best margin difference removes
exactly the cells less than half inside N. Every |Ci ∩ N| comes from one binary search of N's persons in the
sorted persons of all loaded cells; the minima are vector reductions over all tables at once.

The flag tells the checker the size of the difference and the expression; cells of another project are
never labelled (the checker learns only how many were combined; the author, only that a released cell is
close).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import or_, select
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
    withheld = {_withheld_key(w) for w in (meta.get("extra") or {}).get("withheld", [])}
    table = pq.read_table(persons_file, columns=["cell", "person"])
    by_cell: dict[int, list[str]] = {}
    for c, p in zip(table.column("cell").to_pylist(), table.column("person").to_pylist(), strict=True):
        if c is not None and c >= 0 and p is not None:
            by_cell.setdefault(int(c), []).append(str(p))
    dims = "|".join(sorted(str(d) for d in meta.get("dims") or []))
    out = []
    for i, cell in enumerate(cells):
        if _withheld_key(cell) in withheld or i not in by_cell:
            continue
        label = f"{cell.get('stat', '')} {'/'.join(str(k) for k in cell.get('key') or [])}".strip()
        out.append((i, label, by_cell[i]))
    return dims, out


def _withheld_key(item: Any) -> tuple[int, str] | None:
    """(row, column) of a cell or of a withheld entry — ``[row, column]`` as ``check.write_suppressed`` lists
    them, or ``{"row", "column"}``."""
    try:
        if isinstance(item, dict):
            return int(item["row"]), str(item["column"])
        row, column = item
        return int(row), str(column)
    except (KeyError, TypeError, ValueError):
        return None


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


_MAX_LABELS = 4
_WINDOWS_PER_QUERY = 200


@dataclass
class _Loaded:
    """Released cells read for one check: the same-dimension cells (whole tables) and the cells of any
    dimensions whose size is within a size window. ``gid`` is a row's position here."""

    ids: list[int]
    project: list[str]
    file: list[int]
    dims: list[str]
    label: list[str]
    keys: list[np.ndarray]

    @property
    def sizes(self) -> np.ndarray:
        return np.array([len(k) for k in self.keys], dtype=np.int64)


def _merged(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(windows):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _load(session: Session, dims: str, windows: list[tuple[int, int]]) -> _Loaded:
    """The unrecalled released cells of ``dims`` and those of any dimensions with a count in one of the
    windows: the size index answers, nothing else is read."""
    cols = (LedgerCell.id, LedgerCell.project, LedgerCell.file_id, LedgerCell.dims, LedgerCell.label,
            LedgerCell.persons)
    base = select(*cols).where(LedgerCell.recalled.is_(False))
    found: dict[int, Any] = {}
    queries = [base.where(LedgerCell.dims == dims)]
    merged = _merged(windows)
    for start in range(0, len(merged), _WINDOWS_PER_QUERY):
        part = merged[start:start + _WINDOWS_PER_QUERY]
        queries.append(base.where(or_(*[LedgerCell.count.between(lo, hi) for lo, hi in part])))
    for q in queries:
        for row in session.execute(q):
            found.setdefault(row.id, row)
    rows = [found[i] for i in sorted(found)]
    return _Loaded([r.id for r in rows], [r.project for r in rows], [r.file_id for r in rows],
                   [r.dims for r in rows], [r.label for r in rows], [unpack(r.persons) for r in rows])


@dataclass
class _Shape:
    """One table's cells seen as sets: ``parts`` its minimal cells (containing no other cell of the table)
    when they are pairwise disjoint, else empty (an overlapping table); ``margins`` the other cells that
    contain persons outside their minimal cells, each with the minimal cells inside it; ``pairs`` the pairs
    (a, b, |a ∩ b|) the pairwise rule looks at. Indices are into the table's own list; identical cells count
    once."""

    parts: list[int]
    margins: list[tuple[int, list[int]]]
    pairs: list[tuple[int, int, int]]


def _shape(keys: list[np.ndarray]) -> _Shape:
    first: dict[bytes, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k.tobytes(), i)
    distinct = sorted(first.values(), key=lambda i: (len(keys[i]), i))
    owner: dict[int, int] = {}
    parts: list[int] = []
    bigger: list[int] = []
    disjoint = True
    for i in distinct:
        touched = Counter(owner[k] for k in keys[i].tolist() if k in owner)
        if not touched:
            parts.append(i)
            owner.update(dict.fromkeys(keys[i].tolist(), i))
        elif any(n == len(keys[c]) for c, n in touched.items()):
            bigger.append(i)  # contains a minimal cell: a margin
        else:
            disjoint = False  # a minimal cell overlapping another: an overlapping table
            break
    if not disjoint:
        pairs = [(a, b, len(np.intersect1d(keys[a], keys[b], assume_unique=True)))
                 for a, b in combinations(sorted(distinct), 2)]
        return _Shape([], [], pairs)
    margins: list[tuple[int, list[int]]] = []
    inside: dict[int, Counter[int]] = {}
    for m in bigger:
        touched = Counter(owner[k] for k in keys[m].tolist() if k in owner)
        inside[m] = touched
        contained = sorted(c for c, n in touched.items() if n == len(keys[c]))
        if len(keys[m]) > sum(len(keys[c]) for c in contained):
            margins.append((m, contained))
    pairs = []
    for x, m in enumerate(bigger):
        for c in parts:
            pairs.append((m, c, inside[m].get(c, 0)))
        for m2 in bigger[x + 1:]:
            pairs.append((m, m2, len(np.intersect1d(keys[m], keys[m2], assume_unique=True))))
    return _Shape(parts, margins, pairs)


def _names(labels: list[str]) -> str:
    shown = ", ".join(labels[:_MAX_LABELS])
    return shown if len(labels) <= _MAX_LABELS else f"{shown} and {len(labels) - _MAX_LABELS} more"


@dataclass
class _Released:
    """The released tables of the new output's dimensions, flattened for vector arithmetic (gids)."""

    part: np.ndarray  # partition cells, grouped by table
    part_start: np.ndarray  # where each table's group starts in ``part``
    margin: np.ndarray  # margins with persons outside their cells
    margin_cells: np.ndarray  # positions in ``part`` of the cells inside each margin, grouped
    margin_start: np.ndarray
    pair_a: np.ndarray
    pair_b: np.ndarray
    pair_kind: np.ndarray  # 0: disjoint (union), 1: b inside a (difference), 2: overlapping (union, explicit)


def _released_tables(rows: _Loaded, dims: str) -> _Released:
    tables: dict[int, list[int]] = {}
    for g, (d, f) in enumerate(zip(rows.dims, rows.file, strict=True)):
        if d == dims:
            tables.setdefault(f, []).append(g)
    part: list[int] = []
    part_start: list[int] = []
    margin: list[int] = []
    margin_cells: list[int] = []
    margin_start: list[int] = []
    pa_, pb, kind = [], [], []
    for gids in tables.values():
        shape = _shape([rows.keys[g] for g in gids])
        if shape.parts:
            where = {c: len(part) + x for x, c in enumerate(shape.parts)}
            part_start.append(len(part))
            part.extend(gids[c] for c in shape.parts)
            for m, contained in shape.margins:
                if contained:
                    margin.append(gids[m])
                    margin_start.append(len(margin_cells))
                    margin_cells.extend(where[c] for c in contained)
        for a, b, inter in shape.pairs:
            ga, gb = gids[a], gids[b]
            if len(rows.keys[gb]) > len(rows.keys[ga]):
                ga, gb = gb, ga
            nb = len(rows.keys[gb])
            pa_.append(ga)
            pb.append(gb)
            kind.append(0 if inter == 0 else 1 if inter == nb else 2)

    def arr(x: list[int]) -> np.ndarray:
        return np.array(x, dtype=np.int64)

    return _Released(arr(part), arr(part_start), arr(margin), arr(margin_cells), arr(margin_start),
                     arr(pa_), arr(pb), arr(kind))


class _Index:
    """All loaded persons sorted once, with their cell: one binary search per person of a new cell gives its
    intersection with every loaded cell."""

    def __init__(self, keys: list[np.ndarray]) -> None:
        self.n = len(keys)
        cat = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
        own = np.repeat(np.arange(self.n, dtype=np.int64), [len(k) for k in keys])
        order = np.argsort(cat, kind="stable")
        self.keys, self.own = cat[order], own[order]

    def inside(self, cell: np.ndarray) -> np.ndarray:
        lo = np.searchsorted(self.keys, cell, side="left")
        hi = np.searchsorted(self.keys, cell, side="right")
        cnt = hi - lo
        total = int(cnt.sum())
        if total == 0:
            return np.zeros(self.n, dtype=np.int64)
        ends = np.cumsum(cnt)
        idx = np.repeat(lo - (ends - cnt), cnt) + np.arange(total)
        return np.bincount(self.own[idx], minlength=self.n).astype(np.int64)


@dataclass
class _Best:
    apart: int
    kind: str
    members: tuple[int, ...]


def _better(best: _Best | None, d: np.ndarray, kind: str, members: Any) -> _Best | None:
    """The smaller of ``best`` and the minimum of ``d`` (``members(i)`` names the argmin's cells)."""
    if len(d) == 0:
        return best
    i = int(np.argmin(d))
    if best is None or int(d[i]) < best.apart:
        return _Best(int(d[i]), kind, tuple(members(i)))
    return best


def _describe(rows: _Loaded, project: str, best: _Best) -> tuple[str, bool]:
    same = all(rows.project[g] == project for g in best.members)
    labels = [rows.label[g] for g in best.members]
    k = len(best.members)
    if best.kind == "single":
        return (f"released cell {labels[0]}" if same else "a cell released to another project"), same
    if best.kind == "union":
        return (f"union of {_names(labels)}" if same else f"union of {k} cells released to another project"), same
    if best.kind == "margin":
        return ((f"{labels[0]} minus {_names(labels[1:])}" if same else
                 f"a cell released to another project minus {k - 1} cell(s) of its table"), same)
    if best.kind == "pair":
        return (f"union of {labels[0]} and {labels[1]}" if same else "union of two cells released to another project"), same
    return ((f"{labels[0]} minus {labels[1]}" if same else "the difference of two cells released to another project"),
            same)


def flags(session: Session, project: str, dims: str, cells: list[Cell], threshold: int) -> list[dict[str, Any]]:
    """The differencing flags of a new output's cells against the ledger (see the module for the exact rule).
    Reads only the released cells of the output's dimensions and those whose size is within the threshold
    of a new cell's (or of the output's whole population's) size."""
    if not cells:
        return []
    t = threshold
    sizes_new = [len(c.keys) for c in cells]
    mine = _shape([c.keys for c in cells])
    combined = len(mine.parts) >= 2 or bool(mine.margins)  # the output's own cells combine into new sets
    population = sum(sizes_new[j] for j in mine.parts) if combined else 0
    windows = [(max(1, n - t + 1), n + t - 1) for n in sizes_new]
    if population:
        windows.append((max(1, population - t + 1), population + t - 1))
    rows = _load(session, dims, windows)
    if not rows.ids:
        return []
    size = rows.sizes
    tables = _released_tables(rows, dims)
    index = _Index(rows.keys)
    inside = np.stack([index.inside(c.keys) for c in cells])  # new cell × released cell: |N ∩ R|
    out: list[dict[str, Any]] = []
    known: set[int] = set()
    for j, cell in enumerate(cells):
        best = _side_new(rows, tables, size, inside[j], sizes_new[j], cell.keys)
        if best is not None and best.apart == 0:
            known.add(j)
        if best is not None and 0 < best.apart < t:
            how, same = _describe(rows, project, best)
            out.append({"cell": cell.index, "label": cell.label, "apart": best.apart, "against": how,
                        "same_project": same})
    out += _side_released(rows, project, dims, cells, mine, size, inside, population, t, known)
    return out


def _side_new(rows: _Loaded, tables: _Released, size: np.ndarray, inn: np.ndarray, n: int,
              keys: np.ndarray) -> _Best | None:
    """The closest released expression to one new cell: a released cell, a union of cells of a partitioned
    table, a margin minus cells inside it, the union or difference of two cells of a table."""
    best = _better(None, n + size - 2 * inn, "single", lambda i: [i])
    if len(tables.part):
        v = size[tables.part] - 2 * inn[tables.part]
        neg = np.add.reduceat(np.minimum(v, 0), tables.part_start)
        low = np.minimum.reduceat(v, tables.part_start)
        d = n + np.where(neg < 0, neg, low)
        ends = np.append(tables.part_start[1:], len(tables.part))

        def union(x: int) -> list[int]:
            seg = slice(int(tables.part_start[x]), int(ends[x]))
            chosen = [int(g) for g, w in zip(tables.part[seg], v[seg], strict=True) if w < 0]
            return chosen or [int(tables.part[seg][int(np.argmin(v[seg]))])]

        best = _better(best, d, "union", union)
        if len(tables.margin):
            gain = np.add.reduceat(np.maximum(v, 0)[tables.margin_cells], tables.margin_start)
            m = tables.margin
            d = n + size[m] - 2 * inn[m] - gain
            mends = np.append(tables.margin_start[1:], len(tables.margin_cells))

            def minus(x: int) -> list[int]:
                seg = tables.margin_cells[int(tables.margin_start[x]):int(mends[x])]
                return [int(m[x])] + [int(tables.part[p]) for p in seg if v[p] > 0]

            best = _better(best, d, "margin", minus)
    if len(tables.pair_a):
        a, b, kind = tables.pair_a, tables.pair_b, tables.pair_kind
        joined = np.where(kind == 0, n + size[a] + size[b] - 2 * (inn[a] + inn[b]), np.iinfo(np.int64).max)
        best = _better(best, joined, "pair", lambda i: [int(a[i]), int(b[i])])
        diff = np.where(kind == 1, n + size[a] - size[b] - 2 * (inn[a] - inn[b]), np.iinfo(np.int64).max)
        best = _better(best, diff, "difference", lambda i: [int(a[i]), int(b[i])])
        limit = best.apart if best is not None else np.iinfo(np.int64).max
        for i in np.flatnonzero(kind == 2):  # overlapping cells: the union itself, when its size could be close
            ga, gb = int(a[i]), int(b[i])
            if size[ga] - n >= limit:
                continue
            u = np.union1d(rows.keys[ga], rows.keys[gb])
            if abs(len(u) - n) >= limit:
                continue
            d1 = n + len(u) - 2 * len(np.intersect1d(keys, u, assume_unique=True))
            if d1 < limit:
                best, limit = _Best(int(d1), "pair", (ga, gb)), int(d1)
    return best


def _side_released(rows: _Loaded, project: str, dims: str, cells: list[Cell], mine: _Shape, size: np.ndarray,
                   inside: np.ndarray, population: int, t: int, known: set[int]) -> list[dict[str, Any]]:
    """The symmetric case: a released cell against the new output's own cells combined — a union of two or
    more of its partition cells, or one of its margins (holding persons outside its cells) minus some of its
    cells — where at least one new cell involved is not already computable from the ledger (``known``:
    positions of new cells some released expression equals). Released cells of the same dimensions, and of
    any dimensions with a size within the threshold of the output's population."""
    if population == 0:
        return []
    keep = np.array([d == dims for d in rows.dims]) | (np.abs(size - population) < t)
    cols = np.flatnonzero(keep)
    if not len(cols):
        return []
    sizes_new = np.array([len(c.keys) for c in cells], dtype=np.int64)
    sub = inside[:, cols]  # new cell × kept released cell
    r = size[cols]
    exact = (sizes_new[:, None] + r[None, :] - 2 * sub == 0).any(axis=0)
    parts = np.array(mine.parts, dtype=np.int64)
    v = sizes_new[parts][:, None] - 2 * sub[parts]  # part × released: what adding the part to a union costs
    fresh = np.array([p not in known for p in mine.parts])
    at = np.arange(len(cols))
    big = np.iinfo(np.int64).max // 4
    ways: list[tuple[np.ndarray, np.ndarray, int | None]] = []  # (apart, forced part position, margin)
    if len(parts) >= 2 and fresh.any():
        # the best union of two or more parts that contains part j, for each fresh j; then the best j
        negative = np.minimum(v, 0)
        order = np.argsort(v, axis=0, kind="stable")
        first, second = order[0], order[1]
        other_low = np.where(np.arange(len(parts))[:, None] == first[None, :], v[second, at], v[first, at])
        rest_neg = negative.sum(axis=0)[None, :] - negative
        rest_count = (v < 0).sum(axis=0)[None, :] - (v < 0)
        forced = r[None, :] + v + np.where(rest_count >= 1, rest_neg, other_low)
        forced[~fresh] = big
        ways.append((forced.min(axis=0), forced.argmin(axis=0), None))
    for m, contained in mine.margins:
        pos = np.array([mine.parts.index(c) for c in contained], dtype=np.int64)
        vc = v[pos]
        gain = np.maximum(vc, 0)
        base = r + sizes_new[m] - 2 * sub[m]
        # removing part j and every other part more than half outside the released cell
        each = base[None, :] - vc - (gain.sum(axis=0)[None, :] - gain)
        if m in known:
            each[~fresh[pos]] = big
        ways.append((each.min(axis=0), pos[each.argmin(axis=0)], m))
    out = []
    for x, g in enumerate(cols):
        if exact[x] or not ways:
            continue
        d_all, j_all, m_all = zip(*[(int(w[x]), int(j[x]), m) for w, j, m in ways], strict=True)
        k = int(np.argmin(d_all))
        d, j, how = d_all[k], j_all[k], m_all[k]
        if not 0 < d < t:
            continue
        if how is None:
            others = [i for i in range(len(parts)) if i != j and v[i, x] < 0]
            if not others:
                others = [min((i for i in range(len(parts)) if i != j), key=lambda i: (v[i, x], i))]
            chosen = [mine.parts[i] for i in sorted({j, *others})]
            label = f"union of this output's cells {_names([cells[p].label for p in chosen])}"
            first_cell = mine.parts[j]
        else:
            contained = next(c for mm, c in mine.margins if mm == how)
            removed = [c for c in contained if c == mine.parts[j] or v[mine.parts.index(c), x] > 0]
            label = f"this output's cell {cells[how].label} minus its cells {_names([cells[c].label for c in removed])}"
            first_cell = how
        same = rows.project[g] == project
        out.append({"cell": cells[first_cell].index, "label": label, "apart": d,
                    "against": f"released cell {rows.label[g]}" if same else "a cell released to another project",
                    "same_project": same})
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
