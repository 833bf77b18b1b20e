"""Record keys' canonical binary encoding: what the custodian MACs into a record key's surrogate (``CLAIM_ID``,
``STAY_ID``, ``DEATH_ID``). Pure, no I/O.

A record key is several columns (the claim's nine DCIR keys, a stay's establishment and number and year).
Each row's key is encoded, from the typed values the engine fetched, as::

    KIND \\0 field field ...

one field per key part, in the record key's order, each self-delimiting by its first byte:

- an integer part: ``0x01`` and the value's 64 bits, big-endian (two's complement; an unsigned value above
  2**63 - 1 keeps its bits) (``0x11`` and 8 zero bytes when null);
- a date part: ``0x02`` and the days since 1970-01-01 as 4 bytes, big-endian, signed (``0x12`` and 4 zero
  bytes when null);
- a text part (any other type, as the text the engine gives it, leading zeros removed): ``0x03``, its UTF-8
  length as 2 bytes, big-endian, its UTF-8 bytes, and zero bytes up to a multiple of 16 bytes for the whole
  field (``0x13`` and 15 zero bytes when null).

Every field says by its first byte how long it is, so that the encoding is injective whatever the parts'
classes; with no text longer than 13 bytes, every row of a table has the same length, which is what lets the
custodian's CBC-MAC run over the whole batch at once (``pseudonyms.cbc_mac_many``). The custodian never
needs to parse it: it MACs the bytes under the project's pseudonym key in their own domain
(``pseudonyms.LABEL_PROJECT_KEY``). ``key_message`` is the one-row reference the tests compare with.

A part's class comes from its type in the lake (``part_class``); two tables sharing a record key (``ER_PRS_F``
and ``ER_PHA_F``'s claims) must encode a part the same way, so where their types differ the part is text in
both (``shared_classes``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PartClass = Literal["int", "date", "text"]
SCHEME = "typed-v1"  # recorded with each extract (its manifest, its recipe's header)
_INT, _DATE, _TEXT = 0x01, 0x02, 0x03
_NULL = 0x10  # added to the class's tag: a null of that class
_MAX_TEXT = 65_535
_EPOCH = dt.date(1970, 1, 1)


def part_class(kind: pa.DataType | None) -> PartClass:
    """The class of a key part of type ``kind`` in the lake (None: unknown, text)."""
    if kind is not None and pa.types.is_integer(kind):
        return "int"
    if kind is not None and pa.types.is_date(kind):
        return "date"
    return "text"


def shared_classes(per_table: Sequence[Sequence[PartClass]]) -> list[PartClass]:
    """The classes a record key's parts take in every table that has the key: a part typed differently in two
    tables is text in both (the text of an integer or a date is the same whatever its type)."""
    out: list[PartClass] = list(per_table[0])
    for classes in per_table[1:]:
        out = [a if a == b else "text" for a, b in zip(out, classes, strict=True)]
    return out


# --- the reference: one row -------------------------------------------------------------------------------

def key_message(kind: str, values: Sequence[Any], classes: Sequence[PartClass]) -> bytes:
    """One row's encoding (the definition; ``key_messages`` computes it for many rows)."""
    out = bytearray(kind.encode("ascii") + b"\0")
    for value, cls in zip(values, classes, strict=True):
        if cls == "int":
            out += (bytes([_INT + _NULL]) + bytes(8) if value is None
                    else bytes([_INT]) + (int(value) % 2**64).to_bytes(8, "big"))
        elif cls == "date":
            out += (bytes([_DATE + _NULL]) + bytes(4) if value is None
                    else bytes([_DATE]) + (value - _EPOCH).days.to_bytes(4, "big", signed=True))
        elif value is None:
            out += bytes([_TEXT + _NULL]) + bytes(15)
        else:
            raw = str(value).encode("utf-8")
            field = bytes([_TEXT]) + len(raw).to_bytes(2, "big") + raw
            out += field + bytes(-len(field) % 16)
    return bytes(out)


# --- many rows ----------------------------------------------------------------------------------------------

def _fixed(part: pa.Array, cls: PartClass) -> tuple[np.ndarray, np.ndarray]:
    """An integer or date part's tags and values (zero for a null), one each a row."""
    valid = part.is_valid().to_numpy(zero_copy_only=False)
    if cls == "int":
        # an unsigned 64-bit value keeps its bits (a cast that wraps: still one value one encoding)
        values = pc.fill_null(part.cast(pa.int64(), safe=not pa.types.is_uint64(part.type)), 0).to_numpy(
            zero_copy_only=False)
        tag = _INT
    else:
        values = pc.fill_null(part.cast(pa.date32()).cast(pa.int32()), 0).to_numpy(zero_copy_only=False)
        tag = _DATE
    return np.where(valid, tag, tag + _NULL).astype(np.uint8), values


def _distinct(lengths: np.ndarray) -> np.ndarray:
    """The distinct values of small non-negative integers (byte lengths), in order."""
    return np.flatnonzero(np.bincount(lengths)) if len(lengths) else lengths


def _text_widths(part: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """A text part as UTF-8 strings, each row's byte length (0 for a null) and field width."""
    text = part if pa.types.is_string(part.type) else part.cast(pa.string())
    lengths = pc.fill_null(pc.binary_length(text), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    if len(lengths) and int(lengths.max()) > _MAX_TEXT:
        raise ValueError(f"a record key's text part is longer than {_MAX_TEXT} bytes")
    widths = (3 + lengths + 15) // 16 * 16
    return text, lengths, widths


def _text(text: pa.Array, lengths: np.ndarray, rows: np.ndarray | None, out: np.ndarray) -> None:
    """Write the text fields of ``rows`` (all when None), all as wide as ``out`` ((m, width) bytes)."""
    if rows is not None:
        text, lengths = text.take(pa.array(rows)), lengths[rows]
    m = len(text)
    valid = text.is_valid().to_numpy(zero_copy_only=False)
    out[:] = 0
    out[:, 0] = np.where(valid, _TEXT, _TEXT + _NULL)
    out[:, 1] = (lengths >> 8).astype(np.uint8)
    out[:, 2] = (lengths & 0xFF).astype(np.uint8)
    for size in _distinct(lengths):  # the values of one byte length: one (k, size) matrix
        size = int(size)
        if size == 0:
            continue
        at = None if lengths[0] == size and (lengths == size).all() else np.flatnonzero(lengths == size)
        same = text if at is None else text.take(pa.array(at))
        k = m if at is None else len(at)
        first = int(np.frombuffer(same.buffers()[1], np.int32)[same.offset])
        block = np.frombuffer(same.buffers()[2], dtype=np.uint8)[first:first + k * size].reshape(k, size)
        if at is None:
            out[:, 3:3 + size] = block
        else:
            out[at, 3:3 + size] = block


def key_messages(kind: str, parts: Sequence[pa.Array | pa.ChunkedArray], classes: Sequence[PartClass]) -> pa.Array:
    """Every row's encoding (``key_message``), as a binary array in the rows' order."""
    n = len(parts[0]) if parts else 0
    head = np.frombuffer(kind.encode("ascii") + b"\0", dtype=np.uint8)
    if n == 0:
        return pa.array([], pa.binary())
    plain: list[pa.Array] = [p.combine_chunks() if isinstance(p, pa.ChunkedArray) else p for p in parts]
    texts: dict[int, tuple[pa.Array, np.ndarray, np.ndarray]] = {}
    signature = np.zeros(n, dtype=np.int64)  # the text fields' widths of each row: rows alike share a layout
    row_width = np.full(n, len(head), dtype=np.int64)
    for j, (part, cls) in enumerate(zip(plain, classes, strict=True)):
        if cls == "text":
            texts[j] = _text_widths(part)
            signature = signature * 4099 + texts[j][2] // 16
            row_width += texts[j][2]
        else:
            row_width += 9 if cls == "int" else 5
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(row_width, out=offsets[1:])
    if offsets[-1] > 2**31 - 1:
        raise ValueError("too many record keys for one binary array; split the column")
    layouts = np.unique(signature) if texts else signature[:1]
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    for layout in layouts:
        rows = None if len(layouts) == 1 else np.flatnonzero(signature == layout)
        m = n if rows is None else len(rows)
        width = int(row_width[0 if rows is None else rows[0]])
        # one row a message, every field written in place (no matrix of each field stacked afterwards)
        matrix = data.reshape(m, width) if rows is None else np.empty((m, width), dtype=np.uint8)
        matrix[:, :len(head)] = head
        at = len(head)
        names: list[str] = []
        formats: list[str] = []
        places: list[int] = []
        fixed: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for j, (part, cls) in enumerate(zip(plain, classes, strict=True)):
            if cls == "text":
                text, lengths, widths = texts[j]
                size = int(widths[0 if rows is None else rows[0]])
                _text(text, lengths, rows, matrix[:, at:at + size])
            else:
                size = 9 if cls == "int" else 5
                fixed[j] = _fixed(part if rows is None else part.take(pa.array(rows)), cls)
                names += [f"t{j}", f"v{j}"]
                formats += ["u1", ">i8" if cls == "int" else ">i4"]
                places += [at, at + 1]
            at += size
        if fixed:  # the fixed fields as one record a row: a value is written whole, not byte by byte
            records = matrix.view(np.dtype({"names": names, "formats": formats, "offsets": places,
                                            "itemsize": width})).reshape(m)
            for j, (tags, values) in fixed.items():
                records[f"t{j}"] = tags
                records[f"v{j}"] = values
        if rows is not None:
            data[offsets[rows][:, None] + np.arange(width)] = matrix
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)])
