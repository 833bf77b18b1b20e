"""Computing a statistics request's answer: the minimal extract (the workspace build, on a request-keyed plan),
a sandboxed session that writes each statistic with the ``guichet.analysis`` helpers (a CSV and its sidecar
with the persons behind every cell), then the airlock's checks — the rule set's per-cell rules with the
airlock's suppression, and the hub-wide differencing ledger, against released cells and against the other
tables of the same answer. A cell that fails, or that the ledger flags, is withheld (never released).

Nothing here is a service: ``stats.services`` calls it inside its governed services.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from guichet.access.criteria import departement_regions
from guichet.airlock import ledger
from guichet.airlock.check import check_file, write_suppressed
from guichet.airlock.rules import DEFAULT, load
from guichet.analysis import metadata as md
from guichet.errors import GuichetError, Refused
from guichet.hub import Hub
from guichet.stats.spec import EVENTS, document, needs
from guichet.workspace import build as extract
from guichet.workspace import rules as ws_rules
from guichet.workspace import session_sandbox as sandbox

OUTPUTS = "/workspace/outputs"  # the session's working folder, inside the sandbox
RELEASED = ("outputs", "stats")  # <home>/outputs/stats/<request>/: released answers


def project_of(request_id: str) -> str:
    return ws_rules.project_of(request_id)


def released_dir(hub: Hub, request_id: str) -> Path:
    return hub.home.joinpath(*RELEASED, request_id)


def outputs_dir(hub: Hub, request_id: str) -> Path:
    return extract.workspace_dir(hub, request_id) / "outputs"


def file_id(request_id: str, index: int) -> int:
    """The ledger's file number of a statistic of a request: negative, so that it never meets an output
    request's file id (``S-2026-0007``, statistic 2 → -2026000702)."""
    year, n = request_id.split("-")[1:]
    return -((int(year) * 10_000 + int(n)) * 100 + index)


# --- the session's SQL, from the validated specification (enumerated values only, never text of the spec) -----

def _q(name: str) -> str:
    return '"' + name + '"'


def _dimension(name: str, ref_year: int) -> str:
    if name == "sex":
        return ("CASE CAST(p.sex_code AS VARCHAR) WHEN '1' THEN 'male' WHEN '2' THEN 'female' ELSE 'unknown' END")
    if name == "age_band":
        age = f"({ref_year} - p.birth_year)"
        return (f"CASE WHEN p.birth_year IS NULL THEN 'unknown' WHEN {age} >= 90 THEN '90+' "
                f"ELSE lpad(CAST(floor({age} / 10) * 10 AS INTEGER)::VARCHAR, 2, '0') || '-' || "
                f"lpad(CAST(floor({age} / 10) * 10 + 9 AS INTEGER)::VARCHAR, 2, '0') END")
    if name == "departement":
        return "coalesce(lpad(p.dpt, 3, '0'), 'unknown')"
    if name == "region":
        pairs = " ".join(f"WHEN '{d}' THEN '{r}'" for d, r in sorted(departement_regions().items())
                         if d.isalnum() and r.isalnum())
        return f"coalesce(CASE lpad(p.dpt, 3, '0') {pairs} END, 'unknown')"
    if name == "year":
        return "y.year"
    raise Refused(f"dimension {name}: unknown")


def _variable(name: str, ref_year: int) -> str:
    return {"age": f"CAST({ref_year} - p.birth_year AS DOUBLE)",
            "claims": "CAST(coalesce(c.n, 0) AS DOUBLE)",
            "amount_paid": "CAST(coalesce(c.amount, 0) AS DOUBLE)",
            "stays": "CAST(coalesce(h.n, 0) AS DOUBLE)",
            "female": "CASE CAST(p.sex_code AS VARCHAR) WHEN '2' THEN 1.0 WHEN '1' THEN 0.0 END"}[name]


def _prepare(spec: dict[str, Any], tables: dict[str, list[str]]) -> list[str]:
    """The session's working tables: one row per person (``st_persons``), their claims and stays, the years of
    their claims, and per event kind the person's event dates."""
    ben = tables.get("IR_BEN_R", [])
    cols = ["PERSON_ID",
            "any_value(CAST(BEN_SEX_COD AS VARCHAR)) AS sex_code" if "BEN_SEX_COD" in ben else "NULL AS sex_code",
            "min(TRY_CAST(BEN_NAI_ANN AS INTEGER)) AS birth_year" if "BEN_NAI_ANN" in ben else "NULL AS birth_year",
            "any_value(CAST(BEN_RES_DPT AS VARCHAR)) AS dpt" if "BEN_RES_DPT" in ben else "NULL AS dpt"]
    out = [f"CREATE TEMP TABLE st_persons AS SELECT {', '.join(cols)} FROM IR_BEN_R GROUP BY PERSON_ID"]
    if "ER_PRS_F" in tables:
        amount = ("sum(TRY_CAST(PRS_PAI_MNT AS DOUBLE))" if "PRS_PAI_MNT" in tables["ER_PRS_F"] else "NULL")
        out.append(f"CREATE TEMP TABLE st_claims AS SELECT PERSON_ID, count(*) AS n, {amount} AS amount "
                   "FROM ER_PRS_F GROUP BY PERSON_ID")
        if "EXE_SOI_DTD" in tables["ER_PRS_F"]:
            out.append("CREATE TEMP TABLE st_years AS SELECT DISTINCT PERSON_ID, "
                       "substr(CAST(EXE_SOI_DTD AS VARCHAR), 1, 4) AS year FROM ER_PRS_F WHERE EXE_SOI_DTD IS NOT NULL")
    else:
        out.append("CREATE TEMP TABLE st_claims AS SELECT NULL::VARCHAR AS PERSON_ID, 0 AS n, NULL::DOUBLE AS amount "
                   "WHERE false")
    if "T_MCOaaC" in tables:
        out.append("CREATE TEMP TABLE st_stays AS SELECT PERSON_ID, count(*) AS n FROM T_MCOaaC GROUP BY PERSON_ID")
    else:
        out.append("CREATE TEMP TABLE st_stays AS SELECT NULL::VARCHAR AS PERSON_ID, 0 AS n WHERE false")
    for kind, (table, column) in EVENTS.items():
        if table in tables:
            out.append(f"CREATE TEMP TABLE st_event_{kind} AS SELECT PERSON_ID, TRY_CAST({_q(column)} AS DATE) AS day "
                       f"FROM {table}" if column in tables[table] else
                       f"CREATE TEMP TABLE st_event_{kind} AS SELECT PERSON_ID, NULL::DATE AS day FROM {table}")
    return out


_FROM = ("FROM st_persons p LEFT JOIN st_claims c ON c.PERSON_ID = p.PERSON_ID "
         "LEFT JOIN st_stays h ON h.PERSON_ID = p.PERSON_ID")


def _data_sql(st: dict[str, Any], ref_year: int, extra: list[str] | None = None) -> tuple[str, list[str]]:
    """The per-person (per person-year with the ``year`` dimension) rows of one statistic, and its dimension
    columns (``population`` when it has none)."""
    dims = list(st.get("by", []))
    cols = ["p.PERSON_ID AS PERSON_ID"]
    names = dims or ["population"]
    cols += [f"{_dimension(d, ref_year)} AS {d}" for d in dims] or ["'all' AS population"]
    cols += extra or []
    join = " JOIN st_years y ON y.PERSON_ID = p.PERSON_ID" if "year" in dims else ""
    return f"SELECT {', '.join(cols)} {_FROM}{join}", names


def job(spec: dict[str, Any], tables: dict[str, list[str]], ref_year: int) -> dict[str, Any]:
    """What the session runs: the working tables, then per statistic its data and helper."""
    steps = []
    for i, st in enumerate(spec["statistics"]):
        kind = st["kind"]
        step: dict[str, Any] = {"kind": kind, "file": f"{i + 1:02d}_{st['name']}.csv"}
        if kind == "count":
            step["sql"], step["dims"] = _data_sql(st, ref_year)
        elif kind == "rate":
            ev = st["event"]
            step["sql"], step["dims"] = _data_sql(st, ref_year, [
                f"EXISTS (SELECT 1 FROM st_event_{ev} e WHERE e.PERSON_ID = p.PERSON_ID) AS has_event"])
        elif kind in ("mean", "quantiles"):
            step["sql"], step["dims"] = _data_sql(st, ref_year, [f"{_variable(st['variable'], ref_year)} AS value"])
            step["variable"] = st["variable"]
        elif kind == "survival":
            times = sorted(int(t) for t in st["times"])
            end = date.fromisoformat(st["follow_up_end"]).isoformat()
            ev = st["event"]
            sql, dims = _data_sql(st, ref_year)
            step["sql"] = (
                f"WITH d AS ({sql}), o AS (SELECT PERSON_ID, min(TRY_CAST(EXE_SOI_DTD AS DATE)) AS origin FROM ER_PRS_F "
                f"GROUP BY PERSON_ID), e AS (SELECT o.PERSON_ID, min(x.day) AS day FROM o JOIN st_event_{ev} x "
                f"ON x.PERSON_ID = o.PERSON_ID AND x.day > o.origin GROUP BY o.PERSON_ID), "
                f"t AS (SELECT d.*, o.origin, e.day AS event_day, DATE '{end}' - o.origin AS censor_days, "
                f"e.day - o.origin AS event_days FROM d JOIN o ON o.PERSON_ID = d.PERSON_ID "
                f"LEFT JOIN e ON e.PERSON_ID = d.PERSON_ID WHERE o.origin IS NOT NULL AND o.origin <= DATE '{end}') "
                f"SELECT *, {_binned(times)} FROM t")
            step["dims"] = dims
        elif kind == "regression":
            covs = list(st["covariates"])
            extra = [f"{_variable(st['outcome'], ref_year)} AS y"] + [f"{_variable(c, ref_year)} AS x_{c}" for c in covs]
            step["sql"], _ = _data_sql({"by": []}, ref_year, extra)
            step["x"] = [f"x_{c}" for c in covs]
        steps.append(step)
    return {"prepare": _prepare(spec, tables), "statistics": steps}


def _binned(times: list[int]) -> str:
    """Each person's time and event on the chosen grid: an event in (t[k-1], t[k]] is counted at t[k]; a person
    followed past the last time is censored there; one censored earlier at the last time they were followed."""
    last = times[-1]
    up = " ".join(f"WHEN event_days <= {t} THEN {t}" for t in times)
    down = " ".join(f"WHEN least(censor_days, {last}) >= {t} THEN {t}" for t in reversed(times))
    observed = f"(event_days IS NOT NULL AND event_days <= censor_days AND event_days <= {last})"
    return (f"CASE WHEN {observed} THEN CASE {up} END ELSE CASE {down} ELSE 0 END END AS time, "
            f"CASE WHEN {observed} THEN 1 ELSE 0 END AS event")


SCRIPT = '''\
import json

from guichet.analysis import crosstab, describe, regression, survival_table
from guichet.analysis.metadata import Cell, Metadata, write
from guichet.workspace.sandbox_api import OUTPUTS, connect

JOB = json.loads(%r)
con = connect()
for sql in JOB["prepare"]:
    con.execute(sql)


def rate(step, out):
    dims = step["dims"]
    con.execute("CREATE OR REPLACE TEMP VIEW st_rate AS " + step["sql"])
    keys = ", ".join('"' + d + '"' for d in dims)
    rows = con.execute(
        "SELECT " + keys + ", list(DISTINCT PERSON_ID ORDER BY PERSON_ID), "
        "list(DISTINCT PERSON_ID ORDER BY PERSON_ID) FILTER (WHERE has_event) FROM st_rate GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    header = [*dims, "persons", "events", "rate_per_1000"]
    cells, people, body = [], [], []
    for i, r in enumerate(rows, start=1):
        key = [str(x) for x in r[:len(dims)]]
        everyone, events = list(r[len(dims)]), list(r[len(dims) + 1] or [])
        value = round(1000.0 * len(events) / len(everyone), 1) if everyone else None
        body.append([*key, len(everyone), len(events), value])
        cells.append(Cell(row=i, column="persons", stat="count", value=len(everyone), persons=len(everyone),
                          records=len(everyone), key=key))
        people.append(everyone)
        cells.append(Cell(row=i, column="events", stat="count", value=len(events), persons=len(events),
                          records=len(events), key=key))
        people.append(events)
        cells.append(Cell(row=i, column="rate_per_1000", stat="rate", value=value, persons=len(events),
                          records=len(events), key=key))
        people.append(events)
    with open(out, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(header) + "\\n")
        for line in body:
            fh.write(",".join("" if x is None else str(x) for x in line) + "\\n")
    meta = Metadata(helper="stats.rate", parameters={"dims": dims}, kind="frequency", output=out.rsplit("/", 1)[-1],
                    sha256="", code=step["sql"], dims=dims, cells=cells, layout="long",
                    column_labels=["persons", "events", "rate_per_1000"])
    write(__import__("pathlib").Path(out), meta, people)


for step in JOB["statistics"]:
    out = OUTPUTS + "/" + step["file"]
    data = step["sql"]
    kind = step["kind"]
    if kind == "count":
        crosstab(data, step["dims"], out=out, margins=False, con=con)
    elif kind == "rate":
        rate(step, out)
    elif kind == "mean":
        crosstab(data, step["dims"], out=out, values="value", agg="mean", margins=False, con=con)
    elif kind == "quantiles":
        con.execute("CREATE OR REPLACE TEMP VIEW st_q AS SELECT *, concat_ws(' / ', "
                    + ", ".join('"' + d + '"' for d in step["dims"]) + ") AS grp FROM (" + data + ")")
        describe("SELECT PERSON_ID, grp, value AS " + step["variable"] + " FROM st_q", step["variable"], out=out,
                 by="grp", con=con)
    elif kind == "survival":
        con.execute("CREATE OR REPLACE TEMP VIEW st_s AS SELECT *, concat_ws(' / ', "
                    + ", ".join('"' + d + '"' for d in step["dims"]) + ") AS grp FROM (" + data + ")")
        survival_table("SELECT PERSON_ID, grp, time, event FROM st_s", "time", "event", out=out, group="grp",
                       con=con)
    elif kind == "regression":
        regression(data, "y", step["x"], out=out, con=con)
print("ok")
'''


def script(spec: dict[str, Any], tables: dict[str, list[str]], ref_year: int) -> str:
    return SCRIPT % json.dumps(job(spec, tables, ref_year))


def reference_year(spec: dict[str, Any], received: date) -> int:
    return date.fromisoformat(spec["reference_date"]).year if "reference_date" in spec else received.year - 1


# --- the run -------------------------------------------------------------------------------------------------

def build_extract(hub: Hub, request_id: str, spec: dict[str, Any], received: date, by: str) -> dict[str, Any]:
    """The request's minimal extract (``workspaces/<request>/``): the columns the statistics need, the criteria's
    population, every key replaced by the request's own surrogates. Its risk report is kept; a ``held`` status
    does not stop the answer (no person reads this extract: only the hub's session does)."""
    result, _built = extract.build(hub, request_id, document(request_id, spec, received), by=by)
    return result


def run_session(hub: Hub, request_id: str, code: str) -> sandbox.Outcome:
    """Run the hub's own script on the request's extract in a sandboxed session (bubblewrap, no network, the
    extract read-only, ``outputs/`` writable), as ``workspace python`` does for a researcher."""
    from guichet.custodian import custodian_for

    manifest = extract.load_manifest(hub, request_id)
    if manifest is None:
        raise Refused(f"{request_id}: no extract")
    # as workspace sessions do: the session sees its runtime read-only, so neither home may lie inside it
    for root in [*sandbox.runtime_paths(), Path("/usr/lib"), Path("/usr/lib64"), Path("/usr/bin")]:
        for what, path in (("hub home", hub.home), ("custodian home", hub.config.custodian_home)):
            if Path(path).resolve().is_relative_to(root):
                raise Refused(f"statistics answers: the {what} is inside the session's runtime ({root}); move it "
                              "out of the interpreter's and libraries' folders")
    out = outputs_dir(hub, request_id)
    shutil.rmtree(out, ignore_errors=True)  # each answer is computed afresh
    out.mkdir(parents=True, mode=0o700)
    user = sandbox.session_user(hub.config.properties)
    if user is not None:
        os.chown(out, *user)
    custodian = custodian_for(hub.config, caller="workspace")
    files = {name: {"path": f"/workspace/extract/{meta['path']}"} for name, meta in sorted(manifest["files"].items())}
    keys = {name: base64.b64encode(custodian.unwrap(meta["key_id"], meta["wrapped"])).decode("ascii")
            for name, meta in sorted(manifest["files"].items())}
    limits = sandbox.Limits.of(hub.config.properties, "python")
    try:
        outcome = sandbox.run({"mode": "python", "code": code, "files": files}, keys,
                              extract=extract.extract_dir(hub, request_id), outputs=out, user=user, limits=limits)
    finally:
        keys.clear()
    if outcome.killed:
        raise Refused(f"{request_id}: the computation was stopped past its time limit ({limits.seconds:g} s)")
    if outcome.exit != 0:
        last = outcome.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        # the script is the hub's: its last line names the failure (never a value of the data: the helpers' errors
        # name columns and rules)
        raise Refused(f"{request_id}: the computation failed ({last[0][:200]})")
    return outcome


@dataclass
class Table:
    """One statistic's file after the checks."""

    name: str
    kind: str
    source: Path  # as the session wrote it
    final: Path  # what would be released (the suppressed copy when cells were withheld)
    status: str
    withheld: list[dict[str, Any]] = field(default_factory=list)  # {"row", "column", "why"}
    notes: list[str] = field(default_factory=list)
    dims: str = ""
    cells: list[ledger.Cell] = field(default_factory=list)  # the released cells, with their hub persons
    check: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "file": self.final.name, "status": self.status,
                "withheld": self.withheld, "notes": self.notes,
                "released_cells": len(self.cells), "check": self.check}


def _withheld_pairs(meta: dict[str, Any] | None) -> set[tuple[int, str]]:
    extra = (meta or {}).get("extra") or {}
    out: set[tuple[int, str]] = set()
    for w in extra.get("withheld", []):
        if isinstance(w, dict):
            out.add((int(w.get("row", 0)), str(w.get("column"))))
        elif isinstance(w, list | tuple) and len(w) == 2:
            out.add((int(w[0]), str(w[1])))
    return out


def released_cells(hub: Hub, project: str, path: Path) -> tuple[str, list[ledger.Cell], int]:
    """The dimensions and the not-withheld cells of a helper-written table, with their hub persons (the
    ledger's own reading, ``ledger.output_cells``, then the withheld cells left out by their row and column)."""
    found = ledger.output_cells(path)
    if found is None:
        return "", [], 0
    dims, cells = found
    meta = md.read(path) or {}
    gone = _withheld_pairs(meta)
    meta_cells = meta.get("cells") or []
    kept = [(i, label, people) for i, label, people in cells
            if i < len(meta_cells) and (int(meta_cells[i]["row"]), str(meta_cells[i]["column"])) not in gone
            and meta_cells[i].get("value") is not None]
    hub_cells, unmapped = ledger.to_hub(hub, project, kept)
    return dims, hub_cells, unmapped


def _withhold(path: Path, cells: set[tuple[int, str]]) -> None:
    """Leave ``cells`` (row, column) empty in a helper-written table and list them as withheld in its sidecar
    (as ``airlock.check.write_suppressed`` does for the cells its rules fail)."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    idx = {h: j for j, h in enumerate(header)}
    for row, column in cells:
        if 0 < row <= len(body) and column in idx:
            body[row - 1][idx[column]] = ""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)
    meta = md.read(path)
    if meta is None:
        return
    extra = dict(meta.get("extra") or {})
    extra["withheld"] = sorted([r, c] for r, c in _withheld_pairs(meta) | cells)
    meta["extra"] = extra
    meta["sha256"] = md.sha256(path)
    for cell in meta.get("cells", []):
        if (int(cell["row"]), str(cell["column"])) in cells:
            cell["value"] = None
    md.meta_path(path).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _apart(a: np.ndarray, b: np.ndarray) -> int:
    return len(np.setxor1d(a, b, assume_unique=True))


def derivable(cell: ledger.Cell, earlier: list[tuple[str, ledger.Cell]], threshold: int) -> str | None:
    """Why ``cell`` may not be released beside the answer's earlier cells (None: it may): its persons differ
    from one of them by at least one and fewer than ``threshold`` persons (the difference of the two would
    describe that small group)."""
    for other_label, other in earlier:
        d = _apart(cell.keys, other.keys)
        if 0 < d < threshold:
            return f"differencing: {d} person(s) apart from {other_label} of this answer"
    return None


def _empty(path: Path) -> bool:
    with path.open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip()) <= 1


def screen(cells: list[ledger.Cell], flags: dict[int, dict[str, Any]], earlier: list[tuple[str, ledger.Cell]],
           threshold: int, name: str) -> tuple[list[ledger.Cell], list[tuple[ledger.Cell, str]]]:
    """The cells of one table that may be released (and those withheld, with why): a cell the ledger flagged,
    or one 1 to ``threshold - 1`` persons apart from a cell kept before it — of the answer's earlier tables or
    of this table (a rate's persons with the event beside all the group's persons: the ones without it)."""
    keep: list[ledger.Cell] = []
    held: list[tuple[ledger.Cell, str]] = []
    for cell in cells:
        if cell.index in flags:
            f = flags[cell.index]
            why: str | None = f"differencing: {f['apart']} person(s) apart from {f['against']}"
        else:
            why = derivable(cell, [*earlier, *((f"{name} {c.label}", c) for c in keep)], threshold)
        if why is None:
            keep.append(cell)
        else:
            held.append((cell, why))
    return keep, held


def survival_drops(path: Path, threshold: int) -> set[tuple[int, str]]:
    """The at-risk counts (and their row's estimate) of a survival table to withhold: between two released
    at-risk counts of a group, the persons who left the risk set (events and censorings, withheld or not) must
    be none or at least ``threshold`` — else the difference tells a small group's events."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out: set[tuple[int, str]] = set()
    last: dict[str, int] = {}
    for i, row in enumerate(rows, start=1):
        group, text = row.get("grp", ""), (row.get("at_risk") or "").strip()
        if not text:
            continue
        value = int(float(text))
        before = last.get(group)
        if before is not None and 0 < before - value < threshold:
            out |= {(i, "at_risk"), (i, "survival")}
            continue
        last[group] = value
    return out


def check_answer(hub: Hub, session: Any, request_id: str, spec: dict[str, Any]) -> list[Table]:
    """The airlock's checks of every table of the answer, in order: the rule set's per-cell rules (failing
    cells withheld with the airlock's suppression), then each remaining cell against the ledger (released cells
    of every project, their unions and differences) and against the cells of the answer's earlier tables; a
    flagged cell is withheld too, with why."""
    properties = dict(hub.config.properties or {})
    ruleset = load(DEFAULT, properties)
    project = project_of(request_id)
    out_dir = outputs_dir(hub, request_id)
    tables: list[Table] = []
    earlier: list[tuple[str, ledger.Cell]] = []
    for i, st in enumerate(spec["statistics"]):
        source = out_dir / f"{i + 1:02d}_{st['name']}.csv"
        if not source.is_file():
            raise Refused(f"{request_id}: the computation wrote no table for statistic {st['name']}")
        final = out_dir / f"{st['name']}.csv"
        if _empty(source):  # nobody in the population (or no row for this statistic): nothing to release
            tables.append(Table(st["name"], st["kind"], source, source, "empty",
                                notes=["no person in the population: nothing to release"]))
            continue
        result = check_file(source, DEFAULT, properties)
        withheld: list[dict[str, Any]] = []
        failing = [c for c in result.cells if c.verdict == "fail"]
        if failing:
            try:
                result = write_suppressed(source, final, DEFAULT, properties)
            except GuichetError as exc:
                raise Refused(f"{request_id}: statistic {st['name']} cannot be suppressed ({exc.message})") from None
            withheld += [{"row": c.row, "column": c.column, "why": sorted(set(c.reasons))} for c in failing]
        else:
            shutil.copyfile(source, final)
            meta = md.read(source)
            if meta is not None:
                meta["output"] = final.name
                md.meta_path(final).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            if md.persons_path(source).is_file():
                shutil.copyfile(md.persons_path(source), md.persons_path(final))
        if md.persons_path(source).is_file() and not md.persons_path(final).is_file():
            shutil.copyfile(md.persons_path(source), md.persons_path(final))
        table = Table(st["name"], st["kind"], source, final, result.status, withheld, list(result.notes))
        dims, cells, unmapped = released_cells(hub, project, final)
        if unmapped:
            table.notes.append(f"differencing ledger: {unmapped} person(s) not in the hub's current person index "
                               "were not compared")
        flags = {f["cell"]: f for f in ledger.flags(session, project, dims, cells, ruleset.threshold)}
        meta_cells = (md.read(final) or {}).get("cells") or []
        keep, held = screen(cells, flags, earlier, ruleset.threshold, st["name"])
        gone: set[tuple[int, str]] = set()
        for cell, why in held:
            where = (int(meta_cells[cell.index]["row"]), str(meta_cells[cell.index]["column"]))
            gone.add(where)
            withheld.append({"row": where[0], "column": where[1], "why": [why]})
        if gone:
            _withhold(final, gone)
            result = check_file(final, DEFAULT, properties)
        for _ in range(5):  # a cell failing only because another was withheld (a survival step) goes too
            more = {(c.row, c.column) for c in result.cells if c.verdict == "fail" and c.value.strip()}
            drops = survival_drops(final, ruleset.threshold) if st["kind"] == "survival" else set()
            if not more and not drops:
                break
            _withhold(final, more | drops)
            withheld += [{"row": r, "column": c, "why": ["withheld with its row"]} for r, c in sorted(more - drops)]
            withheld += [{"row": r, "column": c, "why": [f"the persons leaving the risk set since the last released "
                                                         f"step are fewer than {ruleset.threshold}"]}
                         for r, c in sorted(drops)]
            more |= drops
            keep = [c for c in keep if (int(meta_cells[c.index]["row"]), str(meta_cells[c.index]["column"])) not in more]
            result = check_file(final, DEFAULT, properties)
        table.status = result.status
        table.check = {"status": result.status, "threshold": result.threshold, "rules": result.rules,
                       "counts": result.to_dict()["counts"], "reasons": result.reasons}
        table.dims, table.cells = dims, keep
        earlier += [(f"{st['name']} {c.label}", c) for c in keep]
        tables.append(table)
    return tables


def publish(hub: Hub, request_id: str, names: list[str]) -> list[str]:
    """Copy the answer's final tables (never a sidecar, never a persons file) to ``<home>/outputs/stats/<request>/``
    with the airlock's safe copy; answers their absolute paths."""
    from guichet.airlock.safe import copy_safe

    target = released_dir(hub, request_id)
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        source = outputs_dir(hub, request_id) / name
        dest = target / name
        copy_safe(source, dest)
        out.append(str(dest.resolve()))
    return out


def minimal(spec: dict[str, Any]) -> dict[str, list[str]]:
    return needs(spec).tables
