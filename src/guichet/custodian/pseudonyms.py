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
import hmac
import re
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from guichet.custodian import nir as nirs

LENGTH = 17
PSEUDONYM_RE = re.compile(r"^[A-Z2-7]{17}$")
LABEL_ANO = b"guichet/level1/ano/v1\x00"
LABEL_PSA = b"guichet/level1/psa/v1\x00"
LABEL_HUB = b"guichet/hub/v1\x00"
LABEL_PROJECT = b"guichet/project/v1\x00"
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
    return pseudonym(key, LABEL_PROJECT, person_id.encode("utf-8"))


# --- vectorised ---------------------------------------------------------------------------------------

def _encode_many(digests: Sequence[bytes]) -> pa.Array:
    """17-character pseudonyms for many digests: one base32 call over the concatenated prefixes."""
    n = len(digests)
    if n == 0:
        return pa.array([], pa.string())
    blob = base64.b32encode(b"".join(digests))  # 15 bytes -> 24 characters, no padding
    offsets = pa.py_buffer(np.arange(0, 24 * (n + 1), 24, dtype=np.int32).tobytes())
    full = pa.StringArray.from_buffers(n, offsets, pa.py_buffer(blob))
    return pc.utf8_slice_codeunits(full, 0, LENGTH)


def hmac_many(key: bytes, label: bytes, values: Sequence[bytes]) -> pa.Array:
    digest = hmac.digest
    return _encode_many([digest(key, label + v, "sha256")[:_DIGEST_BYTES] for v in values])


def map_distinct(values: pa.Array | pa.ChunkedArray, fn: Callable[[list[str]], pa.Array]) -> pa.Array:
    """Apply ``fn`` to the distinct non-null values only, and spread the answers back over every row."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    encoded = pc.dictionary_encode(values)
    dictionary = encoded.dictionary
    answers = fn(dictionary.to_pylist()) if len(dictionary) else pa.array([], pa.string())
    return answers.take(encoded.indices)


def pseudonymise_column(key: bytes, label: bytes, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """HMAC pseudonyms of a string column; nulls stay null, empty strings stay empty."""
    def on_distinct(distinct: list[str]) -> pa.Array:
        encoded = [v.encode("utf-8") for v in distinct]
        out = hmac_many(key, label, encoded)
        empties = pa.array([v == "" for v in distinct])
        return pc.if_else(empties, pa.scalar("", pa.string()), out)

    return map_distinct(values, on_distinct)
