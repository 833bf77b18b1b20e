"""The differencing ledger against an independent brute force. For random small released tables (disjoint
cells, sometimes a margin holding withheld persons, sometimes an unrelated released cell) and a random new
cell, the ledger flags the cell exactly when the smallest non-zero difference found by enumerating every
released cell, every non-empty union of the table's cells (all 2^k subsets, k <= 7), every margin minus any
subset of the cells inside it, and every union or nested difference of two cells is below the threshold —
and none of those expressions equals the new cell. And symmetrically: a released cell is flagged against
the new output's own cells exactly when a union of two or more of them, or one of its margins holding
persons outside its cells minus some of those cells, differs from it by fewer than the threshold (and it
is not one of the new cells)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain, combinations
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from guichet.airlock import ledger
from guichet.airlock.tables import LedgerCell
from guichet.hub import Hub
from tests.conftest import make_hub

pytestmark = pytest.mark.property
PEOPLE = 40
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    h = make_hub(Path(tmp_path_factory.mktemp("oracle")))
    yield h
    h.close()


def _subsets(items: list[frozenset[int]], least: int = 1) -> Iterator[tuple[frozenset[int], ...]]:
    return chain.from_iterable(combinations(items, r) for r in range(least, len(items) + 1))


def _union(sets: tuple[frozenset[int], ...]) -> frozenset[int]:
    return frozenset().union(*sets)


@st.composite
def released_table(draw: st.DrawFn) -> tuple[list[frozenset[int]], frozenset[int] | None, frozenset[int] | None]:
    """Disjoint cells (a person's cell, or none), a margin (a union of cells plus withheld persons), an
    unrelated released cell of other dimensions."""
    k = draw(st.integers(1, 7))
    where = draw(st.lists(st.integers(-1, k - 1), min_size=PEOPLE, max_size=PEOPLE))
    cells = [frozenset(p for p, c in enumerate(where) if c == i) for i in range(k)]
    cells = [c for c in cells if c]
    if not cells:
        cells = [frozenset({0})]
    free = sorted(set(range(PEOPLE)) - _union(tuple(cells)))
    margin = None
    if draw(st.booleans()):
        inside = draw(st.lists(st.sampled_from(cells), min_size=1, max_size=len(cells), unique=True))
        extra = draw(st.lists(st.sampled_from(free), max_size=3, unique=True)) if free else []
        margin = _union(tuple(inside)) | set(extra)
    other = frozenset(draw(st.lists(st.integers(0, PEOPLE - 1), min_size=1, max_size=25, unique=True))) \
        if draw(st.booleans()) else None
    return cells, margin, other


@st.composite
def near(draw: st.DrawFn, sets: list[frozenset[int]]) -> frozenset[int]:
    """A union of some of ``sets`` with a few persons flipped (so that small differences occur), not empty."""
    chosen = draw(st.lists(st.sampled_from(sets), max_size=len(sets), unique=True))
    base = set(_union(tuple(chosen)))
    for p in draw(st.lists(st.integers(0, PEOPLE - 1), max_size=4)):
        base ^= {p}
    return frozenset(base) or frozenset({draw(st.integers(0, PEOPLE - 1))})


def _keys(persons: frozenset[int]) -> ledger.np.ndarray:
    return ledger.person_keys(f"person-{i}" for i in persons)


def _record(hub: Hub, cells: list[tuple[int, str, str, frozenset[int]]]) -> None:
    """(file, dims, label, persons) rows, replacing the ledger's content."""
    with hub.store.write() as s:
        s.execute(delete(LedgerCell))
        for n, (file_id, dims, label, persons) in enumerate(cells):
            keys = _keys(persons)
            s.add(LedgerCell(request="R-2026-0001", project="p-2026-0001", file_id=file_id, cell=n, dims=dims,
                             label=label, count=len(keys), persons=ledger.pack(keys), created_at=datetime.now(UTC),
                             recalled=False))


def oracle_new(cells: list[frozenset[int]], margin: frozenset[int] | None, other: frozenset[int] | None,
               new: frozenset[int]) -> int:
    """The smallest |new Δ E| over every expression E of released cells the ledger's rule names."""
    table = list(dict.fromkeys([*cells, *([margin] if margin is not None else [])]))
    exprs: list[frozenset[int]] = list(table) + ([other] if other is not None else [])
    exprs += [_union(s) for s in _subsets(cells)]
    if margin is not None:
        inside = [c for c in cells if c <= margin]
        exprs += [margin - _union(s) for s in _subsets(inside, 0)]
    for a, b in combinations(table, 2):
        exprs.append(a | b)
        if b < a:
            exprs.append(a - b)
        if a < b:
            exprs.append(b - a)
    return min(len(new ^ e) for e in exprs if e)


@SETTINGS
@given(table=released_table(), data=st.data(), threshold=st.integers(2, 6))
def test_new_cell_flagged_exactly_when_brute_force_finds_a_close_expression(
        store: Hub, table: tuple[list[frozenset[int]], frozenset[int] | None, frozenset[int] | None],
        data: st.DataObject, threshold: int) -> None:
    cells, margin, other = table
    new = data.draw(near([*cells, *([margin] if margin else [])]))
    rows = [(1, "age", f"band {i}", c) for i, c in enumerate(cells)]
    if margin is not None:
        rows.append((1, "age", "margin", margin))
    if other is not None:
        rows.append((2, "sex", "other", other))
    _record(store, rows)
    with store.store.read() as s:
        flags = ledger.flags(s, "p-2026-0001", "age", [ledger.Cell(0, "new", _keys(new))], threshold)
    best = oracle_new(cells, margin, other, new)
    assert bool(flags) == (0 < best < threshold), (best, flags)
    if flags:
        assert flags[0]["apart"] == best


def oracle_released(parts: list[frozenset[int]], margin: frozenset[int] | None, released: list[frozenset[int]],
                    r: frozenset[int]) -> int | None:
    """The smallest |R Δ E| over unions of two or more new cells and a new margin minus a non-empty set of
    the new cells inside it, each involving a new cell that is not a released cell (the released cells here
    are one-cell tables: a new cell is computable from them only by being one); None when R is a new cell."""
    if r in parts or r == margin:
        return None
    fresh = [p for p in parts if p not in released]
    exprs = [_union(s) for s in _subsets(parts, 2) if set(s) & set(fresh)]
    inside = [c for c in parts if margin is not None and c <= margin]
    if margin is not None and margin != _union(tuple(inside)):  # an exact union of cells only gives unions
        exprs += [margin - _union(s) for s in _subsets(inside) if margin not in released or set(s) & set(fresh)]
    values = [len(r ^ e) for e in exprs if e]
    return min(values) if values else None


@SETTINGS
@given(output=released_table(), data=st.data(), threshold=st.integers(2, 6))
def test_released_cell_flagged_exactly_when_the_new_cells_combine_close_to_it(
        store: Hub, output: tuple[list[frozenset[int]], frozenset[int] | None, frozenset[int] | None],
        data: st.DataObject, threshold: int) -> None:
    parts, margin, _ = output
    shapes = [*parts, *([margin] if margin else [])]
    released = data.draw(st.lists(st.one_of(near(shapes), st.sampled_from(shapes)), min_size=1, max_size=3,
                                  unique=True))
    _record(store, [(10 + i, "age", f"released {i}", r) for i, r in enumerate(released)])
    new = [ledger.Cell(i, f"new {i}", _keys(c)) for i, c in enumerate(parts)]
    if margin is not None:
        new.append(ledger.Cell(len(parts), "new margin", _keys(margin)))
    with store.store.read() as s:
        flags = ledger.flags(s, "p-2026-0001", "age", new, threshold)
    symmetric = {f["against"]: f["apart"] for f in flags if f["label"].startswith(("union of this", "this output"))}
    expected = {}
    for i, r in enumerate(released):
        best = oracle_released(parts, margin, released, r)
        if best is not None and 0 < best < threshold:
            expected[f"released cell released {i}"] = best
    assert symmetric == expected
    assert all("new margin minus" in f["label"] for f in flags if f["label"].startswith("this output"))
