"""Suppression that holds: on random one- and two-dimensional tables with margins, no withheld cell can be
computed from the released ones. For every withheld cell, linear programming over the table's equations
(each row and column sums to its total, every cell >= 0, released cells fixed) gives the least and the
greatest value it can take; the interval must have a positive width for every withheld cell."""

from __future__ import annotations

import random

import pytest

from guichet.airlock.suppress import Grid, Pos, secondary

linprog = pytest.importorskip("scipy.optimize", reason="scipy (dev extra) solves the linear system").linprog

pytestmark = pytest.mark.property


def feasible_interval(grid: Grid, withheld: set[Pos], target: Pos) -> tuple[float, float]:
    """[min, max] of ``target`` over the tables consistent with the released cells and the equations."""
    unknown = sorted(withheld)
    index = {p: k for k, p in enumerate(unknown)}
    a_eq, b_eq = [], []
    for parts, total in grid.equations():
        row = [0.0] * len(unknown)
        rhs = 0.0
        for p, sign in [*((q, 1.0) for q in parts), (total, -1.0)]:
            if p in index:
                row[index[p]] += sign
            else:
                rhs -= sign * grid.values[p[0]][p[1]]
        if any(row):
            a_eq.append(row)
            b_eq.append(rhs)
    c = [0.0] * len(unknown)
    c[index[target]] = 1.0
    kwargs = {"A_eq": a_eq or None, "b_eq": b_eq or None, "bounds": [(0, None)] * len(unknown), "method": "highs"}
    low = linprog(c, **kwargs)
    high = linprog([-x for x in c], **kwargs)
    assert low.status == 0 and high.status in (0, 3)
    return low.fun, (float("inf") if high.status == 3 else -high.fun)


def random_table(rng: random.Random, rows: int, cols: int, with_row: bool, with_col: bool) -> Grid:
    inner = [[rng.choice([0, 1, 2, 3, 5, 8, 12, 15, 20, 40, 90, 200]) for _ in range(cols)] for _ in range(rows)]
    values = [list(map(float, r)) for r in inner]
    if with_col:
        for r in values:
            r.append(sum(r))
    if with_row:
        values.append([sum(values[i][j] for i in range(rows)) for j in range(len(values[0]))])
    return Grid(values, rows if with_row else None, cols if with_col else None)


def primary_cells(grid: Grid, threshold: int = 11) -> set[Pos]:
    return {p for p in grid.cells() if 0 < grid.values[p[0]][p[1]] < threshold}


@pytest.mark.parametrize("seed", range(60))
def test_no_withheld_cell_is_determined(seed: int) -> None:
    rng = random.Random(seed)
    shape = rng.choice([(1, 4), (5, 1), (3, 3), (4, 6), (7, 5), (2, 9)])
    margins = rng.choice([(True, True), (True, False), (False, True)])
    if shape[0] == 1:
        margins = (False, True)
    if shape[1] == 1:
        margins = (True, False)
    grid = random_table(rng, *shape, *margins)
    primary = primary_cells(grid)
    withheld = primary | secondary(grid, primary)
    for target in withheld:
        low, high = feasible_interval(grid, withheld, target)
        assert high - low > 0.5, (seed, target, low, high)  # counts: a positive width is at least 1
        assert low <= grid.values[target[0]][target[1]] <= high


def test_a_total_would_reveal_the_single_small_cell_without_secondary_suppression() -> None:
    # sex x age with margins; only one cell under 11: withheld alone, its row total gives it back.
    grid = Grid([[82.0, 56.0, 8.0, 146.0], [82.0, 61.0, 11.0, 154.0], [164.0, 117.0, 19.0, 300.0]], 2, 3)
    alone = {(0, 2)}
    low, high = feasible_interval(grid, alone, (0, 2))
    assert low == high == 8.0
    withheld = alone | secondary(grid, alone)
    assert len(withheld) >= 4
    for target in withheld:
        low, high = feasible_interval(grid, withheld, target)
        assert high - low >= 1


def test_one_dimensional_table_with_a_total() -> None:
    grid = Grid([[40.0], [3.0], [25.0], [68.0]], 3, None)
    withheld = {(1, 0)} | secondary(grid, {(1, 0)})
    assert withheld == {(1, 0), (2, 0)}  # the smallest other cell, not the total
    for target in withheld:
        low, high = feasible_interval(grid, withheld, target)
        assert high - low >= 1
