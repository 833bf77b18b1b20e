"""Record keys' canonical encoding (workspace/surrogates.py): the vectorised encoding equals the one-row
definition for every class, null, length and slice; distinct keys give distinct messages; two tables sharing a
key encode a part typed differently as text in both."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pytest

from guichet.workspace import surrogates as s

RNG = random.Random(11)
INTS = [None, 0, -1, 7, 2**40, -(2**63), 2**63 - 1]
DATES = [None, dt.date(1970, 1, 1), dt.date(1899, 12, 31), dt.date(2023, 2, 28)]
TEXTS = [None, "", "1C7", "a" * 13, "b" * 14, "é" * 9, "x" * 40, "|", "\x00"]


def _rows(n: int) -> list[tuple[object, object, object, object]]:
    return [(RNG.choice(INTS), RNG.choice(DATES), RNG.choice(TEXTS), RNG.choice(TEXTS)) for _ in range(n)]


@pytest.mark.parametrize("texts", [TEXTS, ["abc"], ["a" * 13, "b" * 13, None]])  # one layout, and several
def test_messages_equal_the_one_row_definition(texts: list[str | None]) -> None:
    rows = [(i, d, RNG.choice(texts), t) for i, d, _, t in _rows(2000)]
    cols = list(zip(*rows, strict=True))
    parts = [pa.array(cols[0], pa.int64()), pa.array(cols[1], pa.date32()), pa.array(cols[2], pa.string()),
             pa.array(cols[3], pa.string())]
    classes: list[s.PartClass] = ["int", "date", "text", "text"]
    want = [s.key_message("claim", r, classes) for r in rows]
    assert s.key_messages("claim", parts, classes).to_pylist() == want
    assert s.key_messages("claim", [p.slice(300, 700) for p in parts], classes).to_pylist() == want[300:1000]
    assert s.key_messages("claim", [pa.chunked_array([p]) for p in parts], classes).to_pylist() == want
    assert len(set(want)) == len(set(rows))  # injective


def test_narrow_types_and_dates_as_the_definition_says() -> None:
    parts = [pa.array([5, None], pa.int16()), pa.array([dt.date(1970, 1, 2), None], pa.date32())]
    got = s.key_messages("stay", parts, ["int", "date"]).to_pylist()
    assert got == [b"stay\x00\x01" + (5).to_bytes(8, "big") + b"\x02\x00\x00\x00\x01",
                   b"stay\x00\x11" + bytes(8) + b"\x12" + bytes(4)]
    # a text field: tag, 2-byte length, the bytes, zeros up to 16 bytes
    assert s.key_message("k", ["1C7"], ["text"]) == b"k\x00\x03\x00\x031C7" + bytes(10)
    assert len(s.key_message("k", ["x" * 14], ["text"])) == 2 + 32


def test_unsigned_64_bit_values_keep_their_bits() -> None:
    parts = [pa.array([2**64 - 1, 2**63, 5], pa.uint64())]
    got = s.key_messages("c", parts, ["int"]).to_pylist()
    assert got == [s.key_message("c", [v], ["int"]) for v in (2**64 - 1, 2**63, 5)]
    assert got[0] == s.key_message("c", [-1], ["int"]) and len(set(got)) == 3


def test_a_null_differs_from_zero_and_from_the_empty_text() -> None:
    assert len({s.key_message("c", [v], ["int"]) for v in (None, 0)}) == 2
    assert len({s.key_message("c", [v], ["text"]) for v in (None, "")}) == 2


def test_classes_follow_the_types_and_are_shared() -> None:
    assert [s.part_class(t) for t in (pa.int8(), pa.int64(), pa.date32(), pa.string(), pa.float64(), None)] == [
        "int", "int", "date", "text", "text", "text"]
    assert s.shared_classes([["int", "date", "text"], ["int", "text", "text"]]) == ["int", "text", "text"]
    assert s.shared_classes([["int", "date"]]) == ["int", "date"]


def test_empty_input() -> None:
    assert s.key_messages("claim", [pa.array([], pa.int64())], ["int"]).to_pylist() == []
