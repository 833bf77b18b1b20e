"""Every physical row of a delivered file accounted for, whatever DuckDB's CSV reader makes of it.

DuckDB 2.0.1's reader skips blank lines without a word, which shifts every later row number; its parallel
mode also drops rows over its 32 MB buffer (or the rest of the file after one) and stops reading after
~620k rejected rows in a row, again without a word (the deposit uses its serial mode, which rejects such
rows with their number). So the deposit compares what the reader saw — rows returned plus rows rejected —
with the file's own count:

- the fast path: the structure pass counts the physical lines (``bytes.count``: ~0.25 s of CPU per GB).
  When the reader saw exactly one row per line, every line was one row and none was lost;
- otherwise (quoted newlines, blank lines, lost rows) the file is split into records here
  (``scan_records``: RFC 4180 quote parity, line by line, in bounded memory) and, when blank or oversized
  rows are found, the reader is given a copy in which each of them is a one-line marker it rejects
  (``sanitised_copy``): its reject table then names them by their exact row, and the deposit quarantines
  them under ``structure:blank_row`` / ``structure:line_size_over_maximum``. A count that still disagrees
  makes the file not a table: never a silent loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_ROW_BYTES = 2_000_000  # DuckDB's max_line_size: a longer row is quarantined
READ_LIMIT = 1 << 20  # bytes per readline: a line of any length is read in bounded memory
KEPT_CHARS = 10_000  # of an oversized row's text, kept (sealed) in the quarantine — as DuckDB keeps of a reject
BLANK_ROW = "structure:blank_row"
OVERSIZED_ROW = "structure:line_size_over_maximum"


@dataclass
class LineCounter:
    """Physical lines, chunk by chunk (the structure pass)."""

    newlines: int = 0

    def add(self, chunk: bytes) -> None:
        self.newlines += chunk.count(b"\n")

    def data_lines(self, ends_with_newline: bool) -> int:
        """Physical lines after the header's (a last line without a final newline counts too)."""
        return max(self.newlines - 1 + (0 if ends_with_newline else 1), 0)


@dataclass
class RecordScan:
    """The file split into records (rows) as RFC 4180 does: a newline inside quotes belongs to its row."""

    records: int = 0  # data rows, header excluded
    irregular: dict[int, tuple[str, str]] = field(default_factory=dict)  # row -> (rule, the row's first text)
    cut: bool = False  # the file ends inside a quoted field: its last row is cut


def max_row_bytes(buffer_size: int | None) -> int:
    """The longest row handed to the reader: DuckDB's ``max_line_size``, and well inside its buffer when a
    smaller one is set (a row over the buffer is dropped)."""
    return MAX_ROW_BYTES if not buffer_size else min(MAX_ROW_BYTES, buffer_size // 4)


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while piece := fh.readline(READ_LIMIT):
            yield piece


def _records(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(size in bytes, first bytes, whether it ends inside quotes) of each record, header first."""
    size, head, odd = 0, b"", False
    for piece in _lines(path):
        size += len(piece)
        if len(head) < KEPT_CHARS * 4:
            head += piece[: KEPT_CHARS * 4 - len(head)]
        odd ^= piece.count(b'"') % 2 == 1
        if piece.endswith(b"\n") and not odd:
            yield size, head, False
            size, head = 0, b""
    if size:
        yield size, head, odd


def scan_records(path: Path, encoding: str, max_row: int = MAX_ROW_BYTES) -> RecordScan:
    """Count the data rows and find the blank ones and those over ``max_row`` bytes (only when the fast path
    cannot vouch for the reader)."""
    scan = RecordScan()
    first = True
    for size, head, open_quote in _records(path):
        if first:  # the header
            first = False
            continue
        scan.records += 1
        scan.cut = open_quote
        if size > max_row:
            text = head.decode(encoding, errors="replace")[:KEPT_CHARS]
            scan.irregular[scan.records] = (OVERSIZED_ROW, text)
        elif not head.strip(b"\r\n"):
            scan.irregular[scan.records] = (BLANK_ROW, "")
    return scan


def sanitised_copy(path: Path, scan: RecordScan, out: Path, marker: bytes) -> Path:
    """A copy of ``path`` in which each irregular row is the one-line ``marker`` (every other byte as is),
    so that the reader sees one row per record and rejects exactly those rows. The marker ends as the
    header's line does (the reader expects one kind of line end)."""
    row = -1  # the header is record 0
    skipping = False
    newline = b"\n"
    with out.open("wb") as dst:
        size, odd = 0, False
        for piece in _lines(path):
            if row < 0 and piece.endswith(b"\r\n"):
                newline = b"\r\n"
            if size == 0:  # a record starts
                row += 1
                skipping = row in scan.irregular
                if skipping:
                    dst.write(marker + newline)
            if not skipping:
                dst.write(piece)
            size += len(piece)
            odd ^= piece.count(b'"') % 2 == 1
            if piece.endswith(b"\n") and not odd:
                size = 0
    return out
