"""Primary-key and ``unique`` duplicates found while streaming, so that the staged file is right first time.

The rule: the second and later occurrences of a key, in file order, are quarantined. The validation query
gives each accepted row a 64-bit hash of its typed key (``__k<j>``); a row whose hash was seen before is a
*candidate*: it is held back from the staged file (kept in memory, typed, with its row number). After the
pass, the exact check runs over the staged rows and the candidates together — on the key values, not the
hashes — so a hash collision can only cost a rewrite, never a wrong answer. Past ``cap`` candidates (a file
made mostly of duplicates), detection stops: later duplicates are caught by the same exact check and
removed by the rewrite path, which is slower but bounded in memory.

Memory: 8 bytes per distinct key (40 MB for 5M rows), at most ``MAX_SEEN_KEYS`` of them, plus the candidates
(at most ``cap`` rows): bounded whatever the file's size.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_CAP = 100_000
MAX_SEEN_KEYS = 16_000_000  # 128 MB of hashes: past it (a very large file), the exact check alone finds duplicates


def key_column(j: int) -> str:
    return f"__k{j}"


class SeenKeys:
    """A set of 64-bit hashes as a few sorted runs whose sizes at least double from the newest to the oldest
    (merged like a binary counter): a batch's lookup is one binary search per run, and each hash is merged
    O(log n) times over the file — where keeping one sorted array meant copying all of it for every batch."""

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []
        self.size = 0

    def contains(self, values: np.ndarray) -> np.ndarray:
        found = np.zeros(len(values), dtype=bool)
        for run in self.runs:
            pos = np.searchsorted(run, values)
            np.minimum(pos, len(run) - 1, out=pos)
            found |= run[pos] == values
        return found

    def add(self, new: np.ndarray) -> None:
        """Add sorted hashes that are not in the set yet."""
        if not len(new):
            return
        self.runs.append(new)
        self.size += len(new)
        while len(self.runs) > 1 and len(self.runs[-2]) <= 2 * len(self.runs[-1]):
            last = self.runs.pop()
            merged = np.concatenate((self.runs.pop(), last))
            merged.sort(kind="stable")  # two sorted runs: a linear merge
            self.runs.append(merged)


class DuplicateFinder:
    def __init__(self, keys: int, cap: int | None = None) -> None:
        self.seen = [SeenKeys() for _ in range(keys)]
        self.cap, self.count, self.overflow = DEFAULT_CAP if cap is None else cap, 0, False
        self.held: list[pa.RecordBatch] = []

    def candidates(self, batch: pa.RecordBatch) -> np.ndarray:
        """Rows of ``batch`` whose key hash was seen in an earlier row (this batch's or a previous one's)."""
        mask = np.zeros(batch.num_rows, dtype=bool)
        if self.overflow or not self.seen:
            return mask
        for j, seen in enumerate(self.seen):
            hashes = batch.column(key_column(j))
            if hashes.null_count == len(hashes):
                continue
            rows = np.flatnonzero(np.asarray(hashes.is_valid())) if hashes.null_count else None
            values = np.asarray(pc.fill_null(hashes, 0).cast(pa.uint64()))
            if rows is not None:
                values = values[rows]
            order = np.argsort(values, kind="stable")  # equal hashes keep the file's order: the first is first
            ordered = values[order]
            repeat = np.zeros(len(ordered), dtype=bool)
            repeat[1:] = ordered[1:] == ordered[:-1]  # a later occurrence within the batch
            marked = repeat | seen.contains(ordered)
            hit = order[marked]
            mask[hit if rows is None else rows[hit]] = True
            seen.add(ordered[~marked])
        self.count += int(mask.sum())
        if self.count >= self.cap or max(seen.size for seen in self.seen) > MAX_SEEN_KEYS:
            self.overflow = True
            self.seen = [SeenKeys() for _ in self.seen]
        return mask

    def hold(self, rows: pa.RecordBatch) -> None:
        if rows.num_rows:
            self.held.append(rows)

    def held_table(self) -> pa.Table | None:
        return pa.Table.from_batches(self.held) if self.held else None


def cells_as_text(table: pa.Table, header: tuple[str, ...], rows: list[int]) -> list[list[str | None]]:
    """The cells of ``rows`` in the file's column order, typed values written back as text (ISO dates)."""
    picked = table.take(pa.array(rows, pa.int64()))
    columns = [[_as_text(v) for v in picked.column(name).to_pylist()] for name in header]
    return [list(cells) for cells in zip(*columns, strict=True)] if columns else [[] for _ in rows]


def _as_text(value: object) -> str | None:
    return (None if value is None else value if isinstance(value, str) else
            ("true" if value else "false") if isinstance(value, bool) else
            value.isoformat() if hasattr(value, "isoformat") else str(value))
