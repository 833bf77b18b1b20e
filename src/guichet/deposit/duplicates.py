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


class DuplicateFinder:
    def __init__(self, keys: int, cap: int | None = None) -> None:
        self.seen = [np.empty(0, dtype=np.uint64) for _ in range(keys)]
        self.cap, self.count, self.overflow = DEFAULT_CAP if cap is None else cap, 0, False
        self.held: list[pa.RecordBatch] = []

    def candidates(self, batch: pa.RecordBatch) -> np.ndarray:
        """Rows of ``batch`` whose key hash was seen in an earlier row (this batch's or a previous one's)."""
        mask = np.zeros(batch.num_rows, dtype=bool)
        if self.overflow or not self.seen:
            return mask
        for j, seen in enumerate(self.seen):
            hashes = batch.column(key_column(j))
            valid = np.asarray(pc.is_valid(hashes))
            rows = np.nonzero(valid)[0]
            if not len(rows):
                continue
            values = np.asarray(pc.fill_null(hashes, 0).cast(pa.uint64()))[rows]
            within = np.ones(len(values), dtype=bool)
            within[np.unique(values, return_index=True)[1]] = False  # first occurrence in the batch
            pos = np.searchsorted(seen, values)
            before = (pos < len(seen)) & (seen[np.minimum(pos, max(len(seen) - 1, 0))] == values) if len(seen) \
                else np.zeros(len(values), dtype=bool)
            mask[rows[within | before]] = True
            new = np.unique(values[~before])
            self.seen[j] = np.insert(seen, np.searchsorted(seen, new), new)
        self.count += int(mask.sum())
        if self.count >= self.cap or max(len(seen) for seen in self.seen) > MAX_SEEN_KEYS:
            self.overflow = True
            self.seen = [np.empty(0, dtype=np.uint64) for _ in self.seen]
        return mask

    def hold(self, rows: pa.RecordBatch) -> None:
        if rows.num_rows:
            self.held.append(rows)

    def held_table(self) -> pa.Table | None:
        return pa.Table.from_batches(self.held) if self.held else None


def cells_as_text(table: pa.Table, header: tuple[str, ...], i: int) -> list[str | None]:
    """Row ``i``'s cells in the file's column order, typed values written back as text (ISO dates)."""
    out: list[str | None] = []
    for name in header:
        value = table.column(name)[i].as_py()
        out.append(None if value is None else value if isinstance(value, str) else
                   ("true" if value else "false") if isinstance(value, bool) else
                   value.isoformat() if hasattr(value, "isoformat") else str(value))
    return out
