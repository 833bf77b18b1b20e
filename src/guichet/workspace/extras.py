"""What a workspace offers researchers beside the extract: a dummy extract (the permit's schema, fake values
from ``guichet.synth``, no real row) to write code before access, and datasets the applicants bring
(validated: size, no identifier-shaped column; encrypted under the project's key beside the extract)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from guichet.access.criteria import EVENT_TABLES
from guichet.audit.guard import looks_like_identifier
from guichet.custodian import custodian_for
from guichet.custodian.nir import key_ok
from guichet.custodian.pseudonyms import PSEUDONYM_RE
from guichet.deposit.sniff import MIN_VALUES, SAMPLE_ROWS, SHARE
from guichet.errors import BadInput, Refused
from guichet.hub import Hub
from guichet.lake import published_versions
from guichet.workspace import rules
from guichet.workspace.build import (
    Plan,
    _out_expressions,
    load_brought,
    save_brought,
    workspace_dir,
    write_table,
)

DUMMY = "dummy"
DUMMY_PERSONS = 60
DUMMY_SEED = 18
BROUGHT_DIR = "brought"
DEFAULT_BRING_MAX_BYTES = 50_000_000
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


# --- the dummy extract --------------------------------------------------------------------------------------------

def _date(text: Any) -> dt.date | None:
    s = str(text or "").strip()
    try:
        if re.match(r"^\d{4}-\d{2}-\d{2}", s):
            return dt.date.fromisoformat(s[:10])
        if re.match(r"^\d{8}$", s):  # DDMMYYYY (PMSI)
            return dt.date(int(s[4:]), int(s[2:4]), int(s[:2]))
    except ValueError:
        return None
    return None


def _period(plan: Plan) -> tuple[dt.date, dt.date]:
    first, last = plan.period.get("start"), plan.period.get("end")
    start = dt.date.fromisoformat(first) if first else dt.date(2023, 1, 1)
    end = dt.date.fromisoformat(last) if last else start.replace(month=12, day=31)
    return start, max(end, start)


def dummy_tables(hub: Hub, plan: Plan) -> dict[str, pa.Table]:
    """The permit's released tables with their released columns (what the real extract's would be), filled with
    synthetic values from ``guichet.synth`` (dates coarsened as the extract's, keys as fake surrogates)."""
    from guichet.synth.generate import chunks
    from guichet.synth.params import SynthRequest

    start, end = _period(plan)
    req = SynthRequest(persons=DUMMY_PERSONS, start=start, end=end, seed=DUMMY_SEED)
    req.validate()
    _, synth = next(chunks(req))
    out: dict[str, pa.Table] = {}
    for table in plan.tables:
        published = published_versions(hub, table)
        present = set(max(published, key=lambda v: v.version).columns) if published else set()
        rows = synth.get(table)
        persons = [int(p) for p in rows.person] if rows is not None else []
        cols: dict[str, Any] = dict(rows.cols) if rows is not None else {}
        present |= set(cols)
        released = _out_expressions(plan, table, present | set(plan.variables.get(table, [])))
        n = len(persons)
        arrays: dict[str, pa.Array] = {rules.PERSON_OUT: pa.array([f"dummy-person-{p}" for p in persons], pa.string())}
        if released.record_key:
            arrays[released.record_key.out] = pa.array([f"dummy-{released.record_key.kind}-{i + 1}" for i in range(n)],
                                                       pa.string())
        spec = EVENT_TABLES.get(table)
        starts = [_date(v) for v in cols.get(spec.start, [None] * n)] if spec and spec.start else [None] * n
        first: dict[int, dt.date] = {}
        for p, d in zip(persons, starts, strict=True):
            if d is not None:
                first[p] = min(first.get(p, d), d)
        for c in released.columns:
            if c == rules.INDEX_DAYS:
                arrays[c] = pa.array([(d - first[p]).days if d is not None else None
                                      for p, d in zip(persons, starts, strict=True)], pa.int64())
                continue
            values = cols.get(c)
            if values is None:
                arrays[c] = pa.nulls(n, pa.string())
            elif c in released.column_keys:
                arrays[c] = pa.array([f"dummy-{released.column_keys[c]}-{zlib.crc32(str(v).encode()) % 10_000}"
                                      for v in values], pa.string())
            elif c in rules.DATE_FIELDS:
                days = [_date(v) for v in values]
                coarse = f"{table}.{c}" not in plan.granted
                arrays[c] = pa.array([(d.strftime("%Y-%m") if coarse else d.isoformat()) if d else None for d in days],
                                     pa.string())
            else:
                arrays[c] = pa.array([None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                                      for v in values], pa.string())
        out[table] = pa.table(arrays)
    return out


def write_dummy(hub: Hub, plan: Plan) -> dict[str, Any]:
    """Write the dummy extract, unencrypted (no real row), under the workspace's ``dummy/`` folder."""
    folder = workspace_dir(hub, plan.permit) / DUMMY
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    tables = dummy_tables(hub, plan)
    for name, t in tables.items():
        pq.write_table(t, folder / f"{name}.parquet")
    return {"permit": plan.permit, "dummy": str(folder.relative_to(hub.home)),
            "tables": {name: {"rows": t.num_rows, "columns": t.column_names} for name, t in tables.items()},
            "synthetic": True}


# --- datasets brought by the applicants ----------------------------------------------------------------------------

def _read(path: Path) -> pa.Table:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            import pyarrow.csv as pcsv

            return pcsv.read_csv(path)
        if suffix == ".parquet":
            return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise BadInput(f"{path.name}: not a readable {suffix[1:].upper()} file ({type(exc).__name__})") from None
    raise BadInput(f"{path.name}: a .csv or .parquet file")


def identifier_shaped(table: pa.Table) -> dict[str, str]:
    """Columns whose name or values look like identifiers: {column: what} (never a value). The deposit's
    sampling rule (``deposit.sniff``: the first rows, a share of the non-empty values) with its NIR and
    level-1 pseudonym shapes, the audit guard's (NIRs, pseudonyms, hashes, keys, tokens), and the names of
    the person columns an extract never releases."""
    out: dict[str, str] = {}
    for name in table.column_names:
        if name in rules.PERSON_COLUMNS or looks_like_identifier(name):
            out[name] = "an identifier's name"
            continue
        values = [str(v).strip() for v in table.column(name).slice(0, SAMPLE_ROWS).to_pylist() if v is not None]
        values = [v for v in values if v]
        if len(values) < MIN_VALUES:
            continue
        nirs = sum(1 for v in values if 13 <= len(v) <= 21 and key_ok(v))
        pseudonyms = sum(1 for v in values if len(v) == 17 and PSEUDONYM_RE.match(v))
        other = sum(1 for v in values if looks_like_identifier(v))
        if nirs >= SHARE * len(values):
            out[name] = "NIRs"
        elif pseudonyms >= SHARE * len(values):
            out[name] = "level-1 pseudonyms"
        elif other >= SHARE * len(values):
            out[name] = "identifiers, hashes or keys"
    return out


def bring(hub: Hub, session: Session, plan: Plan, path: Path, name: str, by: str,
          description: str = "") -> dict[str, Any]:
    """Add a dataset the applicants bring to the workspace: validated (size, format, no identifier-shaped
    column), then encrypted under the project's key beside the extract and listed in its manifest and data
    dictionary."""
    if not NAME_RE.match(name):
        raise BadInput("--name: lower-case letters, digits and _, starting with a letter (at most 40)")
    if not path.is_file():
        raise BadInput(f"{path.name}: no such file")
    limit = int(hub.config.properties.get("workspace_bring_max_bytes", DEFAULT_BRING_MAX_BYTES))
    size = path.stat().st_size
    if size > limit:
        raise Refused(f"{path.name}: {size:,} bytes, above the limit of {limit:,} (workspace_bring_max_bytes)")
    table = _read(path)
    shaped = identifier_shaped(table)
    if shaped:
        listed = ", ".join(f"{c} ({k})" for c, k in sorted(shaped.items()))
        raise Refused(f"{path.name}: columns that look like identifiers are refused: {listed}")
    brought = load_brought(hub, plan.permit)
    if name in brought:
        raise Refused(f"a dataset named {name} was already brought into this workspace")
    folder = workspace_dir(hub, plan.permit) / BROUGHT_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    custodian = custodian_for(hub.config, caller="workspace")
    tmp = folder / f".{name}.{secrets.token_hex(4)}.parquet"
    meta = write_table(custodian, plan.project, table, tmp)
    tmp.replace(folder / f"{name}.parquet")
    from guichet.custodian.datakeys import record_data_key
    from guichet.custodian.keys import DataKey

    record_data_key(session, DataKey(meta["key_id"], meta["wrapped"], b""))  # the caller's transaction
    meta.update(path=f"{name}.parquet", columns=table.column_names, by=by, on=dt.date.today().isoformat(),
                description=description, source=path.suffix.lower()[1:])
    brought[name] = meta
    save_brought(hub, plan.permit, brought)
    _list_in_latest(hub, plan.permit, brought)
    return {"permit": plan.permit, "name": name, "rows": meta["rows"], "columns": table.column_names,
            "path": str((folder / meta["path"]).relative_to(hub.home))}


def _list_in_latest(hub: Hub, permit_id: str, brought: dict[str, Any]) -> None:
    """The latest extract's manifest and data dictionary list the brought datasets."""
    import json

    from guichet.workspace.build import DICTIONARY, brought_dictionary, extract_dir, load_manifest, save_manifest

    manifest = load_manifest(hub, permit_id)
    if manifest is None:
        return
    manifest["brought"] = brought
    save_manifest(hub, permit_id, manifest)
    for path in (extract_dir(hub, permit_id) / DICTIONARY, workspace_dir(hub, permit_id) / DICTIONARY):
        if path.exists():
            dictionary = json.loads(path.read_text(encoding="utf-8"))
            dictionary["brought"] = brought_dictionary(brought)
            path.write_text(json.dumps(dictionary, indent=1, ensure_ascii=False), encoding="utf-8")
