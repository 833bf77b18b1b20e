"""Every physical row of a delivered file accounted for, whatever DuckDB's CSV reader makes of it.

DuckDB 2.0.1's reader skips blank lines without a word, rejects a row over ``max_line_size`` (2 MB) as
``LINE SIZE OVER MAXIMUM`` only while it fits its 32 MB buffer, and past the buffer drops the row — or
every row after it — again without a word (and a quoted field that long derails its parallel split). Each
of these shifts every later row number or loses rows. So the deposit compares what the reader saw (rows
returned + rows rejected) with the file's own count:

- the fast path: the structure pass counts the physical lines (``bytes.count``: ~0.3 s per GB) and probes
  for any line over ``LONG_LINE`` bytes (a ``find`` every half-limit: nothing measurable). When no line is
  that long and the reader saw exactly one row per line, every line was one row and none was lost;
- otherwise (quoted newlines, blank lines, huge rows) the file is split into records here
  (``scan_records``: RFC 4180 quote parity, line by line, in bounded memory) and the reader is given a
  copy in which blank and oversized rows are replaced by a one-line marker it rejects
  (``sanitised_copy``): its reject table then names them by their exact row, and the deposit quarantines
  them under ``structure:blank_row`` / ``structure:line_size_over_maximum``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_ROW_BYTES = 2_000_000  # DuckDB's max_line_size: a longer row never reaches its reader
LONG_LINE = 1 << 20  # a physical line this long sends the file to the exact scan before the reader sees it
READ_LIMIT = 1 << 20  # bytes per readline: a line of any length is read in bounded memory
KEPT_CHARS = 10_000  # of an oversized row's text, kept (sealed) in the quarantine — as DuckDB keeps of a reject
BLANK_ROW = "structure:blank_row"
OVERSIZED_ROW = "structure:line_size_over_maximum"


@dataclass
class LineCounter:
    """Physical lines and whether one is longer than ``limit`` bytes, chunk by chunk (structure pass)."""

    limit: int = LONG_LINE
    newlines: int = 0
    long_line: bool = False
    _since_newline: int = 0  # bytes since the last newline of the chunks seen so far

    def add(self, chunk: bytes) -> None:
        self.newlines += chunk.count(b"\n")
        if self.long_line:
            return
        first = chunk.find(b"\n")
        if first < 0:
            self._since_newline += len(chunk)
            self.long_line = self._since_newline > self.limit
            return
        if self._since_newline + first > self.limit:
            self.long_line = True
            return
        last = chunk.rfind(b"\n")
        # A line of `limit` bytes or more holds a whole probe window of `limit // 2` bytes with no newline
        # (so does a line a little over half the limit: the exact scan then finds it harmless).
        step = max(self.limit // 2, 1)
        pos = first + 1
        while pos + step <= last:
            if chunk.find(b"\n", pos, pos + step) < 0:
                self.long_line = True
                return
            pos += step
        self._since_newline = len(chunk) - last - 1

    def data_lines(self, ends_with_newline: bool) -> int:
        """Physical lines after the header's (a last line without a final newline counts too)."""
        return max(self.newlines - 1 + (0 if ends_with_newline else 1), 0)


@dataclass
class RecordScan:
    """The file split into records (rows) as RFC 4180 does: a newline inside quotes belongs to its row."""

    records: int = 0  # data rows, header excluded
    irregular: dict[int, tuple[str, str]] = field(default_factory=dict)  # row -> (rule, the row's first text)


def max_row_bytes(buffer_size: int | None) -> int:
    """The longest row handed to the reader: DuckDB's ``max_line_size``, and well inside its buffer when a
    smaller one is set (a row over the buffer is dropped)."""
    return MAX_ROW_BYTES if not buffer_size else min(MAX_ROW_BYTES, buffer_size // 4)


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while piece := fh.readline(READ_LIMIT):
            yield piece


def _records(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(size in bytes, first bytes, whether it ends with a newline) of each record, header first."""
    size, head, odd = 0, b"", False
    for piece in _lines(path):
        size += len(piece)
        if len(head) < KEPT_CHARS * 4:
            head += piece[: KEPT_CHARS * 4 - len(head)]
        odd ^= piece.count(b'"') % 2 == 1
        if piece.endswith(b"\n") and not odd:
            yield size, head, True
            size, head = 0, b""
    if size:
        yield size, head, False


def scan_records(path: Path, encoding: str, max_row: int = MAX_ROW_BYTES) -> RecordScan:
    """Count the data rows and find the blank ones and those over ``max_row`` bytes (only when the fast path
    cannot vouch for the reader)."""
    scan = RecordScan()
    first = True
    for size, head, _ in _records(path):
        if first:  # the header
            first = False
            continue
        scan.records += 1
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
