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
    got = ps.pseudonymise_distinct(KEY, ps.LABEL_HUB, pa.array(["7", None, "", "8"])).to_pylist()
    assert got == [ps.hub_pseudonym(KEY, "7"), None, "", ps.hub_pseudonym(KEY, "8")]
    assert ps.pseudonymise_distinct(KEY, ps.LABEL_HUB, pa.array([], pa.string())).to_pylist() == []
    assert ps.pseudonymise_column(KEY, ps.LABEL_HUB, pa.array([None, None], pa.string())).to_pylist() == [None, None]


# --- project pseudonyms: the vectorised CBC-MAC against its one-message reference -----------------------


def _reference_cbc_mac(key: bytes, message: bytes) -> bytes:
    """CBC-MAC from its definition, written apart from the code under test: AES-256 applied block by block,
    each block XORed with the previous output, over length (8 bytes big-endian) || message || zero padding."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    body = len(message).to_bytes(8, "big") + message
    body += bytes(-len(body) % 16)
    state = bytes(16)
    for i in range(0, len(body), 16):
        enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one block: the definition
        state = enc.update(bytes(a ^ b for a, b in zip(state, body[i:i + 16], strict=True))) + enc.finalize()
    return state


def test_project_pseudonyms_match_the_definition_at_every_length_and_chunk() -> None:
    values = ["", "7", "é", "ab" * 3, "x" * 7, "x" * 8, "y" * 100, "NIR-ish 1|2|2023-01-01", "\x00a"] + [
        "".join(chr(RNG.randrange(32, 0x250)) for _ in range(RNG.randrange(0, 60))) for _ in range(400)]
    column = pa.array([*values, None], pa.string())
    got = ps.project_pseudonyms(KEY, column).to_pylist()
    want = [ps.encode(_reference_cbc_mac(KEY, ps.LABEL_PROJECT + v.encode("utf-8"))) if v else v for v in values]
    assert got == [*want, None]
    assert [ps.project_pseudonym(KEY, v) for v in values if v] == [w for w in want if w]
    # chunking (the vectorised step's bound) and slicing change nothing
    old = ps._CBC_CHUNK
    try:
        ps._CBC_CHUNK = 7
        assert ps.project_pseudonyms(KEY, column.slice(3)).to_pylist() == [*want[3:], None]
    finally:
        ps._CBC_CHUNK = old


def test_project_pseudonyms_depend_on_key_and_value_only() -> None:
    a = ps.project_pseudonyms(KEY, pa.array(["1", "2", "1"])).to_pylist()
    assert a[0] == a[2] != a[1] and all(ps.is_pseudonym(x) for x in a)
    assert ps.project_pseudonyms(bytes(32), pa.array(["1"])).to_pylist()[0] != a[0]
    assert ps.project_pseudonym(KEY, "1") != ps.hub_pseudonym(KEY, "1")


def test_record_key_pseudonyms_match_the_definition_in_their_own_domain() -> None:
    """Record keys sent as bytes: the CBC-MAC of ``LABEL_PROJECT_KEY`` + the bytes, whatever the lengths, the
    shared leading blocks (every claim starts with ``claim\\0``: computed once a length) and the chunks."""
    values = [b"claim\x00" + RNG.randbytes(RNG.choice([0, 1, 10, 80, 81])) for _ in range(400)] + [b"", b"x" * 200]
    column = pa.array(values, pa.binary())
    want = [ps.encode(_reference_cbc_mac(KEY, ps.LABEL_PROJECT_KEY + v)) for v in values]
    assert ps.project_key_pseudonyms(KEY, column).to_pylist() == want
    assert [ps.project_key_pseudonym(KEY, v) for v in values] == want
    assert ps.project_key_pseudonyms(KEY, column.slice(5, 50)).to_pylist() == want[5:55]
    assert ps.project_key_pseudonyms(KEY, pa.array(values[:3], pa.large_binary())).to_pylist() == want[:3]
    # the same bytes sent as text are another domain's message
    assert ps.project_pseudonyms(KEY, pa.array(["claim"])).to_pylist() != ps.project_key_pseudonyms(
        KEY, pa.array([b"claim"])).to_pylist()


def test_identical_messages_share_every_block_but_the_last() -> None:
    same = pa.array([b"k" * 70] * 5, pa.binary())
    want = ps.encode(_reference_cbc_mac(KEY, ps.LABEL_PROJECT_KEY + b"k" * 70))
    assert ps.project_key_pseudonyms(KEY, same).to_pylist() == [want] * 5
