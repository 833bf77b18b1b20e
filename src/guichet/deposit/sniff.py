"""Columns that look like identifiers but are not declared as such: refused before anything is written.

A column of NIRs (15 characters whose control key is right) or of level-1 pseudonyms (17 characters of
``[A-Z2-7]``) that the deposit was not told about would reach the lake as is: clear identifiers, or
pseudonyms that anyone holding the producers' domain key can link. The first rows of the file are read
(the same delimiter and encoding as the deposit) and every undeclared text column whose non-empty values
are mostly such shapes is named in the refusal (never a value).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from guichet.custodian.nir import key_ok
from guichet.custodian.pseudonyms import PSEUDONYM_RE

SAMPLE_ROWS = 2000
SHARE = 0.5  # of a column's non-empty sampled values
MIN_VALUES = 5  # a handful of lucky matches is not a column of identifiers


def identifier_columns(path: Path, encoding: str, delimiter: str, declared: set[str],
                       skip_bom: bool = False) -> dict[str, str]:
    """Undeclared columns that look like identifiers: {column: 'NIRs' | 'level-1 pseudonyms'}."""
    with path.open("r", encoding="utf-8-sig" if skip_bom else encoding, newline="", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return {}
        nirs = [0] * len(header)
        pseudonyms = [0] * len(header)
        filled = [0] * len(header)
        for row in islice(_records(reader), SAMPLE_ROWS):
            for i, value in enumerate(row[:len(header)]):
                value = value.strip()
                if not value:
                    continue
                filled[i] += 1
                if 13 <= len(value) <= 21 and key_ok(value):
                    nirs[i] += 1
                elif len(value) == 17 and PSEUDONYM_RE.match(value):
                    pseudonyms[i] += 1
    out = {}
    for i, name in enumerate(header):
        name = name.strip()
        if name in declared or filled[i] < MIN_VALUES:
            continue
        if nirs[i] >= SHARE * filled[i]:
            out[name] = "NIRs"
        elif pseudonyms[i] >= SHARE * filled[i]:
            out[name] = "level-1 pseudonyms"
    return out


def _records(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """The reader's records, one it cannot split (a field over csv's size limit) skipped: the deposit itself
    quarantines such a row at its number; the sample goes on with the next."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield []
