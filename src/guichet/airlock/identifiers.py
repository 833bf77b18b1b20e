"""Columns that make a table a list of persons: identifier-shaped values (the hub's 17-character pseudonyms
of ``[A-Z2-7]``, whether or not they hold a digit; NIRs; long hashes and keys — the shapes the audit guard
refuses), a known identifier column name (person, stay, claim and death keys, the 9-key DCIR join), or, in a
file without helper metadata, a text column of at least 50 rows whose values are at least 90 % distinct."""

from __future__ import annotations

import re
from collections.abc import Sequence

from guichet.audit.guard import looks_like_identifier
from guichet.custodian.nir import key_ok
from guichet.custodian.pseudonyms import PSEUDONYM_RE
from guichet.workspace.rules import NINE_KEYS, PERSON_COLUMNS, PERSON_OUT, RECORD_KEYS

MIN_ROWS = 50
DISTINCT_SHARE = 0.90
_NAMES = {n.lower() for n in (*PERSON_COLUMNS, PERSON_OUT, *NINE_KEYS, *(k.out for k in RECORD_KEYS.values()),
                              "NIR", "NUM_ENQ", "BEN_NIR", "person", "person_id", "patient_id", "id_patient",
                              "pseudonym", "pseudonyme", "ident", "identifiant", "claim_id", "stay_id", "death_id",
                              "DCD_IDT_ENC", "RSA_NUM", "NIR_ANO", "ssn")}
_NORMALISE = re.compile(r"[\s\-.]+")


def identifier_name(name: str) -> bool:
    return _NORMALISE.sub("_", name.strip()).lower() in _NAMES


def value_kind(value: str) -> str | None:
    v = value.strip()
    if not v:
        return None
    if len(v) == 17 and PSEUDONYM_RE.match(v):
        return "pseudonym"
    if 13 <= len(v) <= 21 and key_ok(v):
        return "NIR"
    kind = looks_like_identifier(v)
    if kind is not None:
        return kind.removeprefix("a ").removeprefix("an ")
    return None


def identifier_columns(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: set[int],
                       distinct_rule: bool) -> dict[str, str]:
    """{column name: why} for each column that looks like identifiers (never a value in the why)."""
    out: dict[str, str] = {}
    for j, name in enumerate(header):
        if identifier_name(name):
            out[name] = "identifier column name"
            continue
        values = [r[j] for r in rows if j < len(r) and r[j].strip()]
        kinds = {k for k in (value_kind(v) for v in values) if k}
        if kinds:
            out[name] = "values shaped like " + ", ".join(sorted(kinds))
            continue
        if distinct_rule and j in text_columns and len(values) >= MIN_ROWS \
                and len(set(values)) >= DISTINCT_SHARE * len(values):
            out[name] = f"{len(set(values))} distinct values in {len(values)} rows"
    return out
