"""Writes a synthetic delivery: a temporary sibling folder, streamed files, then one rename.

Nothing half-written: on any error the temporary folder is removed and ``--out`` is untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import IO, Any

import numpy as np

from guichet.errors import BadInput, Conflict
from guichet.synth import manifest, schemas
from guichet.synth.generate import TABLE_ORDER, Plan, chunks, plan
from guichet.synth.params import SynthRequest
from guichet.synth.rows import REFERENTIAL, Rows

PER_YEAR = ("T_MCOaaB", "T_MCOaaC", "T_MCOaaD")


@dataclass
class _Out:
    """One CSV being written: handle, running hash, data rows so far."""

    path: Path
    handle: IO[bytes]
    sha: Any = field(default_factory=hashlib.sha256)
    rows: int = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.sha.update(data)


@dataclass(frozen=True)
class SynthResult:
    out: Path
    deliveries: list[str]
    rows: dict[str, int]  # truth table path -> data rows
    defects: dict[str, int]  # defect code -> count
    persons: int
    missing_flow_months: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "deliveries": self.deliveries, "rows": self.rows, "defects": self.defects,
                "persons": self.persons, "missing_flow_months": self.missing_flow_months}


def _month(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def file_name(table: str, year: int | None) -> str:
    return table.replace("aa", f"{year % 100:02d}") if year is not None else table


def prepare_out(out: Path) -> Path:
    """Refuse an existing non-empty --out or an unwritable parent; return the parent folder."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise Conflict(f"--out {out}: exists and is not empty; choose a new folder")
    parent = out.absolute().parent
    if not parent.is_dir():
        raise BadInput(f"--out {out}: parent folder does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"--out {out}: parent folder is not writable")
    return parent


def write_delivery(req: SynthRequest, out: Path, on_progress: Callable[[int], None] | None = None) -> SynthResult:
    req.validate()
    parent = prepare_out(out)
    pl = plan(req)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=parent))
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot write there ({exc.strerror})") from None
    try:
        result = _write(req, pl, tmp, out, on_progress)
        if out.exists():
            out.rmdir()  # empty (checked above)
        tmp.rename(out)
        return result
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BadInput(f"--out {out}: writing failed ({exc.strerror}); nothing was left behind") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write(req: SynthRequest, pl: Plan, tmp: Path, out: Path, on_progress: Callable[[int], None] | None) -> SynthResult:
    full = req.columns == "full"
    k = len(pl.deliveries)
    folders = [f"delivery-{i + 1:02d}" if k > 1 else "" for i in range(k)]
    years = list(range(req.start.year, req.end.year + 1))
    columns = {t: schemas.file_columns(t, full) for t in TABLE_ORDER}
    files: dict[tuple[int, str], _Out] = {}
    for d, folder in enumerate(folders):
        (tmp / folder / "schemas" / "clear").mkdir(parents=True, exist_ok=True)
        for t in TABLE_ORDER:
            for y in (years if t in PER_YEAR else [None]):
                name = file_name(t, y)
                path = tmp / folder / f"{name}.csv"
                o = _Out(path, path.open("wb"))
                o.write((";".join(columns[t]) + "\n").encode())
                files[(d, name)] = o
    (tmp / "truth").mkdir()
    persons_f = (tmp / "truth" / "persons.csv").open("w", encoding="utf-8", newline="")
    defects_f = (tmp / "truth" / "defects.csv").open("w", encoding="utf-8", newline="")
    persons_f.write("table,row_number,person_key\n")
    defects_f.write("table,row_number,column,defect\n")
    counts: dict[str, int] = {}
    try:
        for done, tables in chunks(req):
            for t in TABLE_ORDER:
                rows = tables[t]
                for d in range(k):
                    _write_rows(rows, d, folders[d], pl, columns[t], files, persons_f, defects_f, counts)
            if on_progress:
                on_progress(done)
        for d, folder in enumerate(folders):
            for m in pl.missing_months:
                if pl.deliveries[d][0] <= m <= pl.deliveries[d][1]:
                    for t in ("ER_PRS_F", "ER_PHA_F"):
                        defects_f.write(f"{_truth_name(folder, t)},,FLX_DIS_DTD,missing_flow_month\n")
                        counts["missing_flow_month"] = counts.get("missing_flow_month", 0) + 1
    finally:
        for o in files.values():
            o.handle.close()
        persons_f.close()
        defects_f.close()
    rows_by_file: dict[str, int] = {}
    for d, folder in enumerate(folders):
        entries = []
        for t in TABLE_ORDER:
            for y in (years if t in PER_YEAR else [None]):
                name = file_name(t, y)
                o = files[(d, name)]
                entries.append(manifest.FileEntry(t, name, f"{name}.csv", o.rows, o.sha.hexdigest()))
                rows_by_file[_truth_name(folder, name)] = o.rows
            (tmp / folder / "schemas" / "clear" / f"{t}.json").write_text(
                schemas.dumps(schemas.clear(t, full)), encoding="utf-8")
            (tmp / folder / "schemas" / f"{t}.json").write_text(
                schemas.dumps(schemas.pseudonymised(t, full)), encoding="utf-8")
        a, b = pl.deliveries[d]
        info = {"sequence": d + 1, "of": k, "period_start": req.start.isoformat(), "period_end": req.end.isoformat(),
                "flow_month_first": _month(a), "flow_month_last": _month(b), "generator": "guichet synth"}
        (tmp / folder / "manifest.toml").write_text(manifest.dumps(manifest.build(entries, info)), encoding="utf-8")
    missing = [_month(m) for m in pl.missing_months]
    summary = {"persons": req.persons, "seed": req.seed, "start": req.start.isoformat(), "end": req.end.isoformat(),
               "profile": req.profile.rates(), "columns": req.columns, "deliveries": folders if k > 1 else ["."],
               "plants": [{"kind": p.kind, "region": p.region} for p in req.plants],
               "missing_flow_months": missing, "rows": rows_by_file, "defects": dict(sorted(counts.items()))}
    (tmp / "truth" / "summary.json").write_text(json.dumps(summary, indent=2, default=list) + "\n", encoding="utf-8")
    return SynthResult(out, [f or "." for f in folders], rows_by_file, dict(sorted(counts.items())), req.persons,
                       missing)


def _truth_name(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _write_rows(rows: Rows, d: int, folder: str, pl: Plan, columns: list[str], files: dict[tuple[int, str], _Out],
                persons_f: IO[str], defects_f: IO[str], counts: dict[str, int]) -> None:
    if rows.n == 0:
        return
    if rows.arrival.size and rows.arrival[0] == REFERENTIAL and (rows.arrival == REFERENTIAL).all():
        sel = np.arange(rows.n)
    else:
        sel = np.flatnonzero(pl.delivery_of(rows.arrival) == d)
    if sel.size == 0:
        return
    part = rows if sel.size == rows.n else rows.take(sel)
    if part.year is None:
        groups = [(file_name(part.table, None), np.arange(part.n))]
    else:
        groups = [(file_name(part.table, int(y)), np.flatnonzero(part.year == y)) for y in np.unique(part.year)]
    for name, idx in groups:
        o = files[(d, name)]
        sub = part.take(idx) if idx.size != part.n else part
        empty = np.full(sub.n, "", dtype=object)
        cols = [sub.cols.get(c, empty).tolist() for c in columns]
        o.write(("\n".join(map(";".join, zip(*cols, strict=True))) + "\n").encode())
        base = o.rows
        o.rows += sub.n
        tname = _truth_name(folder, name)
        numbers = map(str, range(base + 1, base + sub.n + 1))
        persons_f.write("\n".join(map(",".join, zip(repeat(tname), numbers, map(str, sub.person.tolist())))) + "\n")
        for r, c, code in sorted(sub.defects):
            defects_f.write(f"{tname},{base + r + 1},{c},{code}\n")
            counts[code] = counts.get(code, 0) + 1
