"""Record keys' canonical binary encoding: what the custodian MACs into a record key's surrogate (``CLAIM_ID``,
``STAY_ID``, ``DEATH_ID``). Pure, no I/O.

A record key is several columns (the claim's nine DCIR keys, a stay's establishment and number and year).
Each row's key is encoded, from the typed values the engine fetched, as::

    KIND \\0 field field ...

one field per key part, in the record key's order, each self-delimiting by its first byte:

- an integer part: ``0x01`` and the value as 8 bytes, big-endian, two's complement (``0x11`` and 8 zero
  bytes when null);
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
                    else bytes([_INT]) + int(value).to_bytes(8, "big", signed=True))
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

def _fixed(part: pa.Array, cls: PartClass) -> np.ndarray:
    """An integer or date part's fields, one row each: (n, 9) or (n, 5) bytes."""
    n = len(part)
    valid = part.is_valid().to_numpy(zero_copy_only=False)
    if cls == "int":
        values = pc.fill_null(part.cast(pa.int64()), 0).to_numpy(zero_copy_only=False).astype(">i8")
        width, tag = 8, _INT
    else:
        values = pc.fill_null(part.cast(pa.date32()).cast(pa.int32()), 0).to_numpy(zero_copy_only=False).astype(">i4")
        width, tag = 4, _DATE
    out = np.empty((n, width + 1), dtype=np.uint8)
    out[:, 0] = np.where(valid, tag, tag + _NULL)
    out[:, 1:] = values.view(np.uint8).reshape(n, width)
    return out


def _text_widths(part: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """A text part as UTF-8 strings, each row's byte length (0 for a null) and field width."""
    text = part if pa.types.is_string(part.type) else part.cast(pa.string())
    lengths = pc.fill_null(pc.binary_length(text), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    if len(lengths) and int(lengths.max()) > _MAX_TEXT:
        raise ValueError(f"a record key's text part is longer than {_MAX_TEXT} bytes")
    widths = (3 + lengths + 15) // 16 * 16
    return text, lengths, widths


def _text(text: pa.Array, lengths: np.ndarray, rows: np.ndarray | None, width: int) -> np.ndarray:
    """The text fields of ``rows`` (all when None), every one ``width`` bytes: (m, width) bytes."""
    if rows is not None:
        text, lengths = text.take(pa.array(rows)), lengths[rows]
    m = len(text)
    valid = text.is_valid().to_numpy(zero_copy_only=False)
    out = np.zeros((m, width), dtype=np.uint8)
    out[:, 0] = np.where(valid, _TEXT, _TEXT + _NULL)
    out[:, 1] = (lengths >> 8).astype(np.uint8)
    out[:, 2] = (lengths & 0xFF).astype(np.uint8)
    for size in np.unique(lengths):  # the values of one byte length: one (k, size) matrix
        size = int(size)
        if size == 0:
            continue
        at = np.flatnonzero(lengths == size)
        same = text if len(at) == m else text.take(pa.array(at))
        first = int(np.frombuffer(same.buffers()[1], np.int32)[same.offset])
        block = np.frombuffer(same.buffers()[2], dtype=np.uint8)[first:first + len(at) * size].reshape(len(at), size)
        out[at, 3:3 + size] = block
    return out


def key_messages(kind: str, parts: Sequence[pa.Array], classes: Sequence[PartClass]) -> pa.Array:
    """Every row's encoding (``key_message``), as a binary array in the rows' order."""
    n = len(parts[0]) if parts else 0
    head = np.frombuffer(kind.encode("ascii") + b"\0", dtype=np.uint8)
    if n == 0:
        return pa.array([], pa.binary())
    fields: list[tuple[str, Any]] = []
    signature = np.zeros(n, dtype=np.int64)  # the text fields' widths of each row: rows alike share a layout
    for part, cls in zip(parts, classes, strict=True):
        if isinstance(part, pa.ChunkedArray):
            part = part.combine_chunks()
        if cls == "text":
            text, lengths, widths = _text_widths(part)
            fields.append(("text", (text, lengths, widths)))
            signature = signature * 4099 + widths // 16
        else:
            fields.append(("fixed", _fixed(part, cls)))
    layouts = np.unique(signature)
    row_width = np.full(n, len(head), dtype=np.int64)
    for how, f in fields:
        row_width += f[2] if how == "text" else f.shape[1]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(row_width, out=offsets[1:])
    if offsets[-1] > 2**31 - 1:
        raise ValueError("too many record keys for one binary array; split the column")
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    for layout in layouts:
        rows = None if len(layouts) == 1 else np.flatnonzero(signature == layout)
        m = n if rows is None else len(rows)
        blocks: list[np.ndarray] = [np.broadcast_to(head, (m, len(head)))]
        for how, f in fields:
            if how == "text":
                text, lengths, widths = f
                blocks.append(_text(text, lengths, rows, int(widths[0 if rows is None else rows[0]])))
            else:
                blocks.append(f if rows is None else f[rows])
        matrix = np.hstack(blocks)
        if rows is None:
            data[:] = matrix.ravel()
        else:
            data[offsets[rows][:, None] + np.arange(matrix.shape[1])] = matrix
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)])
