"""The fast pseudonymisation path gives byte-identical answers: precomputed HMAC states equal
``hmac.digest``, numpy base32 equals ``base64.b32encode``, and a column equals value-by-value pseudonyms."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random

import pyarrow as pa
import pytest

from guichet.custodian import pseudonyms as ps

KEY = bytes(range(32))
RNG = random.Random(7)


def _values() -> list[bytes]:
    fixed = [b"", b"A", b"A" * 17, b"x" * 63, b"y" * 64, b"z" * 65, b"\x00\xff" * 40, "ÉLÈVE€".encode()]
    return fixed + [RNG.randbytes(RNG.randrange(0, 200)) for _ in range(300)]


@pytest.mark.parametrize("key", [KEY, b"", b"k", bytes(64), bytes(range(64)), bytes(range(65)), b"\xff" * 200])
@pytest.mark.parametrize("label", [b"", ps.LABEL_ANO, ps.LABEL_HUB, ps.LABEL_PROJECT, b"L" * 100])
def test_precomputed_states_equal_hmac_digest(key: bytes, label: bytes) -> None:
    values = _values()
    fast = ps.KeyedHmac(key, label)
    expected = [hmac.digest(key, label + v, "sha256") for v in values]
    assert [fast.digest(v) for v in values] == expected
    assert fast.digests(values) == b"".join(expected)
    assert fast.digests(values) == b"".join(expected)  # the keyed states are not consumed


def test_the_openssl_and_builtin_constructors_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _values()
    preferred = ps.KeyedHmac(KEY, ps.LABEL_HUB).digests(values)
    monkeypatch.setattr(ps, "_SHA256", hashlib.sha256)
    assert ps.KeyedHmac(KEY, ps.LABEL_HUB).digests(values) == preferred


def test_numpy_base32_equals_b32encode() -> None:
    digests = [bytes(32), b"\xff" * 32, bytes(range(32)), *(RNG.randbytes(32) for _ in range(2000))]
    got = ps.encode_digests(b"".join(digests)).to_pylist()
    assert got == [base64.b32encode(d[:15]).decode()[:17] for d in digests]
    assert got == [ps.encode(d) for d in digests]
    assert ps.encode_digests(b"").to_pylist() == []


def test_hmac_many_equals_the_scalar_pseudonym() -> None:
    values = _values()
    assert ps.hmac_many(KEY, ps.LABEL_ANO, values).to_pylist() == [ps.pseudonym(KEY, ps.LABEL_ANO, v) for v in values]


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.string_view()])
def test_column_equals_value_by_value(kind: pa.DataType) -> None:
    people = ["P" + str(i).zfill(16) for i in range(50)] + ["é" * 5, " "]
    rows = [RNG.choice(people) for _ in range(2000)] + [None, "", None, ""]
    RNG.shuffle(rows)
    column = pa.chunked_array([pa.array(rows[:700], kind), pa.array(rows[700:], kind)])
    out = ps.pseudonymise_column(KEY, ps.LABEL_HUB, column)
    assert out.type == pa.string()
    assert out.to_pylist() == [None if v is None else "" if v == "" else ps.pseudonym(KEY, ps.LABEL_HUB, v.encode())
                               for v in rows]


def test_distinct_keeps_nulls_and_empties() -> None:
    got = ps.pseudonymise_distinct(KEY, ps.LABEL_PROJECT, pa.array(["7", None, "", "8"])).to_pylist()
    assert got == [ps.project_pseudonym(KEY, "7"), None, "", ps.project_pseudonym(KEY, "8")]
    assert ps.pseudonymise_distinct(KEY, ps.LABEL_PROJECT, pa.array([], pa.string())).to_pylist() == []
    assert ps.pseudonymise_column(KEY, ps.LABEL_PROJECT, pa.array([None, None], pa.string())).to_pylist() == [None, None]
