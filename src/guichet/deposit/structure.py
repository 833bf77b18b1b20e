"""Is this file a table at all? One streaming pass: SHA-256, encoding, binary or compressed content,
the header and the delimiter. A file that is not a table is rejected whole, saying why and where.

Why the rows themselves are then read by DuckDB's CSV reader (and not here): it is the only reader fast
enough for the targets, it follows RFC 4180 (quoted fields may hold delimiters, quotes and newlines, CRLF
or LF), and with ``store_rejects`` it reports a malformed row by its *row* number — a quoted newline
belongs to its row — which is exactly the 1-based data-row number producers see (header excluded).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from guichet.deposit.records import LineCounter
from guichet.errors import BadInput

CHUNK = 8 * 1024 * 1024
MAGIC = {
    b"\x1f\x8b": "gzip-compressed data",
    b"PK\x03\x04": "a ZIP archive",
    b"BZh": "bzip2-compressed data",
    b"\xfd7zXZ\x00": "xz-compressed data",
    b"\x28\xb5\x2f\xfd": "zstd-compressed data",
    b"PAR1": "a Parquet file",
    b"PARE": "an encrypted Parquet file",
    b"\x7fELF": "an executable",
    b"%PDF": "a PDF document",
    b"SQLite format 3": "an SQLite database",
}
DELIMITERS = (";", ",", "\t", "|")


class NotATable(BadInput):
    """The file cannot be read as a table; nothing of it is deposited."""

    def __init__(self, path: Path, why: str, where: str | None = None) -> None:
        self.file, self.why, self.where = str(path), why, where
        super().__init__(f"{path.name}: not a table: {why}" + (f" ({where})" if where else ""))


class RowsDisagree(NotATable):
    """The file does not hold the number of rows its manifest declares: not deposited."""

    def __init__(self, path: Path, declared: int, found: int) -> None:
        BadInput.__init__(self, f"{path.name}: the manifest declares {declared:,} data rows but the file holds "
                                f"{found:,}; nothing of it was deposited (re-send the file or correct the manifest)")
        self.file, self.why, self.where = str(path), "rows disagree with the manifest", None


@dataclass(frozen=True)
class FileShape:
    path: Path
    sha256: str
    size: int
    encoding: str  # utf-8 | latin-1 (a UTF-8 BOM is skipped by the reader)
    bom: bool
    delimiter: str
    header: tuple[str, ...]
    ends_with_newline: bool
    lines: int = 0  # physical lines after the header's (deposit/records.py: the fast path's row count)


def _line_of(path: Path, offset: int) -> str:
    """Where byte ``offset`` is, as "line N, byte B" (the file is read again up to it: only on the error path,
    so that the pass over a valid file counts no line ends)."""
    newlines, seen = 0, 0
    with path.open("rb") as fh:
        while seen < offset and (chunk := fh.read(min(CHUNK, offset - seen))):
            newlines += chunk.count(b"\n")
            seen += len(chunk)
    return f"line {newlines + 1}, byte {offset}"


def inspect_file(path: Path, *, encoding: str | None = None, delimiter: str | None = None) -> FileShape:
    """Read the file once; raise ``NotATable`` when it cannot be a delimited text table."""
    try:
        handle = _open_regular(path)
    except NotARegularFile:
        raise NotATable(path, "not a regular file (a pipe, device or socket)") from None
    except OSError:
        raise NotATable(path, "cannot be opened") from None
    sha = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8_ok, first, size, last = True, b"", 0, b""
    bad_offset: int | None = None  # the first byte that is not UTF-8 (None: at the end of the file)
    lines = LineCounter()
    with handle:
        while chunk := handle.read(CHUNK):
            if not first:
                first = chunk[:65536]
                for magic, what in MAGIC.items():
                    if chunk.startswith(magic):
                        raise NotATable(path, f"the file holds {what}, not delimited text", "byte 0")
            nul = chunk.find(b"\x00")
            if nul >= 0:
                raise NotATable(path, "binary content (a NUL byte)", _line_of(path, size + nul))
            sha.update(chunk)
            lines.add(chunk)
            # ASCII (checked ~30x faster than decoded) is UTF-8 when no multi-byte sequence is pending
            if utf8_ok and not (chunk.isascii() and not decoder.getstate()[0]):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    utf8_ok, bad_offset = False, size + exc.start
            size += len(chunk)
            last = chunk[-1:]
    if utf8_ok:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    if size == 0 or not first.strip(b"\xef\xbb\xbf \r\n\t"):
        raise NotATable(path, "the file is empty")
    bom = first.startswith(codecs.BOM_UTF8)
    if encoding == "utf-8" and not utf8_ok:
        raise NotATable(path, "not valid UTF-8 as its schema says",
                        f"end of file, byte {size}" if bad_offset is None else _line_of(path, bad_offset))
    if encoding is None:
        encoding = "utf-8" if utf8_ok else "latin-1"
    if encoding == "latin-1" and bom:
        raise NotATable(path, "a UTF-8 byte-order mark in a Latin-1 file", "byte 0")
    text = first.decode(encoding, errors="replace").removeprefix("\ufeff")
    header_line = _first_record(text)
    if delimiter is None:
        delimiter = _sniff_delimiter(header_line)
    try:
        header = next(csv.reader(io.StringIO(header_line), delimiter=delimiter, quotechar='"'))
    except (csv.Error, StopIteration):
        raise NotATable(path, "the header cannot be parsed", "line 1") from None
    header = [h.strip() for h in header]
    if not header or all(not h for h in header):
        raise NotATable(path, "no header", "line 1")
    return FileShape(path, sha.hexdigest(), size, encoding, bom, delimiter, tuple(header), last == b"\n",
                     lines.data_lines(last == b"\n"))


class NotARegularFile(OSError):
    """A pipe, device or socket where a file was expected."""


def _open_regular(path: Path) -> io.BufferedReader:
    """Open a regular file, never blocking: a FIFO would wait for a writer, a device never end."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFile(path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path) -> bytes:
    """The bytes of a small regular file (a manifest, a schema); BadInput naming it otherwise."""
    try:
        with _open_regular(path) as fh:
            return fh.read()
    except NotARegularFile:
        raise BadInput(f"{path}: not a regular file (a pipe, device or socket)") from None
    except OSError:
        raise BadInput(f"{path}: cannot be read") from None


def _first_record(text: str) -> str:
    """The header record (a header may not hold quoted newlines; we stop at the first line end)."""
    line = text.split("\n", 1)[0]
    return line.rstrip("\r")


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","
