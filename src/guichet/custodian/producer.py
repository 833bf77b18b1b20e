"""Level-1 pseudonymisation at the producer: a delivery by its manifest, or one file by its columns.

Clear NIRs never leave the producer: the output holds, in place of the first input column, the level-1
pseudonym (17 characters of ``[A-Z2-7]``), the marker ``!invalid_nir_key`` when the NIR's control key is
wrong, ``!invalid_psa_inputs`` when a psa's birth date or sex cannot be read, or an empty cell when the
inputs were empty. Every row is kept in order, so row numbers do not change. The output folder is built
beside its destination and renamed at the end: on any error nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import tomli_w

from guichet.custodian import nir as nirs
from guichet.custodian import pseudonyms as ps
from guichet.custodian.keys import DomainKey
from guichet.errors import BadInput, Conflict

MANIFEST_FORMAT = "guichet-delivery/1"


@dataclass(frozen=True)
class FileReport:
    file: str
    rows: int
    pseudonymised: dict[str, int]  # column -> pseudonyms written
    invalid_nir_key: int
    empty: int

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "pseudonymised": self.pseudonymised,
                "invalid_nir_key": self.invalid_nir_key, "empty": self.empty}


# --- column arithmetic ----------------------------------------------------------------------------------

def _as_str(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pc.fill_null(arr.cast(pa.string()), "")


def ano_column(key: bytes, nir: pa.Array) -> pa.Array:
    def fn(distinct: list[str]) -> pa.Array:
        messages: list[bytes | str] = []
        for v in distinct:
            message = ps.ano_message(v) if v.strip() else ""
            messages.append(nirs.INVALID_NIR_KEY if message is None else message)
        return ps.hmac_or_keep(key, ps.LABEL_ANO, messages)
    return ps.map_distinct(_as_str(nir), fn)


def psa_column(key: bytes, nir: pa.Array, birth: pa.Array, sex: pa.Array) -> pa.Array:
    sep = "\x1f"
    joined = pc.binary_join_element_wise(_as_str(nir), _as_str(birth), _as_str(sex), sep)

    def fn(distinct: list[str]) -> pa.Array:
        messages: list[bytes | str] = []
        for v in distinct:
            n, b, s = v.split(sep)
            messages.append("" if n.strip() == "" else ps.psa_message(n, b, s))
        return ps.hmac_or_keep(key, ps.LABEL_PSA, messages)
    return ps.map_distinct(joined, fn)


def pseudonym_column(key: DomainKey, kind: str, table: pa.Table, inputs: list[str], where: str) -> pa.Array:
    missing = [c for c in inputs if c not in table.column_names]
    if missing:
        raise BadInput(f"{where}: input column {missing[0]} is not in the file")
    if kind == "ano":
        if len(inputs) != 1:
            raise BadInput(f"{where}: an ano pseudonym has exactly one input (the NIR)")
        return ano_column(key.key, table.column(inputs[0]))
    if kind == "psa":
        if len(inputs) != 3:
            raise BadInput(f"{where}: a psa pseudonym has three inputs (NIR, birth date, sex)")
        return psa_column(key.key, *(table.column(c) for c in inputs))
    raise BadInput(f"{where}: kind {kind!r} is not psa or ano")


# --- CSV I/O --------------------------------------------------------------------------------------------

def read_csv(path: Path, delimiter: str, encoding: str) -> pa.Table:
    try:
        with open(path, encoding=encoding, newline="") as fh:
            header = fh.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError, LookupError):
        raise BadInput(f"{path}: cannot be read as {encoding} text") from None
    names = [h.strip('"') for h in header.split(delimiter)]
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        reason = str(exc).splitlines()[0]
        # pyarrow quotes the row it could not parse: keep only the rule, never the data
        raise BadInput(f"{path}: not a valid CSV file ({reason.split(':')[0]})") from None


def write_csv(table: pa.Table, path: Path, delimiter: str) -> None:
    """UTF-8 CSV, cells quoted only when needed (pyarrow's writer quotes every string)."""
    import csv

    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(table.column_names)
        for batch in table.to_batches(max_chunksize=65_536):
            writer.writerows(zip(*(c.to_pylist() for c in batch.columns), strict=True))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _replace_columns(table: pa.Table, new: dict[str, tuple[list[str], pa.Array]], keep: set[str] | None) -> pa.Table:
    """Put each pseudonym where its first input was; drop inputs not kept."""
    inputs = {c for ins, _ in new.values() for c in ins}
    first_of = {ins[0]: name for name, (ins, _) in new.items()}
    cols, names = [], []
    for name in table.column_names:
        if name in first_of:
            pname = first_of[name]
            cols.append(new[pname][1])
            names.append(pname)
        if name in inputs and (keep is None or name not in keep):
            continue
        if name in new:
            continue  # a stale pseudonym column is replaced
        cols.append(table.column(name))
        names.append(name)
    return pa.table(cols, names=names)


def _counts(arr: pa.Array) -> tuple[int, int, int]:
    invalid = pc.sum(pc.equal(arr, nirs.INVALID_NIR_KEY)).as_py() or 0
    empty = pc.sum(pc.equal(arr, "")).as_py() or 0
    return len(arr) - invalid - empty, invalid, empty


# --- one file -------------------------------------------------------------------------------------------

def parse_column_specs(specs: list[str], psa_inputs: str | None) -> dict[str, tuple[str, list[str]]]:
    """``COL[:ano|psa]`` → {pseudonym column: (kind, inputs)}. A NIR column becomes its own pseudonym
    column (same name) for ``ano``; a ``psa`` takes ``--psa-inputs NIR,BIRTH,SEX``."""
    out: dict[str, tuple[str, list[str]]] = {}
    for spec in specs:
        col, _, kind = spec.partition(":")
        kind = kind or "ano"
        if kind not in ("ano", "psa"):
            raise BadInput(f"--columns {col}: kind must be ano or psa")
        if kind == "psa":
            if not psa_inputs:
                raise BadInput(f"--columns {col}:psa needs --psa-inputs NIR_COL,BIRTH_COL,SEX_COL")
            ins = [c.strip() for c in psa_inputs.split(",")]
            if len(ins) != 3:
                raise BadInput("--psa-inputs: three columns, NIR_COL,BIRTH_COL,SEX_COL")
            out[col] = ("psa", ins)
        else:
            out[col] = ("ano", [col])
    return out


def _atomic_out(out: Path) -> Path:
    if out.exists():
        raise Conflict(f"--out {out}: exists; the output is always a new file or folder")
    if not out.parent.exists():
        raise BadInput(f"--out {out}: folder {out.parent} does not exist")
    return out.with_name(f".{out.name}.{os.getpid()}.tmp")


def pseudonymise_file(path: Path, columns: dict[str, tuple[str, list[str]]], key: DomainKey, out: Path,
                      delimiter: str = ";", encoding: str = "utf-8") -> FileReport:
    tmp = _atomic_out(out)
    table = read_csv(path, delimiter, encoding)
    new = {}
    for pcol, (kind, ins) in columns.items():
        new[pcol] = (ins, pseudonym_column(key, kind, table, ins, f"{path.name} {pcol}"))
    # ano columns replace their NIR column; psa inputs other than the NIR are kept (birth date, sex
    # stay with the producer's choice); the NIR input of a psa is removed.
    keep = {c for _, (kind, ins) in columns.items() if kind == "psa" for c in ins[1:]}
    result = _replace_columns(table, new, keep)
    try:
        write_csv(result, tmp, delimiter)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return _report(out.name, result, new)


def _report(name: str, table: pa.Table, new: dict[str, tuple[list[str], pa.Array]]) -> FileReport:
    done, invalid, empty = 0, 0, 0
    per: dict[str, int] = {}
    for pcol, (_, arr) in new.items():
        d, i, e = _counts(arr)
        per[pcol] = d
        done, invalid, empty = done + d, invalid + i, empty + e
    return FileReport(name, table.num_rows, per, invalid, empty)


# --- a whole delivery -----------------------------------------------------------------------------------

def load_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BadInput(f"--manifest {path}: not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"--manifest {path}: not valid TOML ({str(exc).splitlines()[0]})") from None
    if data.get("format") != MANIFEST_FORMAT:
        raise BadInput(f"--manifest {path}: format must be {MANIFEST_FORMAT!r}")
    if not isinstance(data.get("tables"), list):
        raise BadInput(f"--manifest {path}: no [[tables]]")
    return data


def _schema_fields(path: Path, where: str) -> set[str]:
    try:
        return {f["name"] for f in json.loads(path.read_text(encoding="utf-8"))["fields"]}
    except (OSError, ValueError, KeyError, TypeError):
        raise BadInput(f"{where}: schema {path} cannot be read as a Table Schema") from None


def pseudonymise_delivery(folder: Path, manifest_path: Path, key: DomainKey, out: Path,
                          on_file: Callable[[str], None] | None = None) -> list[FileReport]:
    manifest = load_manifest(manifest_path)
    base = manifest_path.parent
    if manifest.get("domain") != key.domain:
        raise BadInput(f"--key-file: its domain is {key.domain!r}, the manifest's is {manifest.get('domain')!r}")
    tmp = _atomic_out(out)
    reports: list[FileReport] = []
    try:
        tmp.mkdir()
        new_tables = []
        for i, entry in enumerate(manifest["tables"]):
            t, report = _one_table(folder, base, tmp, entry, key, f"--manifest tables[{i}]")
            new_tables.append(t)
            reports.append(report)
            if on_file:
                on_file(report.file)
        out_manifest = {**manifest, "tables": new_tables}
        (tmp / "manifest.toml").write_text(tomli_w.dumps(out_manifest), encoding="utf-8")
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return reports


def _copy_rel(base: Path, rel: str, tmp: Path, where: str) -> None:
    src = (base / rel)
    if not src.is_file():
        raise BadInput(f"{where}: {rel} not found")
    dst = tmp / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _one_table(folder: Path, base: Path, tmp: Path, entry: dict[str, Any], key: DomainKey,
               where: str) -> tuple[dict[str, Any], FileReport]:
    try:
        file_rel = entry["file"]
    except KeyError:
        raise BadInput(f"{where}: no file") from None
    src = folder / file_rel
    if not src.is_file():
        raise BadInput(f"{where}: file {src} not found")
    if entry.get("sha256") and sha256_file(src) != entry["sha256"]:
        raise BadInput(f"{where}: {file_rel} does not match its sha256 in the manifest")
    delimiter, encoding = entry.get("delimiter", ";"), entry.get("encoding", "utf-8")
    idents = entry.get("identifiers", [])
    clear = [d for d in idents if d.get("kind") in ("psa", "ano") and d.get("state") == "clear"]
    out_entry = {k: v for k, v in entry.items() if k != "pseudonymised_schema"}
    dst = tmp / file_rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not clear:
        shutil.copyfile(src, dst)
        if entry.get("schema"):
            _copy_rel(base, entry["schema"], tmp, where)
        table = None
        report = FileReport(file_rel, int(entry.get("rows", 0)), {}, 0, 0)
    else:
        target_schema = entry.get("pseudonymised_schema")
        if not target_schema:
            raise BadInput(f"{where}: state clear needs pseudonymised_schema")
        keep = _schema_fields(base / target_schema, where)
        table = read_csv(src, delimiter, encoding)
        new = {}
        for d in clear:
            new[d["column"]] = (list(d.get("inputs", [])),
                                pseudonym_column(key, d["kind"], table, list(d.get("inputs", [])),
                                                 f"{where} {d['column']}"))
        result = _replace_columns(table, new, keep)
        if result.num_rows != table.num_rows:  # pragma: no cover - row order and count are invariant
            raise RuntimeError("row count changed")
        write_csv(result, dst, delimiter)
        _copy_rel(base, target_schema, tmp, where)
        out_entry["schema"] = target_schema
        out_entry["encoding"] = "utf-8"
        report = _report(file_rel, result, new)
    out_entry["identifiers"] = [
        ({k: v for k, v in d.items() if k != "inputs"} | {"state": "level1"}) if d in clear else d for d in idents
    ]
    out_entry["sha256"] = sha256_file(dst)
    if table is not None:
        out_entry["rows"] = table.num_rows
    return out_entry, report
