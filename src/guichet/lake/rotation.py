"""Rotation of hub pseudonyms in the lake's files (registered with the custodian's rotation hook).

Every file of a live version (published or held) whose dataset declares pseudonym columns (``psa`` or
``ano`` identifiers, converted to hub pseudonyms at deposit) is rewritten through the one-time old → new
mapping, so that no stored pseudonym keeps its old value (docs/custodian.md, "Rotation"). Each file is
written anew beside the old one under a fresh data key; then one transaction points every version that
lists it (an append version lists its predecessors' files) at the new file and key; then the old file is
removed. A crash leaves the old files in force (and at most an unused new file, which the retried rotation
writes again at the same path), so a retried rotation is safe; values already in the new generation are
left as they are.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from guichet.custodian.parquet import write_encrypted_parquet
from guichet.custodian.rotation import register_applier
from guichet.errors import Conflict
from guichet.hub import Hub
from guichet.lake.atomic import LIVE, dataset_locks
from guichet.lake.keys import load_key, protection_for, read_file, save_keys
from guichet.lake.tables import DatasetVersion

PSEUDONYM_KINDS = ("psa", "ano")
CONVERTED = ("level1", "hub")  # level-1 values became hub pseudonyms at deposit; hub ones arrived as such


def _pseudonym_columns(lineage: dict[str, object]) -> list[str]:
    roles = lineage.get("identifiers") or {}
    assert isinstance(roles, dict)
    return sorted(c for c, r in roles.items() if r.get("kind") in PSEUDONYM_KINDS and r.get("state") in CONVERTED)


def rotate_column(values: pa.ChunkedArray, mapping: dict[str, str], new_values: set[str]) -> tuple[pa.Array, int]:
    out, changed = [], 0
    for v in values.to_pylist():
        if v is None or v in new_values:
            out.append(v)
            continue
        if v not in mapping:
            raise Conflict("rotation: a pseudonym of the lake is missing from the mapping")
        out.append(mapping[v])
        changed += 1
    return pa.array(out, pa.string()), changed


def apply_rotation(hub: Hub, mapping: pa.Table) -> int:
    pairs = dict(zip(mapping.column("old").to_pylist(), mapping.column("new").to_pylist(), strict=True))
    new_values = set(pairs.values())
    with hub.store.read() as s:
        rows = [(v.dataset, list(v.files or []), dict(v.lineage or {})) for v in s.execute(
            select(DatasetVersion).where(DatasetVersion.status.in_(LIVE))).scalars()]
    todo: dict[str, tuple[str, list[str]]] = {}  # path -> (dataset, pseudonym columns)
    for dataset, files, lineage in rows:
        columns = _pseudonym_columns(lineage)
        for f in files if columns else []:
            todo.setdefault(str(f["path"]), (dataset, columns))
    total = 0
    for dataset in sorted({d for d, _ in todo.values()}):
        with dataset_locks(hub, [dataset]):  # no deposit writes the dataset meanwhile
            total += _rotate_dataset(hub, dataset, {p: c for p, (d, c) in todo.items() if d == dataset},
                                     pairs, new_values)
    return total


def _rotate_dataset(hub: Hub, dataset: str, paths: dict[str, list[str]], pairs: dict[str, str],
                    new_values: set[str]) -> int:
    protection = protection_for(hub)
    with hub.store.read() as s:
        key_of = {str(f["path"]): str(f["key_id"]) for v in s.execute(
            select(DatasetVersion).where(DatasetVersion.dataset == dataset)).scalars() for f in (v.files or [])}
    moved: dict[str, tuple[str, str]] = {}  # old path -> (new path, new key id)
    changed = 0
    for path, columns in sorted(paths.items()):
        table = read_file(str(hub.home / path), load_key(hub, protection, key_of[path]))
        n = 0
        for col in columns:
            if col not in table.column_names or not pc.any(pc.is_valid(table.column(col))).as_py():
                continue
            rotated, k = rotate_column(table.column(col), pairs, new_values)
            table = table.set_column(table.schema.get_field_index(col), col, rotated)
            n += k
        if n == 0:
            continue
        key = protection.new_file_key("lake")
        new_path = _next_path(path)
        write_encrypted_parquet(table, hub.home / new_path, key.key)
        with hub.store.write() as s:
            save_keys(s, [key])
        moved[path] = (new_path, key.key_id)
        changed += n
    if moved:
        with hub.store.write() as s:
            for v in s.execute(select(DatasetVersion).where(DatasetVersion.dataset == dataset)).scalars():
                if any(str(f["path"]) in moved for f in (v.files or [])):
                    v.files = [{**f, "path": moved[str(f["path"])][0], "key_id": moved[str(f["path"])][1]}
                               if str(f["path"]) in moved else f for f in v.files]
        for old in moved:
            (hub.home / old).unlink(missing_ok=True)
    return changed


def _next_path(path: str) -> str:
    """``…/data.parquet`` → ``…/data.r1.parquet`` → ``…/data.r2.parquet`` (one generation per rotation)."""
    stem, _, ext = path.rpartition(".")
    base, dot, gen = stem.rpartition(".r")
    if dot and gen.isdigit():
        return f"{base}.r{int(gen) + 1}.{ext}"
    return f"{stem}.r1.{ext}"


register_applier("lake", apply_rotation)
