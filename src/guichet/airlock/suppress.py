"""Secondary suppression for one- and two-dimensional tables with margins.

A table with a total row and/or a total column is a linear system: each row sums to its total, each column
to its total. Withholding a cell is not enough when the released cells and totals let it be computed. The
system is a graph: one node per equation (a row's equation exists when the table has a total column, a
column's when it has a total row; a missing equation is the *ground* node, which absorbs any change) and
one edge per cell, between its row's and its column's equation. Moving a value round a cycle of withheld
cells (+t, −t, … alternately, margins following) keeps every equation true, so a withheld cell that lies on a
cycle of withheld cells can take a range of values — as wide as the smallest withheld cell that decreases
along it; a withheld cell on no cycle (a bridge) is fixed by the others. The algorithm therefore gives each
primary cell a cycle: the cheapest path between its two ends through cells already withheld (free) or
released cells with a positive value (cost: their value, margins dearer, the grand total dearest), withheld in
turn. Every withheld cell then lies on a cycle of cells of which all but perhaps the primary are positive.
``tests/property/test_airlock_suppression.py`` proves it on random tables by linear programming: every
withheld cell's feasible interval, given the released cells and the equations, has a positive width.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

Pos = tuple[int, int]
GROUND = ("g", -1)
MARGIN_COST = 4.0  # a total is dearer to withhold than an inner cell of the same value
GRAND_COST = 1e6


@dataclass
class Grid:
    values: list[list[float]]  # rows x columns, the total row and column included when present
    total_row: int | None = None
    total_col: int | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.values), len(self.values[0]) if self.values else 0

    def ends(self, pos: Pos) -> tuple[tuple[str, int], tuple[str, int]]:
        i, j = pos
        a = ("r", i) if self.total_col is not None else GROUND
        b = ("c", j) if self.total_row is not None else GROUND
        return a, b

    def cells(self) -> Iterable[Pos]:
        rows, cols = self.shape
        for i in range(rows):
            for j in range(cols):
                yield i, j

    def equations(self) -> list[tuple[list[Pos], Pos]]:
        """(parts, total): the sum of the parts equals the total."""
        rows, cols = self.shape
        out = []
        if self.total_col is not None:
            for i in range(rows):
                out.append(([(i, j) for j in range(cols) if j != self.total_col], (i, self.total_col)))
        if self.total_row is not None:
            for j in range(cols):
                out.append(([(i, j) for i in range(rows) if i != self.total_row], (self.total_row, j)))
        return out

    def cost(self, pos: Pos) -> float:
        i, j = pos
        v = float(self.values[i][j])
        if i == self.total_row and j == self.total_col:
            return GRAND_COST + v
        if i == self.total_row or j == self.total_col:
            return MARGIN_COST * v + 1
        return v + 1


def secondary(grid: Grid, primary: set[Pos], withheld: set[Pos] | None = None) -> set[Pos]:
    """The cells to withhold besides ``primary`` (and the ``withheld`` ones, already absent) so that no
    withheld cell can be computed from the released ones."""
    suppressed = set(primary) | set(withheld or ())
    if grid.total_row is None and grid.total_col is None:
        return set()
    added: set[Pos] = set()
    for pos in sorted(suppressed, key=lambda p: (grid.values[p[0]][p[1]], p)):
        if _on_cycle(grid, suppressed, pos):
            continue
        path = _cheapest_path(grid, suppressed, pos)
        if path is None:  # nothing can protect it: withhold its whole row and column
            path = [p for p in grid.cells() if (p[0] == pos[0] or p[1] == pos[1]) and p not in suppressed]
        for p in path:
            suppressed.add(p)
            if p not in primary and p not in (withheld or set()):
                added.add(p)
    return added


def _adjacency(grid: Grid, cells: Iterable[Pos], skip: Pos) -> dict[tuple[str, int], list[tuple[tuple[str, int], Pos]]]:
    adj: dict[tuple[str, int], list[tuple[tuple[str, int], Pos]]] = {}
    for p in cells:
        if p == skip:
            continue
        a, b = grid.ends(p)
        adj.setdefault(a, []).append((b, p))
        adj.setdefault(b, []).append((a, p))
    return adj


def _on_cycle(grid: Grid, suppressed: set[Pos], pos: Pos) -> bool:
    a, b = grid.ends(pos)
    if a == b:
        return True
    adj = _adjacency(grid, suppressed, pos)
    seen = {a}
    stack = [a]
    while stack:
        node = stack.pop()
        if node == b:
            return True
        for nxt, _ in adj.get(node, []):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _cheapest_path(grid: Grid, suppressed: set[Pos], pos: Pos) -> list[Pos] | None:
    """The released cells to withhold, cheapest first, that join ``pos``'s two ends without ``pos``."""
    a, b = grid.ends(pos)
    adj: dict[tuple[str, int], list[tuple[tuple[str, int], Pos, float]]] = {}
    for p in grid.cells():
        if p == pos:
            continue
        if p in suppressed:
            w = 0.0
        elif grid.values[p[0]][p[1]] > 0:
            w = grid.cost(p)
        else:
            continue  # a zero cannot move down: it protects nothing
        u, v = grid.ends(p)
        adj.setdefault(u, []).append((v, p, w))
        adj.setdefault(v, []).append((u, p, w))
    dist = {a: 0.0}
    back: dict[tuple[str, int], tuple[tuple[str, int], Pos]] = {}
    heap: list[tuple[float, tuple[str, int]]] = [(0.0, a)]
    while heap:
        d, node = heapq.heappop(heap)
        if node == b:
            break
        if d > dist.get(node, float("inf")):
            continue
        for nxt, p, w in adj.get(node, []):
            nd = d + w
            if nd < dist.get(nxt, float("inf")):
                dist[nxt] = nd
                back[nxt] = (node, p)
                heapq.heappush(heap, (nd, nxt))
    if b not in dist:
        return None
    path = []
    node = b
    while node != a:
        node, p = back[node]
        if p not in suppressed:
            path.append(p)
    return path
