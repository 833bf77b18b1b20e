"""Rotation of hub pseudonyms in the person index (registered with the custodian's rotation hook).

Every committed index version is rewritten: the ``psa`` part of ``psa_rank`` keys, ``ano`` and
``hospital_psa`` keys go through the one-time old → new mapping; person ids do not change (project
pseudonyms derive from them, so they survive rotation). A key missing from the mapping is an error;
already-rotated values are left as they are, so a retried rotation is safe.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from guichet.custodian.rotation import register_applier
from guichet.errors import Conflict
from guichet.hub import Hub
from guichet.linkage.index import read_file, write_index
from guichet.linkage.tables import LinkageRun

PSEUDONYM_KINDS = ("psa_rank", "ano", "hospital_psa")


def rotate_keys(table: pa.Table, mapping: dict[str, str], new_values: set[str]) -> tuple[pa.Table, int]:
    kinds = table.column("kind").to_pylist()
    keys = table.column("key").to_pylist()
    out, changed = [], 0
    for kind, key in zip(kinds, keys, strict=True):
        if kind not in PSEUDONYM_KINDS or key is None:
            out.append(key)
            continue
        value, sep, rest = key.partition(":") if kind == "psa_rank" else (key, "", "")
        if value in new_values:
            out.append(key)
            continue
        if value not in mapping:
            raise Conflict(f"rotation: a {kind} key of the person index is missing from the mapping")
        out.append(mapping[value] + sep + rest)
        changed += 1
    return table.set_column(table.schema.get_field_index("key"), "key", pa.array(out, pa.string())), changed


def apply_rotation(hub: Hub, mapping: pa.Table) -> int:
    pairs = dict(zip(mapping.column("old").to_pylist(), mapping.column("new").to_pylist(), strict=True))
    new_values = set(pairs.values())
    with hub.store.read() as s:
        runs = list(s.execute(select(LinkageRun).where(LinkageRun.status == "committed")).scalars())
        for r in runs:
            s.expunge(r)
    total = 0
    for run in runs:
        table = read_file(hub, run, "index")
        if table.num_rows == 0 or not pc.any(pc.is_in(table.column("kind"), pa.array(PSEUDONYM_KINDS))).as_py():
            continue
        rotated, changed = rotate_keys(table, pairs, new_values)
        write_index(hub, run, rotated)
        total += changed
    return total


register_applier("person_index", apply_rotation)
