"""Pseudonym arithmetic: the exact input encodings and the vectorised keyed HMAC. Pure, no I/O.

Every pseudonym is ``base32(HMAC-SHA-256(key, message))[:17]``: 17 characters of ``[A-Z2-7]`` (85 bits),
the length of the SNDS's ``BEN_NIR_PSA``. The message is a domain-separation label, a NUL byte and the
canonical input, all ASCII (see ``docs/custodian.md`` for test vectors):

- level 1 ``ano``: ``guichet/level1/ano/v1 \\0 NIR15``
- level 1 ``psa``: ``guichet/level1/psa/v1 \\0 NIR15 \\0 YYYY-MM-DD \\0 SEX``
- hub: ``guichet/hub/v1 \\0 LEVEL1``
- project: ``guichet/project/v1 \\0 PERSON_ID``

Never a plain hash: without the key, nobody can recompute a pseudonym from a NIR, however small the
NIR space is. Columns are deduplicated before hashing (a person appears in many rows), which is what
makes the vectorised path several times faster than hashing every row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from guichet.custodian import nir as nirs

LENGTH = 17
PSEUDONYM_RE = re.compile(r"^[A-Z2-7]{17}$")
LABEL_ANO = b"guichet/level1/ano/v1\x00"
LABEL_PSA = b"guichet/level1/psa/v1\x00"
LABEL_HUB = b"guichet/hub/v1\x00"
LABEL_PROJECT = b"guichet/project/v2\x00"  # v2: AES-256 CBC-MAC (below); v1 was HMAC-SHA-256
# record keys sent as bytes (their canonical binary encoding, workspace/surrogates.py): the same CBC-MAC under the
# project's pseudonym key, another domain (the labels differ before either ends: no message of one is one of the other)
LABEL_PROJECT_KEY = b"guichet/project-key/v1\x00"
_SEP = b"\x00"
_DIGEST_BYTES = 15  # 120 bits -> 24 base32 characters, of which the first 17 are kept


def encode(digest: bytes) -> str:
    return base64.b32encode(digest[:_DIGEST_BYTES]).decode("ascii")[:LENGTH]


def pseudonym(key: bytes, label: bytes, value: bytes) -> str:
    return encode(hmac.digest(key, label + value, "sha256"))


def is_pseudonym(value: str) -> bool:
    return bool(PSEUDONYM_RE.match(value))


# --- canonical inputs ---------------------------------------------------------------------------------

def canonical_birth_date(value: str) -> str | None:
    """``YYYY-MM-DD`` (also accepts ``YYYYMMDD`` and ``DD/MM/YYYY``), or None when it is not a date."""
    v = value.strip()
    m = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})", v) or None
    if m:
        y, mo, d = m.groups()
    else:
        m2 = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", v)
        if not m2:
            return None
        d, mo, y = m2.groups()
    try:
        return date(int(y), int(mo), int(d)).isoformat()
    except ValueError:
        return None


def canonical_sex(value: str) -> str | None:
    v = value.strip()
    return v if v in ("1", "2") else None


def ano_message(nir: str) -> bytes | None:
    """The ``ano`` input of a NIR, or None when its control key is wrong."""
    n = nirs.normalise(nir)
    return n.encode("ascii") if nirs.key_ok(n) else None


def psa_message(nir: str, birth_date: str, sex: str) -> bytes | str:
    """The ``psa`` input, or the marker that replaces the pseudonym when an input is wrong."""
    n = nirs.normalise(nir)
    if not nirs.key_ok(n):
        return nirs.INVALID_NIR_KEY
    b, s = canonical_birth_date(birth_date), canonical_sex(sex)
    if b is None or s is None:
        return nirs.INVALID_PSA_INPUTS
    return _SEP.join((n.encode("ascii"), b.encode("ascii"), s.encode("ascii")))


def level1_ano(key: bytes, nir: str) -> str:
    msg = ano_message(nir)
    return nirs.INVALID_NIR_KEY if msg is None else pseudonym(key, LABEL_ANO, msg)


def level1_psa(key: bytes, nir: str, birth_date: str, sex: str) -> str:
    msg = psa_message(nir, birth_date, sex)
    return msg if isinstance(msg, str) else pseudonym(key, LABEL_PSA, msg)


def hub_pseudonym(key: bytes, level1: str) -> str:
    return pseudonym(key, LABEL_HUB, level1.encode("ascii"))


def project_pseudonym(key: bytes, person_id: str) -> str:
    """The reference (one message, one CBC encryption): what ``cbc_mac_many`` computes for many at once."""
    return _cbc_mac_one(key, LABEL_PROJECT + person_id.encode("utf-8"))


def project_key_pseudonym(key: bytes, message: bytes) -> str:
    """The reference of a record key's surrogate from its canonical bytes (``project_key_pseudonyms``)."""
    return _cbc_mac_one(key, LABEL_PROJECT_KEY + message)


def _cbc_mac_one(key: bytes, message: bytes) -> str:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    return encode((encryptor.update(cbc_mac_encoding(message)) + encryptor.finalize())[-16:])


# --- project pseudonyms: AES-256 CBC-MAC over a prefix-free encoding ------------------------------------
#
# An extract replaces every key of every row (10M claim ids for a 10M-row extract) by a per-project
# surrogate. HMAC-SHA-256 costs about 3 µs a value in Python (four C calls per value, see below); the
# project level uses instead the CBC-MAC of AES-256 under the project's pseudonym key, over the message
# encoded as an 8-byte big-endian length, the message, and zero padding to a 16-byte boundary. With the length
# first, no encoding is a prefix of another, and CBC-MAC over a prefix-free encoding is a pseudorandom
# function (Bellare, Kilian, Rogaway 2000; the same length-first encoding as CCM, NIST SP 800-38C). Messages of
# the same block count are computed together: one AES-ECB call per block position over all of them
# (AES-NI: about 400 MB/s here), so that a million values cost tens of milliseconds.
# ``project_pseudonym`` is the one-message reference the tests compare with.

_CBC_CHUNK = 131_072  # values per vectorised step (bounds the padded matrix and its index arrays)


def cbc_mac_encoding(message: bytes) -> bytes:
    body = len(message).to_bytes(8, "big") + message
    return body + bytes(-len(body) % 16)


def cbc_mac_many(key: bytes, label: bytes, values: pa.Array) -> bytes:
    """The 16-byte CBC-MACs of ``label + value`` for every value of a binary array without nulls, in order,
    concatenated."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - ECB steps of CBC-MAC, one block per message
    out: list[bytes] = []
    for start in range(0, len(values), _CBC_CHUNK):
        chunk = values.slice(start, _CBC_CHUNK)
        out.append(_cbc_mac_chunk(cipher, label, chunk))
    return b"".join(out)


def _cbc_mac_chunk(cipher: Any, label: bytes, values: pa.Array) -> bytes:
    n = len(values)
    if n == 0:
        return b""
    if values.null_count:
        raise ValueError("cbc_mac_many: null values")
    lengths = pc.binary_length(values).to_numpy(zero_copy_only=False).astype(np.int64)
    head = 8 + len(label)
    label_row = np.frombuffer(label, dtype=np.uint8)
    result = np.empty((n, 16), dtype=np.uint8)
    encryptor = cipher.encryptor()  # ECB keeps no state between calls: one for every block position
    # two buffers the chain steps write into (``update_into`` allocates nothing: 6x faster than ``update``,
    # which allocates and copies the output, measured on 16 MB)
    state_buf = bytearray(min(n, _CBC_CHUNK) * 16 + 15)
    mixed = np.empty((min(n, _CBC_CHUNK), 16), dtype=np.uint8)
    distinct = lengths[:1] if lengths.min() == lengths.max() else np.unique(lengths)  # a record key: one length
    for length in distinct:  # values of one byte length: one contiguous (m, length) matrix
        if len(distinct) == 1:
            idx, taken = None, values
        else:
            idx = np.flatnonzero(lengths == length)
            taken = values.take(pa.array(idx))
        m, size = len(taken), int(length)
        width = (head + size + 15) // 16 * 16
        padded = np.zeros((m, width), dtype=np.uint8)
        padded[:, :8] = np.frombuffer((len(label) + size).to_bytes(8, "big"), dtype=np.uint8)
        padded[:, 8:head] = label_row
        if size:
            buf = taken.buffers()[2]
            first = int(np.frombuffer(taken.buffers()[1], np.int32)[taken.offset])
            padded[:, head:head + size] = np.frombuffer(buf, dtype=np.uint8)[first:first + m * size].reshape(m, size)
        # the leading blocks every message of the group shares (the length, the label, a common prefix such as
        # a surrogate's kind) chain to the same state: computed once, on the first message
        shared = 0
        while shared < width // 16 - 1 and (padded[:, 16 * shared:16 * (shared + 1)] == padded[0, 16 * shared:
                                                                                             16 * (shared + 1)]).all():
            shared += 1
        start = np.zeros(16, dtype=np.uint8)
        for j in range(shared):
            start = np.frombuffer(encryptor.update((start ^ padded[0, 16 * j:16 * (j + 1)]).tobytes()), np.uint8)
        state = np.frombuffer(state_buf, dtype=np.uint8, count=m * 16).reshape(m, 16)
        state[:] = start
        step = mixed[:m]
        # XORed as two 64-bit words a block (eight times fewer elements than bytes)
        state64, step64, padded64 = state.view(np.uint64), step.view(np.uint64), padded.view(np.uint64)
        for j in range(shared, width // 16):
            np.bitwise_xor(state64, padded64[:, 2 * j:2 * (j + 1)], out=step64)
            encryptor.update_into(step, state_buf)
        if idx is None:
            result[:] = state
        else:
            result[idx] = state
    return result.tobytes()


def project_pseudonyms(key: bytes, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Project pseudonyms of a string column, value by value (the caller sends distinct values where values
    repeat: a MAC costs less than finding the distinct values); nulls stay null, empty strings stay empty."""
    values = _plain_strings(values)
    if len(values) == 0:
        return pa.array([], pa.string())
    messages = (pc.fill_null(values, "") if values.null_count else values).cast(pa.binary())  # no copy without nulls
    out = encode_digests(cbc_mac_many(key, LABEL_PROJECT, messages), width=16)
    empty = pc.equal(values, "")
    if values.null_count or pc.any(empty).as_py():
        out = pc.if_else(empty, pa.scalar("", pa.string()), out)
    return out


def project_key_pseudonyms(key: bytes, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Project pseudonyms of record keys given as bytes (their canonical encoding, one message a row, no nulls):
    the CBC-MAC of ``LABEL_PROJECT_KEY`` + the bytes under the project's pseudonym key."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if pa.types.is_fixed_size_binary(values.type) or pa.types.is_large_binary(values.type):
        values = values.cast(pa.binary())
    if len(values) == 0:
        return pa.array([], pa.string())
    return encode_digests(cbc_mac_many(key, LABEL_PROJECT_KEY, values), width=16)


# --- vectorised ---------------------------------------------------------------------------------------
#
# Measured (benchmarks/pseudonymise.py, one core): OpenSSL 3's one-shot ``hmac.digest`` spends most of its
# ~1-3 µs per call setting the key up again. HMAC (RFC 2104) is H((K ^ opad) || H((K ^ ipad) || m)): the
# two keyed states, with the domain label absorbed into the inner one, are computed once and *copied* per
# value, which gives byte-identical digests for a fraction of the work (tests/unit/test_custodian_pure.py
# compares them with ``hmac.digest``). CPython's own SHA-256 copies its state more cheaply than OpenSSL's
# EVP context, so it is preferred when present. Base32 of the 85 bits kept is done with numpy over all
# digests at once (``base64.b32encode`` is a Python loop in 3.11).

_B32_ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", dtype=np.uint8)
_MAX_STRING_BYTES = 2**31 - 1  # pa.string() offsets are int32


def _sha256_constructor() -> Callable[..., Any]:
    for module in ("_sha2", "_sha256"):  # CPython >= 3.12, then 3.11
        try:
            return importlib.import_module(module).sha256
        except (ImportError, AttributeError):
            continue
    return hashlib.sha256


_SHA256 = _sha256_constructor()


class KeyedHmac:
    """HMAC-SHA-256 under one key and one domain label, for many messages (``label + value`` each)."""

    def __init__(self, key: bytes, label: bytes = b"") -> None:
        block = bytes(key) if len(key) <= 64 else hashlib.sha256(key).digest()
        block = block.ljust(64, b"\x00")
        self._inner = _SHA256(bytes(b ^ 0x36 for b in block) + label)
        self._outer = _SHA256(bytes(b ^ 0x5C for b in block))

    def digest(self, value: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(value)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def digests(self, values: Iterable[bytes]) -> bytes:
        """The 32-byte digests of every value, concatenated (one buffer, no per-value slicing)."""
        inner_copy, outer_copy = self._inner.copy, self._outer.copy
        out: list[bytes] = []
        append = out.append
        for value in values:  # the hot loop: four C calls per value
            inner = inner_copy()
            inner.update(value)
            outer = outer_copy()
            outer.update(inner.digest())
            append(outer.digest())
        return b"".join(out)


def encode_digests(blob: bytes, width: int = 32) -> pa.Array:
    """``encode`` of every ``width``-byte digest in ``blob``, as one string array (numpy base32)."""
    n = len(blob) // width
    if n * LENGTH > _MAX_STRING_BYTES:
        raise ValueError("too many pseudonyms for one string array; split the column")
    raw = np.frombuffer(blob, dtype=np.uint8).reshape(n, width)
    # the 85 bits kept, as two big-endian integers: bits 0-63 and bits 64-87 (of which 64-84 are used)
    high = np.ascontiguousarray(raw[:, :8]).view(">u8").ravel().astype(np.uint64)
    low = np.zeros((n, 8), dtype=np.uint8)
    low[:, :3] = raw[:, 8:11]
    low_bits = low.view(">u8").ravel().astype(np.uint64)
    groups = np.empty((LENGTH, n), dtype=np.uint8)  # one row a character: every write contiguous
    for i in range(LENGTH):  # character i is bits 5i .. 5i+4 of the digest, big-endian
        first = 5 * i
        if first + 5 <= 64:
            group = (high >> np.uint64(59 - first)) & np.uint64(31)
        elif first >= 64:
            group = (low_bits >> np.uint64(123 - first)) & np.uint64(31)
        else:  # straddles the two: its high bits end ``high``, its low bits start ``low``
            over = first + 5 - 64
            group = ((high & np.uint64((1 << (64 - first)) - 1)) << np.uint64(over)) | (low_bits >> np.uint64(64 - over))
        groups[i] = group
    chars = np.ascontiguousarray(_B32_ALPHABET[groups].T)
    offsets = np.arange(0, LENGTH * (n + 1), LENGTH, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars))


def hmac_many(key: bytes, label: bytes, values: Sequence[bytes]) -> pa.Array:
    """``pseudonym(key, label, v)`` for every value, as a string array."""
    return encode_digests(KeyedHmac(key, label).digests(values))


def hmac_or_keep(key: bytes, label: bytes, items: Sequence[bytes | str]) -> pa.Array:
    """Pseudonyms of the ``bytes`` items (messages); ``str`` items (markers, empty cells) are kept as they are."""
    at = [i for i, item in enumerate(items) if isinstance(item, bytes)]
    messages = [item for item in items if isinstance(item, bytes)]
    hashed = hmac_many(key, label, messages).to_pylist() if messages else []
    out = [item if isinstance(item, str) else "" for item in items]
    for i, value in zip(at, hashed, strict=True):
        out[i] = value
    return pa.array(out, pa.string())


def map_distinct(values: pa.Array | pa.ChunkedArray, fn: Callable[[list[str]], pa.Array]) -> pa.Array:
    """Apply ``fn`` to the distinct non-null values only, and spread the answers back over every row."""
    values = _plain_strings(values)
    encoded = pc.dictionary_encode(values)
    dictionary = encoded.dictionary
    answers = fn(dictionary.to_pylist()) if len(dictionary) else pa.array([], pa.string())
    return answers.take(encoded.indices)


def _plain_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if pa.types.is_large_string(values.type) or pa.types.is_string_view(values.type):
        values = values.cast(pa.string())
    return values


def pseudonymise_distinct(key: bytes, label: bytes, distinct: pa.Array) -> pa.Array:
    """Pseudonyms of string values (HMAC each one, so pass distinct values); nulls stay null, empty
    strings stay empty."""
    distinct = _plain_strings(distinct)
    if len(distinct) == 0:
        return pa.array([], pa.string())
    messages = distinct.cast(pa.binary()).to_pylist()  # bytes straight from Arrow's buffer (UTF-8)
    out = hmac_many(key, label, [m if m is not None else b"" for m in messages])
    empty = pc.equal(distinct, "")
    if distinct.null_count or pc.any(empty).as_py():
        out = pc.if_else(empty, pa.scalar("", pa.string()), out)  # a null stays null through if_else
    return out


def pseudonymise_column(key: bytes, label: bytes, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """HMAC pseudonyms of a string column; nulls stay null, empty strings stay empty.

    The column is dictionary-encoded first (a person appears in many rows), only the distinct values are
    hashed, and the answers are taken back over every row, in order.
    """
    encoded = pc.dictionary_encode(_plain_strings(values))
    return pseudonymise_distinct(key, label, encoded.dictionary).take(encoded.indices)
